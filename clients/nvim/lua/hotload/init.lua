-- hotload for Neovim: run the buffer, or lines of it, in a warm DCC
-- interpreter that hotloadd keeps (Maya's mayapy, Houdini's hython,
-- Blender, CPython), with the output streaming into a scratch window and
-- tracebacks in the quickfix list. See :help hotload.
--
-- Every request goes through hotloadctl (run as a job, with --json for
-- the daemon's event lines): it finds the daemon, checks the socket's
-- directory, interrupts on SIGINT and reports failures by exit status, so
-- the plugin has no protocol code of its own.
local ctl = require('hotload.ctl')
local output = require('hotload.output')
local traceback = require('hotload.traceback')
local targets = require('hotload.targets')
local pymodule = require('hotload.pymodule')

local M = {}

M.defaults = {
  -- the hotloadctl program: a name on $PATH or a path
  hotloadctl = 'hotloadctl',
  -- the daemon's Unix socket (hotloadctl --socket); nil: hotloadctl's
  -- default ($HOTLOAD_SOCKET, $HOTLOAD_TCP, then the default socket)
  socket = nil,
  -- more options for every hotloadctl command, e.g. { '--tcp', 'host:7720' }
  args = {},
  -- the target to start with ("python:3", "blender", "mayapy:2024");
  -- nil: the first run asks (:HotloadTarget)
  target = nil,
  -- after :write of a .py file, reload its module in the target
  reload_on_save = false,
  -- open the quickfix window when a run's traceback has local frames
  open_quickfix = true,
  -- the Ex command that opens the output window
  split = 'botright 12split',
  -- seconds a run may take (hotloadctl exec --timeout); nil: the hook's
  timeout = nil,
}

M.config = vim.deepcopy(M.defaults)

-- The session's state: the target, and the request running (one at a
-- time; a reload-on-save that comes while one runs waits for it).
local state = { target = nil, run = nil, pending_reload = nil }

local function notify(msg, level)
  vim.notify('hotload: ' .. msg, level or vim.log.levels.INFO, { title = 'hotload' })
end

-- "1.8 ms", "2.31 s".
local function duration(ms)
  if type(ms) ~= 'number' then
    return nil
  end
  if ms < 1000 then
    return string.format('%.1f ms', ms)
  end
  return string.format('%.2f s', ms / 1000)
end

local function first_line(s)
  return (tostring(s or ''):match('^[^\n]*'))
end

local waiting_text = {
  starting = 'starting a worker of %s...',
  queued = 'waiting for a free worker of %s...',
  backoff = '%s waits to restart after a crash...',
}

-- Shows one module of a reloaded event ("mytools.core: reloaded", with
-- the note, or the error and traceback of a failed one).
local function show_module(run, m)
  local line = string.format('%s: %s', tostring(m.module), tostring(m.status))
  if type(m.note) == 'string' and m.note ~= '' then
    line = line .. ' (' .. m.note .. ')'
  end
  if m.status == 'failed' and type(m.error) == 'table' then
    output.write(nil, string.format('%s: %s: %s', line, tostring(m.error.type), first_line(m.error.message)), 'HotloadError')
    if type(m.error.traceback) == 'string' and m.error.traceback ~= '' then
      output.error(m.error.traceback)
      table.insert(run.tracebacks, m.error.traceback)
    end
    table.insert(run.failed, tostring(m.module))
  else
    output.info(line)
    if m.status == 'reloaded' then
      table.insert(run.reloaded, tostring(m.module))
    end
  end
end

-- One event line of hotloadctl --json.
local function on_event(run, ev)
  local kind = ev.event
  if kind == 'stdout' or kind == 'stderr' then
    if type(ev.data) == 'string' then
      output.write(kind, ev.data, kind == 'stderr' and 'HotloadStderr' or nil)
    end
  elseif kind == 'waiting' then
    output.info(string.format(waiting_text[ev.state] or ('waiting (' .. tostring(ev.state) .. ') for %s...'), run.target))
  elseif kind == 'reloaded' then
    for _, m in ipairs(type(ev.modules) == 'table' and ev.modules or {}) do
      show_module(run, m)
    end
  elseif kind == 'done' then
    -- the answer to the interrupt hotloadctl sends on SIGINT is a done
    -- too, with "interrupted"; the request's own done never has it
    if ev.interrupted == nil then
      run.done = ev
    end
  elseif kind == 'error' then
    run.error = ev.error
  elseif kind == 'text' then
    output.info(ev.data)
  end
