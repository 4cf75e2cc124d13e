-- The plugin's cases, each run in its own headless Neovim by harness.lua
-- against the real hotloadd (test_nvim.py starts it). Every case checks
-- what a user would see: the output buffer's lines and highlights, the
-- quickfix list, notifications, the worker's pid.
return function(T)
  local cases = {}
  local function case(name, fn)
    table.insert(cases, { name, fn })
  end
  local INFO, ERROR = vim.log.levels.INFO, vim.log.levels.ERROR

  case('run_buffer', function()
    T.setup()
    vim.cmd('HotloadTarget python:3')
    T.eq(T.hotload().target(), 'python:3', 'the target after :HotloadTarget python:3')
    T.ok(#T.notes_matching('target python:3', INFO) == 1, 'no notification of the target')
    local file = T.dir .. '/hello.py'
    T.write(file, 'import sys\nprint("hello from", __file__)\nprint("to stderr", file=sys.stderr)\nprint(sys.path[0])\n')
    vim.cmd('edit ' .. file)
    local code_win = vim.api.nvim_get_current_win()
    local status = vim.fn.system({ T.hotloadctl, '--socket', T.socket, 'status', '--json', 'python:3' })
    local cold = not status:match('"workers": %[%s*{')
    vim.cmd('HotloadRun')
    T.idle()
    -- a saved file runs as its file: __file__, its directory on sys.path
    local header = T.has_output('^%-%- %d%d:%d%d:%d%d python:3: hello%.py %-%-$')
    if cold then
      T.eq(T.output()[header + 1], 'starting a worker of python:3...', 'the line after the header of a first run')
      T.eq(T.highlights(header + 1), { 'HotloadInfo' }, 'highlight of the waiting line')
    end
    T.eq(T.highlights(header), { 'HotloadHeader' }, 'highlight of the header')
    local hello = T.has_output('^hello from ' .. vim.pesc(T.real(file)) .. '$')
    T.eq(T.highlights(hello), {}, 'highlight of a stdout line')
    local err = T.has_output('^to stderr$')
    T.eq(T.highlights(err), { 'HotloadStderr' }, 'highlight of a stderr line')
    T.has_output('^' .. vim.pesc(T.real(T.dir)) .. '$')
    local out = T.output()
    T.ok(out[#out]:match('^%-%- ok in [%d.]+ ms %-%-$'), 'the last line is not the done line: %q', out[#out])
    T.eq(T.highlights(#out), { 'HotloadOk' }, 'highlight of the done line')
    T.eq(#T.errors(), 0, 'error notifications')
    -- the output window: a scratch buffer in a split; the cursor stayed
    T.eq(vim.api.nvim_get_current_win(), code_win, 'the current window after the run')
    local obuf = require('hotload.output').buf()
    T.eq(vim.api.nvim_buf_get_name(obuf), 'hotload://output', 'the output buffer name')
    T.eq(vim.api.nvim_buf_get_option(obuf, 'buftype'), 'nofile', 'buftype')
    T.eq(vim.api.nvim_buf_get_option(obuf, 'bufhidden'), 'hide', 'bufhidden')
    T.eq(vim.api.nvim_buf_get_option(obuf, 'buflisted'), false, 'buflisted')
    T.eq(vim.fn.bufwinnr(obuf) > 0, true, 'the output window is shown')
    -- a second run appends under a header of its own; :HotloadOutput toggles
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^hello from ', header + 1)
    local second = T.has_output('^%-%- %d%d:%d%d:%d%d python:3: hello%.py %-%-$', header + 1)
    T.eq(T.output()[second - 1], '', 'the blank line between runs')
    vim.cmd('HotloadOutput')
    T.eq(vim.fn.bufwinnr(obuf), -1, 'the output window after :HotloadOutput')
    vim.cmd('HotloadOutput')
    T.ok(vim.fn.bufwinnr(obuf) > 0, 'the output window is not back after a second :HotloadOutput')
    -- the output buffer itself is not run
    vim.cmd(vim.fn.bufwinnr(obuf) .. 'wincmd w')
    vim.cmd('HotloadRun')
    T.eq(T.hotload().job(), nil, 'a job run from the output window')
    T.eq(#T.notes_matching('this is the output window', vim.log.levels.WARN), 1, 'the warning of a run in the output window')
  end)

  case('streams', function()
    T.setup({ target = 'python:3' })
    vim.cmd('enew')
    T.set_lines('import time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second")')
    vim.cmd('HotloadRun')
    T.wait('the first line', function()
      return T.find('^first$') ~= nil
    end, 20000)
    T.ok(T.hotload().job() ~= nil, 'the run ended before its first line was shown')
    T.ok(T.find('^second$') == nil, 'the second line came with the first')
    T.idle()
    T.has_output('^second$')
    -- output comes in chunks, not lines: a line printed in two parts is one line
    T.set_lines('import sys, time\nprint("part", end="", flush=True)\ntime.sleep(0.3)\nprint("ial line")\nprint("next")')
    local mark = #T.output()
    vim.cmd('HotloadRun')
    T.idle()
    local i = T.has_output('^partial line$', mark)
    T.eq(T.output()[i + 1], 'next', 'the line after it')
  end)

  case('unsaved_buffer', function()
    T.setup({ target = 'python:3' })
    local file = T.dir .. '/draft.py'
    T.write(file, 'print("saved text")\n')
    vim.cmd('edit ' .. file)
    local buf = vim.api.nvim_get_current_buf()
    -- modified, not written: the buffer's text runs, named by its file
    T.set_lines('print("buffer text")\nx = 1\nraise ValueError("from line 3")')
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^%-%- .* python:3: draft%.py %(unsaved%) %-%-$')
    T.has_output('^buffer text$')
    T.ok(T.find('^saved text$') == nil, 'the saved file ran instead of the buffer')
    T.has_output('^  File "' .. vim.pesc(vim.api.nvim_buf_get_name(buf)) .. '", line 3, in <module>$')
    local out = T.output()
    T.eq(out[#out], '-- ValueError: from line 3 (' .. out[#out]:match('%(([^)]*)%)') .. ') --', 'the done line')
    local qf = T.qf()
    T.eq(#qf, 1, 'quickfix entries')
    T.eq(qf[1].bufnr, buf, 'the quickfix entry is the buffer')
    T.eq(qf[1].lnum, 3, 'the quickfix line')
    T.eq(qf[1].text, 'ValueError: from line 3', 'the quickfix text')
    T.eq(qf[1].type, 'E', 'the quickfix type')
    -- a buffer without a file
    vim.cmd('enew')
    local scratch = vim.api.nvim_get_current_buf()
    T.set_lines('\n\n1/0')
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^  File "<nvim%-buffer%-' .. scratch .. '>", line 3, in <module>$')
    qf = T.qf()
    T.eq(#qf, 1, 'quickfix entries of the unnamed buffer')
    T.eq({ qf[1].bufnr, qf[1].lnum, qf[1].text }, { scratch, 3, 'ZeroDivisionError: division by zero' }, 'its entry')
    T.eq(#T.errors(), 0, 'error notifications')
  end)

  case('selection', function()
    T.setup({ target = 'python:3' })
    local file = T.dir .. '/sel.py'
    T.write(file, table.concat({
      'print("line 1 must not run")',
      'def g():',
      '    y = 40',
      '    print("sel", y + 2)',
      '    raise KeyError("line 5")',
      '',
    }, '\n'))
    vim.cmd('edit ' .. file)
    local buf = vim.api.nvim_get_current_buf()
    -- a range: the indented body runs at the top level
    vim.cmd('3,4HotloadRunSelection')
    T.idle()
    T.has_output('^%-%- .* python:3: sel%.py lines 3%-4 %-%-$')
    T.has_output('^sel 42$')
    T.ok(T.find('must not run') == nil, 'a line outside the range ran')
    T.has_output('^%-%- ok in ')
    -- a real Visual selection, :'<,'>: line numbers in the traceback are
    -- the buffer's
    vim.cmd('normal! 3GVjj\27')
    T.eq({ vim.fn.line("'<"), vim.fn.line("'>") }, { 3, 5 }, "the '< '> marks")
    vim.cmd("'<,'>HotloadRunSelection")
    T.idle()
    T.has_output('^%-%- .* python:3: sel%.py lines 3%-5 %-%-$')
    T.has_output('^  File "' .. vim.pesc(vim.api.nvim_buf_get_name(buf)) .. '", line 5, in <module>$')
    local qf = T.qf()
    T.eq(#qf, 1, 'quickfix entries')
    T.eq({ qf[1].bufnr, qf[1].lnum, qf[1].text, qf[1].type }, { buf, 5, "KeyError: 'line 5'", 'E' }, 'the entry')
    T.ok(T.find('must not run') == nil, 'a line outside the selection ran')
    -- the current line, without a range
    vim.cmd('1')
    vim.cmd('HotloadRunSelection')
    T.idle()
    T.has_output('^line 1 must not run$')
    T.eq(#T.qf(), 0, 'quickfix entries after a run without error')
  end)

  case('traceback_files', function()
    T.setup({ target = 'python:3' })
    local dir = T.dir .. '/proj'
    T.write(dir .. '/helper.py', table.concat({
      'def boom():',
      '    code = compile("raise LookupError(\'deep\')", "/nonexistent/generated.py", "exec")',
      '    exec(code)',
      '',
    }, '\n'))
    T.write(dir .. '/main.py', 'import helper\n\nhelper.boom()\n')
    vim.cmd('edit ' .. dir .. '/main.py')
    local code_win = vim.api.nvim_get_current_win()
    T.eq(vim.fn.getqflist({ title = 1 }).title, '', 'the quickfix title before')
    vim.cmd('HotloadRun')
    T.idle()
    -- the file ran as its file: helper.py was found next to it
    T.has_output('^  File "' .. vim.pesc(T.real(dir .. '/helper.py')) .. '", line 3, in boom$')
    T.has_output('^  File "/nonexistent/generated.py", line 1, in <module>$')
    local qf = T.qf()
    T.eq(#qf, 2, 'quickfix entries (the frame of a file that does not exist is left out)')
    T.eq({ qf[1].file, qf[1].lnum, qf[1].text, qf[1].type }, { T.real(dir .. '/main.py'), 3, 'in <module>: helper.boom()', '' }, 'the outer frame')
    T.eq({ qf[2].file, qf[2].lnum, qf[2].text, qf[2].type }, { T.real(dir .. '/helper.py'), 3, "LookupError: deep", 'E' }, 'the innermost frame here')
    T.ok(vim.fn.getqflist({ title = 1 }).title:match('^hotload: python:3'), 'the quickfix title')
    -- the quickfix window opened; the cursor stayed in the code
    local qfwin = vim.fn.getqflist({ winid = 1 }).winid
    T.ok(qfwin ~= 0, 'the quickfix window did not open')
    T.eq(vim.api.nvim_get_current_win(), code_win, 'the current window')
    -- a list of others (:make) is not replaced: a failed run pushes its
    -- own on top of it
    vim.fn.setqflist({}, ' ', { title = 'make', items = { { filename = dir .. '/main.py', lnum = 1, text = 'x' } } })
    vim.cmd('enew')
    T.set_lines('1/0')
    vim.cmd('HotloadRun')
    T.idle()
    T.ok(vim.fn.getqflist({ title = 1 }).title:match('^hotload'), 'the list after a failed run is not ours')
    vim.cmd('colder')
    T.eq(vim.fn.getqflist({ title = 1 }).title, 'make', 'the list under ours')
    T.eq(#T.qf(), 1, "entries of others' list")
    vim.cmd('cnewer')
    -- a run that succeeds empties the plugin's list when it is the current one
    vim.cmd('edit ' .. dir .. '/helper.py')
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'def boom():', '    print("fine")' })
    vim.cmd('write')
    -- (the warm worker holds the module: reload it, a module of no package)
    vim.cmd('HotloadReload')
    T.idle()
    T.has_output('^helper: reloaded$')
    vim.cmd('edit ' .. dir .. '/main.py')
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^fine$')
    T.eq(#T.qf(), 0, 'entries after a run without error')
    T.ok(vim.fn.getqflist({ title = 1 }).title:match('^hotload'), 'the emptied list is not ours')
    -- and leaves others' lists alone
    vim.fn.setqflist({}, ' ', { title = 'make', items = { { filename = dir .. '/main.py', lnum = 1, text = 'x' } } })
    vim.cmd('HotloadRun')
    T.idle()
    T.eq(vim.fn.getqflist({ title = 1 }).title, 'make', 'the current list after a run without error')
    T.eq(#T.qf(), 1, "entries of others' list after a run without error")
    -- a SyntaxError points at the line too
    vim.cmd('enew')
    T.set_lines('x = 1\ndef f(:\n    pass')
    local buf = vim.api.nvim_get_current_buf()
    vim.cmd('HotloadRun')
    T.idle()
    qf = T.qf()
    T.eq(#qf, 1, 'entries of a SyntaxError')
    T.eq({ qf[1].bufnr, qf[1].lnum, qf[1].type }, { buf, 2, 'E' }, 'the SyntaxError entry')
    T.ok(qf[1].text:match('^SyntaxError'), 'the SyntaxError text: %q', qf[1].text)
  end)

  case('interrupt', function()
    T.setup({ target = 'python:3' })
    vim.cmd('enew')
    T.set_lines('import os, time\nprint("pid", os.getpid(), flush=True)\ntime.sleep(30)\nprint("not reached")')
    vim.cmd('HotloadRun')
    T.wait('the pid', function()
      return T.find('^pid %d+$') ~= nil
    end, 30000)
    local pid = T.output()[T.find('^pid %d+$')]:match('%d+')
    local t0 = vim.loop.hrtime()
    vim.cmd('HotloadInterrupt')
    T.idle(10000)
    local took = (vim.loop.hrtime() - t0) / 1e9
    T.ok(took < 5, 'the interrupt took %.1f s', took)
    T.ok(T.find('not reached') == nil, 'the code went on after the interrupt')
    T.has_output('^KeyboardInterrupt$')
    local out = T.output()
    T.ok(out[#out]:match('^%-%- interrupted: KeyboardInterrupt'), 'the done line: %q', out[#out])
    T.eq(#T.qf(), 0, 'quickfix entries of an interrupted run')
    T.eq(#T.errors(), 0, 'error notifications')
    -- the same warm worker runs the next one
    T.set_lines('import os\nprint("pid", os.getpid())')
    vim.cmd('HotloadRun')
    T.idle()
    local after = T.output()[T.find('^pid %d+$', T.find('^%-%- interrupted'))]
    T.eq(after, 'pid ' .. pid, 'the pid of the next run')
    -- nothing runs: said, nothing else happens
    vim.cmd('HotloadInterrupt')
    T.eq(#T.notes_matching('nothing of this Neovim is running'), 1, 'the notification of a needless interrupt')
    -- :HotloadInterrupt! interrupts what runs in the target, whoever sent it
    local other = vim.fn.jobstart({ T.hotloadctl, '--socket', T.socket, 'exec', 'python:3', '-c', 'import time; time.sleep(30)' })
    T.wait('the other client to run', function()
      local o = vim.fn.system({ T.hotloadctl, '--socket', T.socket, 'status', '--json', 'python:3' })
      return o:match('"busy"') ~= nil
    end, 20000)
    vim.cmd('HotloadInterrupt!')
    T.eq(vim.fn.jobwait({ other }, 10000)[1], 1, "the other client's exit status (its code raised KeyboardInterrupt)")
    T.wait('the notification', function()
      return #T.notes_matching('python:3: interrupted 1 request', INFO) == 1
    end, 5000)
    -- setup{ timeout = S }: a run that takes longer is interrupted
    T.setup({ target = 'python:3', timeout = 1 })
    T.set_lines('import os, time\nprint("pid", os.getpid(), flush=True)\ntime.sleep(30)')
    t0 = vim.loop.hrtime()
    local mark = #T.output()
    vim.cmd('HotloadRun')
    T.idle(15000)
    took = (vim.loop.hrtime() - t0) / 1e9
    T.ok(took < 5, 'the run with a timeout of 1 s took %.1f s', took)
    T.has_output('^pid ' .. pid .. '$', mark)
    T.has_output('^%-%- Timeout: the request ran longer than its timeout', mark)
    T.has_output('^KeyboardInterrupt$', mark)
  end)

  case('reload', function()
    T.setup({ target = 'python:3' })
    local root = T.dir .. '/dev'
    local core = root .. '/nvtools/core.py'
    T.write(root .. '/nvtools/__init__.py', '')
    T.write(core, 'def run():\n    print("version one")\n')
    vim.cmd('enew')
    local snippet = vim.api.nvim_get_current_buf()
    T.set_lines(string.format('import sys\nsys.path.insert(0, %q)\nimport nvtools.core\nnvtools.core.run()', root))
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^version one$')
    -- edit the module, save, reload it by its file
    vim.cmd('edit ' .. core)
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'def run():', '    print("version two, saved")' })
    vim.cmd('write')
    local mark = #T.output()
    vim.cmd('HotloadReload')
    T.idle()
    T.has_output('^%-%- .* python:3: reload nvtools%.core %-%-$', mark)
    T.has_output('^nvtools%.core: reloaded$', mark)
    T.has_output('^%-%- ok in ', mark)
    vim.cmd('buffer ' .. snippet)
    T.set_lines('nvtools.core.run()')
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^version two, saved$')
    -- by name: a package and what is below it
    mark = #T.output()
    vim.cmd('HotloadReload nvtools')
    T.idle()
    T.has_output('^nvtools: unchanged$', mark)
    T.has_output('^nvtools%.core: unchanged$', mark)
    -- a module that fails to reload: its traceback in the quickfix list
    vim.cmd('edit ' .. core)
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'def run():', '    print("version three")', 'def broken(:', '    pass' })
    vim.cmd('write')
    mark = #T.output()
    vim.cmd('HotloadReload')
    T.idle()
    T.has_output('^nvtools%.core: failed .*: SyntaxError: invalid syntax', mark)
    T.has_output('^%-%- ReloadFailed', mark)
    local qf = T.qf()
    T.eq(#qf, 1, 'quickfix entries of a failed reload')
    T.eq({ qf[1].file, qf[1].lnum, qf[1].type }, { T.real(core), 3, 'E' }, 'the entry')
    -- reload on save
    T.setup({ target = 'python:3', reload_on_save = true })
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'def run():', '    print("version four, on save")' })
    vim.cmd('write')
    T.wait('the reload notification', function()
      return #T.notes_matching('python:3: reloaded nvtools%.core', INFO) == 1
    end)
    T.idle()
    vim.cmd('buffer ' .. snippet)
    vim.cmd('HotloadRun')
    T.idle()
    T.has_output('^version four, on save$')
    -- the module of the nearest package root; a file outside any package
    local pymodule = require('hotload.pymodule')
    T.eq(pymodule.of(core), 'nvtools.core', 'the module of core.py')
    T.eq(pymodule.of(root .. '/nvtools/__init__.py'), 'nvtools', 'the module of __init__.py')
    T.eq(pymodule.of(T.dir .. '/loose.py'), 'loose', 'the module of a file outside a package')
    T.eq(pymodule.of(T.dir .. '/notes.txt'), nil, 'the module of a text file')
    vim.cmd('enew')
    vim.cmd('HotloadReload')
    T.eq(#T.notes_matching('the buffer has no file', ERROR), 1, 'the notification of a reload without a module')
  end)

  case('picker', function()
    T.setup()
    -- a one-off target: runs there, and sets nothing
    vim.cmd('enew')
    T.set_lines('print("one-off")')
    vim.cmd('HotloadRun python:3')
    T.idle()
    T.has_output('^one%-off$')
    T.eq(T.hotload().target(), nil, 'the target after a one-off run')
    -- no target: the run asks through vim.ui.select (replaced here, as a
    -- UI plugin replaces it) and runs after the choice
    local asked = {}
    vim.ui.select = function(items, opts, on_choice)
      table.insert(asked, { items = items, opts = opts })
      for _, item in ipairs(items) do
        if item.target == 'python:3' then
          on_choice(item, _)
          return
        end
      end
      on_choice(nil, nil)
    end
    T.set_lines('print("after the pick")')
    vim.cmd('HotloadRun')
    T.wait('the picker', function()
      return #asked == 1
    end, 10000)
    T.idle()
    T.eq(T.hotload().target(), 'python:3', 'the target after the pick')
    T.has_output('^after the pick$')
    local item
    for _, it in ipairs(asked[1].items) do
      if it.target == 'python:3' then
        item = it
      end
    end
    T.ok(item ~= nil, 'no python:3 among %s', vim.inspect(asked[1].items))
    T.eq({ item.hook, item.version, item.state }, { 'python', '3', 'idle' }, 'the python:3 item')
    T.ok(item.label:match('^python:3%s+idle$'), 'the label %q', item.label)
    T.eq(asked[1].opts.format_item(item), item.label, 'format_item')
    T.eq(asked[1].opts.prompt, 'hotload target', 'the prompt')
    for _, it in ipairs(asked[1].items) do
      T.ok(it.target:match('^[%w._+-]+:[%w._+-]+$'), 'an item that is no target: %q', it.target)
      if it.target ~= 'python:3' and it.hook == 'python' then
        T.ok(it.state == 'not started' or it.state == 'stopped', 'the state of %s: %s', it.target, it.state)
      end
    end
    -- :HotloadTarget asks again and marks the current one; a cancel changes nothing
    vim.ui.select = function(items, opts, on_choice)
      table.insert(asked, { items = items, opts = opts })
      on_choice(nil, nil)
    end
    vim.cmd('HotloadTarget')
    T.wait('the second picker', function()
      return #asked == 2
    end, 10000)
    local marked = vim.tbl_filter(function(it)
      return it.label:match('%(current%)$') ~= nil
    end, asked[2].items)
    T.eq(#marked, 1, 'items marked current')
    T.eq(marked[1].target, 'python:3', 'the item marked current')
    T.eq(T.hotload().target(), 'python:3', 'the target after a cancelled pick')
    -- completion asks the daemon
    local names = vim.fn.getcompletion('HotloadTarget pyth', 'cmdline')
    T.ok(vim.tbl_contains(names, 'python') and vim.tbl_contains(names, 'python:3'), 'completion: %s', vim.inspect(names))
  end)

  case('errors', function()
    -- no daemon on the socket: hotloadctl's exit status 3, said clearly
    local nodir = T.dir .. '/nodaemon'
    vim.fn.mkdir(nodir, 'p', 448) -- 0700, as a runtime directory must be
    T.setup({ socket = nodir .. '/hotloadd.sock', target = 'python:3' })
    vim.cmd('enew')
    T.set_lines('print("never")')
    vim.cmd('HotloadRun')
    T.idle()
    local errs = T.errors()
    T.eq(#errs, 1, 'error notifications')
    T.ok(errs[1].msg:match('^hotload: hotloadd is not running or not reachable: cannot connect to hotloadd on unix socket ' .. vim.pesc(nodir)),
      'the notification: %q', errs[1].msg)
    local out = T.output()
    T.ok(out[#out]:match('^%-%- not done: hotloadd is not running'), 'the done line: %q', out[#out])
    T.ok(T.find('^never$') == nil, 'the code ran')
    -- an unknown DCC: refused, exit status 4
    T.notes = {}
    T.setup()
    vim.cmd('HotloadTarget nosuchdcc:1')
    vim.cmd('HotloadRun')
    T.idle()
    errs = T.errors()
    T.eq(#errs, 1, 'error notifications of an unknown target')
    T.ok(errs[1].msg:match("^hotload: hotloadd refused the request: UnknownTarget: unknown DCC 'nosuchdcc'"), 'the notification: %q', errs[1].msg)
    -- not a target at all
    T.notes = {}
    vim.cmd('HotloadTarget no spaces')
    T.eq(#T.notes_matching("is not a target", ERROR), 1, 'the notification of a bad target')
    T.eq(T.hotload().target(), 'nosuchdcc:1', 'the target after a bad one')
    -- no hotloadctl
    T.notes = {}
    T.setup({ hotloadctl = T.dir .. '/no/hotloadctl', target = 'python:3' })
    vim.cmd('HotloadRun')
    errs = T.errors()
    T.eq(#errs, 1, 'error notifications without hotloadctl')
    T.ok(errs[1].msg:match('^hotload: cannot run hotloadctl %(' .. vim.pesc(T.dir) .. '/no/hotloadctl%)'), 'the notification: %q', errs[1].msg)
    T.eq(T.hotload().job(), nil, 'a job after a failed start')
    -- one request at a time
    T.notes = {}
    T.setup({ target = 'python:3' })
    T.set_lines('import time; time.sleep(3)')
    vim.cmd('HotloadRun')
    vim.cmd('HotloadRun')
    T.eq(#T.notes_matching('a request is still running in python:3', vim.log.levels.WARN), 1, 'the notification of a second run')
    vim.cmd('HotloadInterrupt')
    T.idle()
  end)

  case('health', function()
    T.setup({ target = 'python:3' })
    vim.cmd('checkhealth hotload')
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    T.ok(text:match('OK: hotloadctl: ' .. vim.pesc(T.hotloadctl) .. ' %(hotloadctl [%d.]+%)'), 'no hotloadctl line in:\n%s', text)
    T.ok(text:match('OK: hotloadd [%d.]+ answers %(pid %d+'), 'no daemon line in:\n%s', text)
    T.ok(text:match('target: python:3'), 'no target line in:\n%s', text)
    vim.cmd('bwipe!')
    local nodir = T.dir .. '/nodaemon'
    vim.fn.mkdir(nodir, 'p', 448)
    T.setup({ socket = nodir .. '/hotloadd.sock' })
    vim.cmd('checkhealth hotload')
    text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    T.ok(text:match('WARNING: hotloadd is not running or not reachable: cannot connect'), 'no warning in:\n%s', text)
  end)

  case('help', function()
    -- the tags the build made are the ones :helptags makes
    local doc = T.packpath .. '/pack/hotload/start/hotload/doc'
    vim.fn.mkdir(T.dir .. '/doc', 'p')
    T.write(T.dir .. '/doc/hotload.txt', T.read(doc .. '/hotload.txt'))
    vim.cmd('helptags ' .. T.dir .. '/doc')
    T.eq(T.read(doc .. '/tags'), T.read(T.dir .. '/doc/tags'), 'doc/tags')
    -- and :help finds the plugin's help through them
    for _, tag in ipairs({ 'hotload', ':HotloadRun', ':HotloadRunSelection', 'hotload-setup', 'hotload.setup()' }) do
      vim.cmd('help ' .. tag)
      T.ok(vim.api.nvim_buf_get_name(0):match('/pack/hotload/start/hotload/doc/hotload%.txt$'), ':help %s opened %s', tag, vim.api.nvim_buf_get_name(0))
      vim.cmd('helpclose')
    end
    -- every command the plugin defines is documented
    for name, _ in pairs(vim.api.nvim_get_commands({})) do
      if name:match('^Hotload') then
        T.ok(T.read(doc .. '/hotload.txt'):match('%*:' .. name .. '%*'), ':%s has no help tag', name)
      end
    end
  end)

  return cases
end
