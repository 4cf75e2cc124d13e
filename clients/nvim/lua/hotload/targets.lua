-- The target picker: the installed DCC versions the daemon knows
-- (hotloadctl list --json) with the state of their workers (hotloadctl
-- status --json), offered through vim.ui.select.
local ctl = require('hotload.ctl')

local M = {}

-- A target's state in a few words: its workers' states ("idle", "busy",
-- "idle, busy"), "failed", "backoff", "stopped" (no worker), or
-- "not started" when the daemon has no such target yet.
function M.state(t)
  if not t then
    return 'not started'
  end
  if t.state == 'failed' or t.state == 'backoff' then
    return t.state
  end
  local states = {}
  for _, w in ipairs(t.workers or {}) do
    table.insert(states, w.state)
  end
  if #states == 0 then
    return 'stopped'
  end
  return table.concat(states, ', ')
end

-- The picker's items from list's hooks and status' object: one per
-- installed version, {target = "python:3", hook, version, state, label}.
function M.items(hooks, status, current)
  local known = {}
  for _, t in ipairs(type(status) == 'table' and status.targets or {}) do
    if t.retired ~= true and type(t.hook) == 'string' and type(t.version) == 'string' then
      known[t.hook .. ':' .. t.version] = t
    end
  end
  local items = {}
  for _, h in ipairs(hooks) do
    for _, inst in ipairs(type(h.installs) == 'table' and h.installs or {}) do
      local target = h.name .. ':' .. inst.version
      local state = M.state(known[target])
      local label = string.format('%-18s %s', target, state)
      if target == current then
        label = label .. '  (current)'
      end
      table.insert(items, {
        target = target,
        hook = h.name,
        version = inst.version,
        path = inst.path,
        state = state,
        label = label,
      })
    end
  end
  return items
end

-- Decodes hotloadctl's JSON output; nil and a message when it is not.
local function decode(what, text)
  local ok, v = pcall(vim.json.decode, text)
  if not ok or type(v) ~= 'table' then
    return nil, string.format('hotloadctl %s --json printed no JSON: %s', what, text:sub(1, 200))
  end
  return v
end

-- Calls cb(items) or cb(nil, message) with the picker's items.
function M.fetch(cfg, current, cb)
  local job, msg = ctl.collect(cfg, { 'list', '--json' }, function(code, out, errs)
    if code ~= ctl.EXIT_OK then
      cb(nil, ctl.failure(code, errs))
      return
    end
    local hooks, err = decode('list', out)
    if not hooks then
      cb(nil, err)
      return
    end
    -- status exits 1 when a target failed; its JSON is there all the same
    local sjob, smsg = ctl.collect(cfg, { 'status', '--json' }, function(scode, sout)
      local status = (scode == ctl.EXIT_OK or scode == ctl.EXIT_FAILED) and decode('status', sout) or nil
      cb(M.items(hooks, status, current))
    end)
    if not sjob then
      cb(nil, smsg)
    end
  end)
  if not job then
    cb(nil, msg)
  end
end

-- Lets the user pick a target with vim.ui.select; cb(target) with the
-- choice, cb(nil) when there was none (cancelled, or an error, which is
-- notified).
function M.pick(cfg, current, notify, cb)
  M.fetch(cfg, current, function(items, err)
    if not items then
      notify(err, vim.log.levels.ERROR)
      cb(nil)
      return
    end
    if #items == 0 then
      notify('hotloadd finds no installed interpreter of any of its hooks (hotloadctl list)', vim.log.levels.WARN)
      cb(nil)
      return
    end
    vim.ui.select(items, {
      prompt = 'hotload target',
      kind = 'hotload.target',
      format_item = function(item)
        return item.label
      end,
    }, function(choice)
      cb(choice and choice.target or nil)
    end)
  end)
end

-- Command-line completion of a target: every hook's name and
-- name:version of its installs (asks the daemon; nothing when it is not
-- running).
function M.complete(cfg, arglead)
  local code, out = ctl.collect_sync(cfg, { 'list', '--json' }, 2000)
  if code ~= ctl.EXIT_OK then
    return {}
  end
  local hooks = decode('list', out)
  local names = {}
  for _, h in ipairs(hooks or {}) do
    table.insert(names, h.name)
    for _, inst in ipairs(type(h.installs) == 'table' and h.installs or {}) do
      table.insert(names, h.name .. ':' .. inst.version)
    end
  end
  return vim.tbl_filter(function(n)
    return vim.startswith(n, arglead or '')
  end, names)
end

return M
