-- The Python module a file is, for :HotloadReload without arguments.
local M = {}

-- The dotted module name of the .py file at path, from the nearest
-- package root: the directories above it that have an __init__.py are
-- its packages (…/mytools/mytools/core.py with mytools/__init__.py is
-- "mytools.core"; a package's __init__.py is the package). Namespace
-- packages (no __init__.py) cannot be told apart from a plain directory:
-- name the module explicitly then. Returns the name, or nil and why not.
function M.of(path)
  if path == nil or path == '' then
    return nil, 'the buffer has no file: name the module (:HotloadReload MODULE)'
  end
  path = vim.fn.fnamemodify(path, ':p')
  if not path:match('%.py$') then
    return nil, path .. ' is not a Python file: name the module (:HotloadReload MODULE)'
  end
  local dir = vim.fn.fnamemodify(path, ':h')
  local stem = vim.fn.fnamemodify(path, ':t:r')
  local parts = {}
  if stem ~= '__init__' then
    parts[1] = stem
  end
  while vim.fn.filereadable(dir .. '/__init__.py') == 1 do
    table.insert(parts, 1, vim.fn.fnamemodify(dir, ':t'))
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      break
    end
    dir = parent
  end
  if #parts == 0 then
    return nil, path .. ' belongs to no package: name the module (:HotloadReload MODULE)'
  end
  for _, part in ipairs(parts) do
    if not part:match('^[%a_][%w_]*$') then
      return nil, string.format("%s is no importable module ('%s' is not a Python name): name the module", path, part)
    end
  end
  return table.concat(parts, '.')
end

return M
