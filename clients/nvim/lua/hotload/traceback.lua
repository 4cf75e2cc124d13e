-- Python tracebacks (as the daemon sends them in a done event's
-- error.traceback, or a failed module's in a reloaded event) into the
-- quickfix list.
local M = {}

-- The frames of a traceback, in the order Python prints them (innermost
-- last; a chained exception's blocks one after the other): {file, lnum,
-- name, source, block}; the innermost frame of each block also has error,
-- the exception line ("ZeroDivisionError: division by zero").
function M.parse(text)
  local frames, block, last, nblock = {}, {}, nil, 1
  for line in (text .. '\n'):gmatch('(.-)\n') do
    local file, lnum, rest = line:match('^%s*File "(.+)", line (%d+)(.*)$')
    if file then
      last = { file = file, lnum = tonumber(lnum), name = rest:match('^, in (.+)$'), block = nblock }
      table.insert(frames, last)
      table.insert(block, last)
    elseif line:match('^%s') then
      -- the frame's source line; not the ^~~ markers under it, and not
      -- "[Previous line repeated N more times]"
      if last and not last.source and line:match('%S') and not line:match('^%s*[%^~]+%s*$') then
        last.source = vim.trim(line)
      end
    elseif line:match('^Traceback %(most recent call last%):') then
      block, last, nblock = {}, nil, nblock + 1
    elseif line == '' or line:match('^During handling of the above exception') or line:match('^The above exception was the direct cause') then
      last = nil
    else
      -- the exception line (or more lines of its message)
      if #block > 0 and not block[#block].error then
        block[#block].error = line
      end
      last = nil
    end
  end
  return frames
end

-- Quickfix items of the frames of a traceback that are in files here:
-- files that exist, and the code the plugin sent, which bufs maps by the
-- file name it gave it (--file) to its buffer. The last such frame of each
-- block is of type E and its text is the exception; the others say
-- "in FUNCTION: SOURCE".
function M.items(text, bufs)
  local items, last_of_block = {}, {}
  local errors = {}
  for _, f in ipairs(M.parse(text or '')) do
    if f.error then
      errors[f.block] = f.error
    end
    local bufnr = bufs and bufs[f.file]
    local here = bufnr or (not f.file:match('^<.*>$') and vim.fn.filereadable(f.file) == 1)
    if here then
      local item = { lnum = f.lnum, block = f.block }
      if bufnr then
        item.bufnr = bufnr
      else
        item.filename = f.file
      end
      local where = f.name and ('in ' .. f.name) or ''
      if f.source then
        where = where == '' and f.source or (where .. ': ' .. f.source)
      end
      item.text = where
      table.insert(items, item)
      last_of_block[f.block] = item
    end
  end
  for nblock, item in pairs(last_of_block) do
    if errors[nblock] then
      item.text = errors[nblock]
      item.type = 'E'
    end
  end
  for _, item in ipairs(items) do
    item.block = nil
  end
  return items
end

-- Whether the current quickfix list is one the plugin made (those it
-- replaces rather than pushing a new list every run).
local function ours()
  local title = vim.fn.getqflist({ title = 1 }).title or ''
  return title:match('^hotload') ~= nil
end

-- Sets the quickfix list to items, replacing the plugin's previous list.
function M.set(items, title)
  vim.fn.setqflist({}, ours() and 'r' or ' ', { title = title, items = items })
end

-- After a run without errors: empties the plugin's list, if it is the
-- current one, so that no stale locations stay; others' lists are left.
function M.clear(title)
  if ours() then
    vim.fn.setqflist({}, 'r', { title = title, items = {} })
  end
end

return M
