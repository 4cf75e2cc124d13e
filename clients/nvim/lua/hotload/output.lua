-- The output window: one scratch buffer, "hotload://output", that every
-- run appends to as the daemon's events arrive.
--
-- stdout is plain text; stderr, tracebacks, hotloadctl's notes and the
-- header and done lines of each run are highlighted (extmarks in the
-- "hotload" namespace), so the text itself is exactly what the code
-- printed and can be copied as it is.
local M = {}

M.NAME = 'hotload://output'
M.ns = vim.api.nvim_create_namespace('hotload')

-- The highlight groups; users may define them first (":hi HotloadStderr ...").
local groups = {
  HotloadHeader = 'Title',
  HotloadInfo = 'Comment',
  HotloadStderr = 'WarningMsg',
  HotloadError = 'ErrorMsg',
  HotloadOk = 'MoreMsg',
}
for group, link in pairs(groups) do
  vim.cmd(string.format('highlight default link %s %s', group, link))
end

-- The buffer, the stream of its last line while that line has no newline
-- yet (more of the same stream continues it), and whether anything was
-- written (an empty buffer's first line is replaced, not appended to).
local state = { buf = nil, open = nil, written = false }

-- The output buffer, made again when it was wiped.
function M.buf()
  local buf = state.buf
  if buf and vim.api.nvim_buf_is_valid(buf) then
    if not vim.api.nvim_buf_is_loaded(buf) then
      vim.fn.bufload(buf)
      state.open, state.written = nil, false
    end
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, M.NAME)
  vim.api.nvim_buf_set_option(buf, 'buftype', 'nofile')
  vim.api.nvim_buf_set_option(buf, 'bufhidden', 'hide')
  vim.api.nvim_buf_set_option(buf, 'buflisted', false)
  vim.api.nvim_buf_set_option(buf, 'swapfile', false)
  vim.api.nvim_buf_set_option(buf, 'modifiable', false)
  vim.api.nvim_buf_set_option(buf, 'filetype', 'hotload')
  state.buf, state.open, state.written = buf, nil, false
  return buf
end

-- The windows of the current tab page that show the output buffer.
local function windows()
  local wins = {}
  local buf = state.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    return wins
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == buf then
      table.insert(wins, win)
    end
  end
  return wins
end

-- Shows the output buffer in a split made by cfg.split (an Ex command,
-- default "botright 12split") unless a window of this tab page shows it
-- already; the cursor stays where it was. Returns the window.
function M.show(cfg)
  local buf = M.buf()
  local win = windows()[1]
  if win then
    return win
  end
  local cur = vim.api.nvim_get_current_win()
  vim.cmd(cfg.split or 'botright 12split')
  win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, buf)
  vim.api.nvim_win_set_option(win, 'number', false)
  vim.api.nvim_win_set_option(win, 'relativenumber', false)
  vim.api.nvim_win_set_option(win, 'winfixheight', true)
  vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  if vim.api.nvim_win_is_valid(cur) then
    vim.api.nvim_set_current_win(cur)
  end
  return win
end

-- Opens the output window, or closes it when it is shown.
function M.toggle(cfg)
  local wins = windows()
  if #wins == 0 then
    M.show(cfg)
    return
  end
  for _, win in ipairs(wins) do
    if #vim.api.nvim_tabpage_list_wins(0) > 1 then
      vim.api.nvim_win_close(win, false)
    end
  end
end

-- Keeps the end in view in the windows that show the output, but for the
-- one the user is in (who may be reading further up).
local function follow(buf)
  local last = vim.api.nvim_buf_line_count(buf)
  local cur = vim.api.nvim_get_current_win()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if win ~= cur and vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_win_set_cursor(win, { last, 0 })
    end
  end
end

-- Appends text. stream is "stdout" or "stderr" for the code's output,
-- which comes in chunks, not lines: a chunk continues the last line when
-- that line has no newline yet and is of the same stream. stream nil is a
-- line of its own (a message). hl is the highlight group of the lines.
function M.write(stream, text, hl)
  if text == nil or text == '' then
    return
  end
  local buf = M.buf()
  local lines = vim.split(text, '\n', { plain = true })
  local closed = stream == nil or lines[#lines] == ''
  if lines[#lines] == '' then
    table.remove(lines)
  end
  local count = vim.api.nvim_buf_line_count(buf)
  local first, last
  if not state.written then
    first, last = 0, count
  elseif stream ~= nil and state.open == stream then
    first, last = count - 1, count
    lines[1] = vim.api.nvim_buf_get_lines(buf, first, last, true)[1] .. lines[1]
  else
    first, last = count, count
  end
  vim.api.nvim_buf_set_option(buf, 'modifiable', true)
  vim.api.nvim_buf_set_lines(buf, first, last, false, lines)
  vim.api.nvim_buf_set_option(buf, 'modifiable', false)
  if hl then
    for i = first, first + #lines - 1 do
      vim.api.nvim_buf_add_highlight(buf, M.ns, hl, i, 0, -1)
    end
  end
  state.written = true
  state.open = (not closed) and stream or nil
  follow(buf)
end

-- A run's header: a blank line after the previous run, then the text.
function M.header(text)
  local buf = M.buf()
  if state.written then
    vim.api.nvim_buf_set_option(buf, 'modifiable', true)
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '' })
    vim.api.nvim_buf_set_option(buf, 'modifiable', false)
    state.open = nil
  end
  M.write(nil, text, 'HotloadHeader')
end

-- A line of the plugin's or hotloadctl's own.
function M.info(text)
  M.write(nil, text, 'HotloadInfo')
end

-- Lines of an error (a traceback).
function M.error(text)
  M.write(nil, (text:gsub('\n$', '')), 'HotloadError')
end

-- A run's last line: how it ended.
function M.footer(text, ok)
  M.write(nil, text, ok and 'HotloadOk' or 'HotloadError')
end

-- All lines of the output buffer (for tests and scripts).
function M.lines()
  return vim.api.nvim_buf_get_lines(M.buf(), 0, -1, false)
end

-- Empties the output buffer.
function M.clear()
  local buf = M.buf()
  vim.api.nvim_buf_set_option(buf, 'modifiable', true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
  vim.api.nvim_buf_set_option(buf, 'modifiable', false)
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  state.open, state.written = nil, false
end

return M
