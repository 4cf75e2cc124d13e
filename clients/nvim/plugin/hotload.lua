-- hotload: run Python in the warm DCC interpreters of hotloadd.
-- The commands only; everything else loads on first use. See :help hotload.
if vim.g.loaded_hotload or vim.fn.has('nvim-0.7') == 0 then
  return
end
vim.g.loaded_hotload = true

local function hotload()
  return require('hotload')
end

local function complete_target(arglead)
  return require('hotload.targets').complete(hotload().config, arglead)
end

local command = vim.api.nvim_create_user_command

command('HotloadRun', function(c)
  hotload().run({ target = c.args ~= '' and c.args or nil })
end, {
  nargs = '?',
  complete = complete_target,
  desc = 'hotload: run the buffer in the target (or in TARGET, this once)',
})

command('HotloadRunSelection', function(c)
  hotload().run_range(c.line1, c.line2, { target = c.args ~= '' and c.args or nil })
end, {
  nargs = '?',
  range = true,
  complete = complete_target,
  desc = 'hotload: run the lines of the range (visual selection) in the target',
})

command('HotloadTarget', function(c)
  if c.args ~= '' then
    hotload().set_target(c.args)
  else
    hotload().pick_target()
  end
end, {
  nargs = '?',
  complete = complete_target,
  desc = 'hotload: set the target, or pick one',
})

command('HotloadInterrupt', function(c)
  hotload().interrupt({ all = c.bang })
end, {
  bang = true,
  desc = "hotload: interrupt this Neovim's run (!: everything running in the target)",
})

command('HotloadReload', function(c)
  hotload().reload({ modules = c.fargs, purge = c.bang })
end, {
  nargs = '*',
  bang = true,
  desc = "hotload: reload MODULEs, or the current file's module, in the target (!: purge)",
})

command('HotloadOutput', function()
  hotload().toggle_output()
end, { desc = 'hotload: open or close the output window' })
