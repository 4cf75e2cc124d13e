-- Runs one case of cases.lua in this (headless) Neovim and writes the
-- result to $HOTLOAD_TEST_RESULT: "ok", or "FAIL: why" and what the
-- plugin showed (output buffer, quickfix list, notifications). Then exits:
-- 0 when the case passed. $HOTLOAD_TEST_CASE=--list writes the names of
-- the cases instead.
local T = {}

T.dir = os.getenv('HOTLOAD_TEST_DIR')
T.socket = os.getenv('HOTLOAD_TEST_SOCKET')
T.hotloadctl = os.getenv('HOTLOAD_TEST_CTL')
T.packpath = os.getenv('HOTLOAD_TEST_PACKPATH')
local result_path = os.getenv('HOTLOAD_TEST_RESULT')
local case = os.getenv('HOTLOAD_TEST_CASE')

-- Notifications, as a user's vim.notify replacement would get them.
T.notes = {}
vim.notify = function(msg, level)
  table.insert(T.notes, { msg = msg, level = level or vim.log.levels.INFO })
end

local Failure = {}

function T.fail(fmt, ...)
  error(setmetatable({ msg = string.format(fmt, ...) }, Failure), 2)
end

function T.ok(cond, fmt, ...)
  if not cond then
    T.fail(fmt, ...)
  end
end

function T.eq(got, want, what)
  if not vim.deep_equal(got, want) then
    T.fail('%s: expected %s, got %s', what, vim.inspect(want), vim.inspect(got))
  end
end

-- Waits (processing events, as Neovim does while the user types) until
-- cond() holds, at most ms milliseconds.
function T.wait(what, cond, ms)
  if not vim.wait(ms or 30000, cond, 10) then
    T.fail('timed out waiting for %s', what)
  end
end

function T.hotload()
  return require('hotload')
end

-- Waits for the running request to end.
function T.idle(ms)
  T.wait('the request to end', function()
    return T.hotload().job() == nil
  end, ms)
end

function T.output()
  return require('hotload.output').lines()
end

-- The index of the first output line matching the Lua pattern, or nil.
function T.find(pattern, from)
  for i, l in ipairs(T.output()) do
    if i >= (from or 1) and l:match(pattern) then
      return i
    end
  end
  return nil
end

function T.has_output(pattern, from)
  local i = T.find(pattern, from)
  T.ok(i ~= nil, 'no output line matches %q', pattern)
  return i
end

-- The highlight groups on output line i (1-based).
function T.highlights(i)
  local out = require('hotload.output')
  local marks = vim.api.nvim_buf_get_extmarks(out.buf(), out.ns, { i - 1, 0 }, { i - 1, -1 }, { details = true })
  local groups = {}
  for _, m in ipairs(marks) do
    table.insert(groups, m[4].hl_group)
  end
  return groups
end

-- The notifications at level whose text matches pattern.
function T.notes_matching(pattern, level)
  local found = {}
  for _, n in ipairs(T.notes) do
    if n.msg:match(pattern) and (level == nil or n.level == level) then
      table.insert(found, n)
    end
  end
  return found
end

function T.errors()
  return T.notes_matching('.', vim.log.levels.ERROR)
end

function T.write(path, text)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ':h'), 'p')
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
end

function T.read(path)
  local f = assert(io.open(path, 'r'))
  local s = f:read('*a')
  f:close()
  return s
end

-- The plugin set up for the test daemon, with extra options.
function T.setup(extra)
  T.hotload().setup(vim.tbl_extend('force', { hotloadctl = T.hotloadctl, socket = T.socket }, extra or {}))
end

-- Sets the buffer's lines (a string of lines).
function T.set_lines(text, buf)
  vim.api.nvim_buf_set_lines(buf or 0, 0, -1, false, vim.split(text, '\n', { plain = true }))
end

-- The quickfix list as {file, lnum, text, type}, file a real path.
function T.qf()
  local items = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    local name = it.bufnr > 0 and vim.api.nvim_buf_get_name(it.bufnr) or ''
    table.insert(items, {
      file = name ~= '' and vim.fn.resolve(vim.fn.fnamemodify(name, ':p')) or '',
      bufnr = it.bufnr,
      lnum = it.lnum,
      text = it.text,
      type = it.type,
    })
  end
  return items
end

function T.real(path)
  return vim.fn.resolve(vim.fn.fnamemodify(path, ':p'))
end

local function report()
  local lines = { '--- output buffer:' }
  local ok, out = pcall(T.output)
  vim.list_extend(lines, ok and out or { '(none: ' .. tostring(out) .. ')' })
  table.insert(lines, '--- quickfix: ' .. vim.inspect(T.qf()))
  table.insert(lines, '--- notifications: ' .. vim.inspect(T.notes))
  local msgs = vim.api.nvim_exec('messages', true)
  table.insert(lines, '--- :messages:\n' .. msgs)
  return table.concat(lines, '\n')
end

local function finish(text, status)
  local f = assert(io.open(result_path, 'w'))
  f:write(text)
  f:close()
  vim.cmd(status == 0 and 'qall!' or ('cquit ' .. status))
end

local cases = dofile(os.getenv('HOTLOAD_TEST_CASES'))(T)

if case == '--list' then
  local names = {}
  for _, c in ipairs(cases) do
    table.insert(names, c[1])
  end
  finish(table.concat(names, '\n') .. '\n', 0)
  return
end

local fn
for _, c in ipairs(cases) do
  if c[1] == case then
    fn = c[2]
  end
end
if not fn then
  finish('FAIL: no case ' .. tostring(case), 1)
  return
end

local ok, err = xpcall(fn, function(e)
  if getmetatable(e) == Failure then
    return 'FAIL: ' .. e.msg .. '\n' .. debug.traceback('', 2)
  end
  return 'ERROR: ' .. tostring(e) .. '\n' .. debug.traceback('', 2)
end)
if ok then
  finish('ok\n', 0)
else
  finish(err .. '\n' .. report() .. '\n', 1)
end