end

-- After a request: the done line, the traceback into the quickfix list,
-- and whatever went wrong notified.
local function finish(run, code, stderr)
  state.run = nil
  local done = run.done
  local title = string.format('hotload: %s %s', run.target, run.what)
  if not done and code == ctl.EXIT_INTERRUPTED and run.interrupted then
    -- interrupted twice: hotloadctl stopped waiting for the code
    output.footer('-- interrupted: no longer waiting; the code may still run in the worker --', false)
  elseif not done then
    local msg = ctl.failure(code, stderr)
    if type(run.error) == 'table' and code ~= ctl.EXIT_REFUSED then
      msg = string.format('%s: %s', tostring(run.error.type), tostring(run.error.message))
    end
    output.footer('-- not done: ' .. first_line(msg) .. ' --', false)
    notify(msg, vim.log.levels.ERROR)
  else
    local took = duration(done.duration_ms)
    local err = type(done.error) == 'table' and done.error or {}
    if done.ok then
      output.footer(took and ('-- ok in ' .. took .. ' --') or '-- ok --', true)
    else
      if type(err.traceback) == 'string' and err.traceback ~= '' then
        output.error(err.traceback)
        table.insert(run.tracebacks, err.traceback)
      end
      local why = tostring(err.type or 'error')
      if err.message ~= nil and err.message ~= vim.NIL and err.message ~= '' then
        why = why .. ': ' .. first_line(err.message)
      end
      if run.interrupted then
        why = 'interrupted: ' .. why
      end
      output.footer('-- ' .. why .. (took and (' (' .. took .. ')') or '') .. ' --', false)
    end
    if run.on_done then
      run.on_done(run, done, err)
    end
  end
  -- the quickfix list: the traceback's frames in files here; not for a
  -- run the user interrupted (the KeyboardInterrupt is no place to go to)
  local items = {}
  if not run.interrupted then
    for _, tb in ipairs(run.tracebacks) do
      vim.list_extend(items, traceback.items(tb, run.bufs))
    end
  end
  if #items > 0 then
    traceback.set(items, title)
    if M.config.open_quickfix then
      local win = vim.api.nvim_get_current_win()
      vim.cmd('copen')
      if vim.api.nvim_win_is_valid(win) then
        vim.api.nvim_set_current_win(win)
      end
    end
  elseif done then
    traceback.clear(title)
  end
  if state.pending_reload then
    local p = state.pending_reload
    state.pending_reload = nil
    vim.schedule(function()
      M.reload(p)
    end)
  end
end

-- Starts one hotloadctl --json request: spec.target, spec.what (for the
-- header), spec.args, spec.stdin, spec.bufs (names given to code sent from
-- buffers → buffer), spec.show (open the output window), spec.on_done.
local function request(spec)
  local run = {
    target = spec.target,
    what = spec.what,
    bufs = spec.bufs or {},
    tracebacks = {},
    reloaded = {},
    failed = {},
    on_done = spec.on_done,
  }
  output.header(string.format('-- %s %s: %s --', os.date('%H:%M:%S'), spec.target, spec.what))
  if spec.show then
    output.show(M.config)
  end
  local job, msg = ctl.start(M.config, spec.args, {
    stdin = spec.stdin,
    on_event = function(ev)
      on_event(run, ev)
    end,
    on_stderr = function(line)
      output.info(line)
    end,
    on_exit = function(code, stderr)
      finish(run, code, stderr)
    end,
  })
  if not job then
    output.footer('-- not run: ' .. msg .. ' --', false)
    notify(msg, vim.log.levels.ERROR)
    return nil
  end
  run.job = job
  state.run = run
  return run
end

