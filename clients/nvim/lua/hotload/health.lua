-- :checkhealth hotload — is hotloadctl there, and does hotloadd answer?
local M = {}

-- vim.health (0.8+, start/ok/... from 0.9) or the "health" module of 0.7.
local function reporter()
  local h = vim.health or require('health')
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    info = h.info or h.report_info,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
  }
end

function M.check()
  local r = reporter()
  local hotload = require('hotload')
  local ctl = require('hotload.ctl')
  local cfg = hotload.config

  r.start('hotload')
  if vim.fn.has('nvim-0.7') == 1 then
    local v = vim.version()
    r.ok(string.format('Neovim %d.%d.%d', v.major, v.minor, v.patch))
  else
    r.error('Neovim 0.7 or newer is needed')
  end

  local path = vim.fn.exepath(cfg.hotloadctl)
  if path == '' then
    r.error(string.format("hotloadctl not found ('%s')", cfg.hotloadctl), {
      'install hotload (the Debian package puts it in /usr/bin)',
      "or set require('hotload').setup{ hotloadctl = '/path/to/hotloadctl' }",
    })
    return
  end
  local code, out = ctl.collect_sync(cfg, { '--version' }, 5000)
  r.ok(string.format('hotloadctl: %s (%s)', path, code == 0 and vim.trim(out) or 'version unknown'))

  local errs
  code, out, errs = ctl.collect_sync(cfg, { 'status', '--json' }, 5000)
  if code == nil then
    r.error(out)
    return
  end
  if code == ctl.EXIT_OK or code == ctl.EXIT_FAILED then
    local ok, status = pcall(vim.json.decode, out)
    local d = ok and type(status) == 'table' and status.daemon or nil
    if d then
      r.ok(string.format('hotloadd %s answers (pid %s, %d target(s))', tostring(d.version), tostring(d.pid), #(status.targets or {})))
    else
      r.ok('hotloadd answers')
    end
  else
    r.warn(ctl.failure(code, errs), {
      "start it: 'hotloadctl start' (or the user service: systemctl --user start hotloadd.socket)",
      'a daemon on another socket: setup{ socket = PATH }, or $HOTLOAD_SOCKET',
    })
  end

  if hotload.target() then
    r.info('target: ' .. hotload.target())
  else
    r.info('no target yet: :HotloadTarget picks one, or setup{ target = "python:3" }')
  end
end

return M
