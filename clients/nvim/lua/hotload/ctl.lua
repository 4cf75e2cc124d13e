-- Running hotloadctl, the C client, as a job.
--
-- Everything that talks to hotloadd goes through hotloadctl: it finds the
-- daemon (--socket, $HOTLOAD_SOCKET, the default socket), checks the
-- runtime directory, shows the token over TCP, sends the interrupt on
-- SIGINT, and says what went wrong with its exit status. With --json it
-- prints the daemon's event lines, which is all the plugin reads.
local M = {}

-- hotloadctl's exit statuses (docs/hotloadctl.md, "Exit status").
M.EXIT_OK = 0
M.EXIT_FAILED = 1
M.EXIT_USAGE = 2
M.EXIT_UNREACHABLE = 3
M.EXIT_REFUSED = 4
M.EXIT_INTERRUPTED = 130

-- The argv of one hotloadctl command: the program, the connection options
-- of cfg (socket, args), then args.
function M.argv(cfg, args)
  local argv = { cfg.hotloadctl }
  if cfg.socket and cfg.socket ~= '' then
    vim.list_extend(argv, { '--socket', cfg.socket })
  end
  vim.list_extend(argv, cfg.args or {})
  vim.list_extend(argv, args)
  return argv
end

-- Splits a job's chunked output into whole lines: feed(data) calls
-- on_line for every complete line; finish() for what is left.
local function line_splitter(on_line)
  local pending = ''
  local s = {}
  function s.feed(data)
    data[1] = pending .. data[1]
    pending = table.remove(data)
    for _, line in ipairs(data) do
      on_line(line)
    end
  end
  function s.finish()
    if pending ~= '' then
      on_line(pending)
      pending = ''
    end
  end
  return s
end

-- Why hotloadctl could not be run, for a user.
local function not_runnable(cfg, err)
  return string.format(
    "cannot run hotloadctl (%s): %s; install hotload, or set require('hotload').setup{ hotloadctl = PATH }",
    cfg.hotloadctl,
    (tostring(err):gsub('^Vim:', ''))
  )
end

-- Starts hotloadctl with args. h.on_event(ev) gets every JSON line of its
-- stdout decoded (a line that is not JSON as {event = 'text', data = line}),
-- h.on_stderr(line) every line of its stderr, h.on_exit(code, stderr_lines)
-- the end. h.stdin, when given, is written to its stdin, which is then
-- closed (always closed, so that nothing waits for input).
-- Returns the job (id, pid), or nil and a message.
function M.start(cfg, args, h)
  local stderr = {}
  local out = line_splitter(function(line)
    if line == '' then
      return
    end
    local ok, ev = pcall(vim.json.decode, line)
    if not ok or type(ev) ~= 'table' then
      ev = { event = 'text', data = line }
    end
    if h.on_event then
      h.on_event(ev)
    end
  end)
  local err = line_splitter(function(line)
    if line == '' then
      return
    end
    table.insert(stderr, line)
    if h.on_stderr then
      h.on_stderr(line)
    end
  end)
  local ok, id = pcall(vim.fn.jobstart, M.argv(cfg, args), {
    on_stdout = function(_, data)
      out.feed(data)
    end,
    on_stderr = function(_, data)
      err.feed(data)
    end,
    on_exit = function(_, code)
      out.finish()
      err.finish()
      if h.on_exit then
        h.on_exit(code, stderr)
      end
    end,
  })
  if not ok then
    return nil, not_runnable(cfg, id)
  end
  if id <= 0 then
    return nil, not_runnable(cfg, 'jobstart failed (' .. id .. ')')
  end
  if h.stdin then
    vim.fn.chansend(id, h.stdin)
  end
  vim.fn.chanclose(id, 'stdin')
  return { id = id, pid = vim.fn.jobpid(id) }
end

-- Runs hotloadctl with args and calls cb(code, stdout_text, stderr_lines)
-- when it is done. Returns the job, or nil and a message.
function M.collect(cfg, args, cb)
  local chunks = {}
  local ok, id = pcall(vim.fn.jobstart, M.argv(cfg, args), {
    stdout_buffered = true,
    stderr_buffered = true,
    on_stdout = function(_, data)
      chunks.out = data
    end,
    on_stderr = function(_, data)
      chunks.err = data
    end,
    on_exit = function(_, code)
      local errs = vim.tbl_filter(function(l)
        return l ~= ''
      end, chunks.err or {})
      cb(code, table.concat(chunks.out or {}, '\n'), errs)
    end,
  })
  if not ok then
    return nil, not_runnable(cfg, id)
  end
  if id <= 0 then
    return nil, not_runnable(cfg, 'jobstart failed (' .. id .. ')')
  end
  vim.fn.chanclose(id, 'stdin')
  return { id = id }
end

-- M.collect, waiting at most timeout_ms: returns code, stdout, stderr
-- lines; code is nil and stdout a message when it could not run or did
-- not end in time (it is then stopped).
function M.collect_sync(cfg, args, timeout_ms)
  local res
  local job, msg = M.collect(cfg, args, function(code, out, errs)
    res = { code, out, errs }
  end)
  if not job then
    return nil, msg, {}
  end
  vim.wait(timeout_ms, function()
    return res ~= nil
  end, 10)
  if not res then
    vim.fn.jobstop(job.id)
    return nil, string.format('hotloadctl %s did not answer within %d s', args[1], timeout_ms / 1000), {}
  end
  return res[1], res[2], res[3]
end

-- hotloadctl's own messages without its "hotloadctl: " prefix, one string.
function M.message(stderr_lines)
  local msgs = {}
  for _, l in ipairs(stderr_lines or {}) do
    table.insert(msgs, (l:gsub('^hotloadctl: ', '')))
  end
  return table.concat(msgs, '\n')
end

-- What an exit status other than 0, 1 and 130 means, with what hotloadctl
-- said: the text of a notification.
function M.failure(code, stderr_lines)
  local said = M.message(stderr_lines)
  if said == '' then
    said = 'hotloadctl said nothing'
  end
  if code == M.EXIT_UNREACHABLE then
    return 'hotloadd is not running or not reachable: ' .. said
  elseif code == M.EXIT_REFUSED then
    return 'hotloadd refused the request: ' .. said
  elseif code == M.EXIT_USAGE then
    return 'hotloadctl refused the command (usage): ' .. said
  end
  return string.format('hotloadctl exited with status %d: %s', code, said)
end

return M