-- The common leading white space of the non-blank lines removed, so that
-- an indented selection (a function's body) runs at the top level.
local function dedent(lines)
  local prefix
  for _, l in ipairs(lines) do
    if l:match('%S') then
      local ws = l:match('^[ \t]*')
      if prefix == nil then
        prefix = ws
      else
        local n = 0
        while n < #prefix and n < #ws and prefix:sub(n + 1, n + 1) == ws:sub(n + 1, n + 1) do
          n = n + 1
        end
        prefix = prefix:sub(1, n)
      end
    end
  end
  if not prefix or prefix == '' then
    return lines
  end
  local out = {}
  for i, l in ipairs(lines) do
    out[i] = l:sub(1, #prefix) == prefix and l:sub(#prefix + 1) or l
  end
  return out
end

-- The name tracebacks give to code sent from buffer buf.
local function buffer_file(buf)
  local name = vim.api.nvim_buf_get_name(buf)
  if name == '' then
    return string.format('<nvim-buffer-%d>', buf)
  end
  return name
end

local function exec_args(target, extra)
  local args = { 'exec', '--json' }
  if M.config.timeout then
    vim.list_extend(args, { '--timeout', tostring(M.config.timeout) })
  end
  vim.list_extend(args, extra)
  return args
end

-- Runs the current buffer (opts.buf), or its lines opts.line1..opts.line2,
-- in opts.target or the session's target (asking for one when there is
-- none). A saved, unmodified file is run as its file (hotloadctl exec
-- FILE: __file__, its directory on sys.path, tracebacks naming it);
-- anything else is sent on stdin with --file naming the buffer's file, and
-- a range is padded so that line numbers in tracebacks are the buffer's.
function M.run(opts)
  opts = opts or {}
  local target = opts.target or state.target
  if not target then
    M.pick_target(function(t)
      M.run(vim.tbl_extend('force', opts, { target = t }))
    end)
    return
  end
  if state.run then
    notify(string.format('a request is still running in %s (:HotloadInterrupt stops it)', state.run.target), vim.log.levels.WARN)
    return
  end
  local buf = opts.buf or vim.api.nvim_get_current_buf()
  if buf == output.buf() then
    notify('this is the output window: run from a buffer of code', vim.log.levels.WARN)
    return
  end
  local name = vim.api.nvim_buf_get_name(buf)
  local spec = { target = target, show = true }
  if opts.line1 then
    local lines = dedent(vim.api.nvim_buf_get_lines(buf, opts.line1 - 1, opts.line2, false))
    local file = buffer_file(buf)
    spec.what = string.format('%s lines %d-%d', vim.fn.fnamemodify(file, ':~:.'), opts.line1, opts.line2)
    spec.args = exec_args(target, { '--file', file, target, '-' })
    spec.stdin = string.rep('\n', opts.line1 - 1) .. table.concat(lines, '\n') .. '\n'
    spec.bufs = { [file] = buf }
  elseif
    name ~= ''
    and vim.api.nvim_buf_get_option(buf, 'buftype') == ''
    and not vim.api.nvim_buf_get_option(buf, 'modified')
    and vim.fn.filereadable(name) == 1
  then
    spec.what = vim.fn.fnamemodify(name, ':~:.')
    spec.args = exec_args(target, { target, vim.fn.fnamemodify(name, ':p') })
  else
    local file = buffer_file(buf)
    spec.what = vim.fn.fnamemodify(file, ':~:.') .. (name ~= '' and ' (unsaved)' or '')
    spec.args = exec_args(target, { '--file', file, target, '-' })
    spec.stdin = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
    spec.bufs = { [file] = buf }
  end
  return request(spec)
end

-- Runs lines line1..line2 of the current buffer (:'<,'>HotloadRunSelection).
function M.run_range(line1, line2, opts)
  return M.run(vim.tbl_extend('force', opts or {}, { line1 = line1, line2 = line2 }))
end

-- Interrupts the run of this Neovim (SIGINT to its hotloadctl, which asks
-- the daemon to interrupt exactly that request; the worker stays warm).
-- opts.all: every request running in the target, whoever sent it
-- (hotloadctl interrupt TARGET).
function M.interrupt(opts)
  opts = opts or {}
  if opts.all then
    local target = opts.target or state.target
    if not target then
      notify('no target yet (:HotloadTarget)', vim.log.levels.WARN)
      return
    end
    local job, msg = ctl.collect(M.config, { 'interrupt', target }, function(code, out, errs)
      if code == ctl.EXIT_OK then
        local said = vim.trim(out) ~= '' and vim.trim(out) or ctl.message(errs)
        notify(said)
      else
        notify(ctl.failure(code, errs), vim.log.levels.ERROR)
      end
    end)
    if not job then
      notify(msg, vim.log.levels.ERROR)
    end
    return
  end
  local run = state.run
  if not run then
    notify('nothing of this Neovim is running; :HotloadInterrupt! interrupts whatever runs in the target', vim.log.levels.INFO)
    return
  end
  if run.interrupted then
    -- a second one: hotloadctl stops waiting at once (the code goes on in
    -- the worker, its output discarded)
    output.info('interrupted again: not waiting for the code any longer')
  else
    output.info('interrupting...')
  end
  run.interrupted = true
  vim.loop.kill(run.job.pid, 'sigint')
end

-- Reloads modules in the target (hotloadctl reload-modules): opts.modules,
-- or the module of opts.file (default: the current buffer's file), found
-- from its nearest package root. opts.purge forgets them instead.
-- opts.quiet (reload on save): no window, no picker; a notification says
-- what was reloaded or failed.
function M.reload(opts)
  opts = opts or {}
  local target = opts.target or state.target
  if not target then
    if opts.quiet then
      return
    end
    M.pick_target(function(t)
      M.reload(vim.tbl_extend('force', opts, { target = t }))
    end)
    return
  end
  local modules = opts.modules
  if not modules or #modules == 0 then
    local mod, why = pymodule.of(opts.file or vim.api.nvim_buf_get_name(0))
    if not mod then
      notify(why, vim.log.levels.ERROR)
      return
    end
    modules = { mod }
  end
  if state.run then
    if opts.quiet then
      state.pending_reload = vim.tbl_extend('force', opts, { target = target, modules = modules })
    else
      notify(string.format('a request is still running in %s (:HotloadInterrupt stops it)', state.run.target), vim.log.levels.WARN)
    end
    return
  end
  local args = { 'reload-modules', '--json' }
  if opts.purge then
    table.insert(args, '--purge')
  end
  table.insert(args, target)
  vim.list_extend(args, modules)
  return request({
    target = target,
    what = (opts.purge and 'purge ' or 'reload ') .. table.concat(modules, ' '),
    args = args,
    show = not opts.quiet,
    on_done = function(run, done, err)
      if not opts.quiet then
        return
      end
      if not done.ok then
        notify(string.format('%s: %s: %s', target, tostring(err.type), first_line(err.message)), vim.log.levels.ERROR)
      elseif #run.reloaded > 0 then
        notify(string.format('%s: reloaded %s', target, table.concat(run.reloaded, ', ')))
      end
    end,
  })
end

-- Sets the session's target ("python:3"), as :HotloadTarget TARGET does.
function M.set_target(target, quiet)
  local valid = type(target) == 'string'
    and (target:match('^[%w._+-]+$') ~= nil or target:match('^[%w._+-]+:[%w._+-]+$') ~= nil)
  if not valid then
    notify(string.format("'%s' is not a target: DCC or DCC:VERSION, e.g. python:3 or blender", tostring(target)), vim.log.levels.ERROR)
    return false
  end
  state.target = target
  if not quiet then
    notify('target ' .. target)
  end
  return true
end

-- The session's target, or nil.
function M.target()
  return state.target
end

-- Lets the user pick the target with vim.ui.select (installed versions
-- of every hook, with their workers' state); cb(target) after a choice.
function M.pick_target(cb)
  targets.pick(M.config, state.target, notify, function(t)
    if t and M.set_target(t) and cb then
      cb(t)
    end
  end)
end

-- Opens or closes the output window.
function M.toggle_output()
  output.toggle(M.config)
end

-- The running request's job ({id, pid}), or nil.
function M.job()
  return state.run and state.run.job or nil
end

local augroup

-- Configures the plugin; see M.defaults and :help hotload-setup. May be
-- called again: options not given keep their defaults.
function M.setup(opts)
  opts = opts or {}
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  if opts.target then
    M.set_target(opts.target, true)
  end
  augroup = vim.api.nvim_create_augroup('hotload', { clear = true })
  if M.config.reload_on_save then
    vim.api.nvim_create_autocmd('BufWritePost', {
      group = augroup,
      pattern = '*.py',
      desc = 'hotload: reload the saved module in the target',
      callback = function(ev)
        if state.target then
          M.reload({ file = vim.api.nvim_buf_get_name(ev.buf), quiet = true })
        end
      end,
    })
  end
end

return M
