// Which Python modules a saved file is, for reload-on-save and for the
// default of "Reload Modules". Pure: no VS Code API.

import * as path from "node:path";

/**
 * A Python expression that evaluates, in the worker, to the sorted names of
 * the loaded modules whose file is `file` (compared by real path, so a tree
 * reached through a symlink matches). Asking the worker is exact where a
 * guess from directories is not: namespace packages, sys.path entries
 * inside the workspace, the same file imported under two names. It needs
 * nothing of the user's namespace: evaluate it with `ns: "fresh"`.
 */
export function modulesOfFileExpr(file: string): string {
  // A JSON string is a valid Python string literal (JSON.stringify escapes
  // quotes, backslashes and control characters the way Python reads them).
  const lit = JSON.stringify(file);
  return (
    "(lambda os, sys, p: sorted(n for n, m in list(sys.modules.items()) " +
    'if isinstance(getattr(m, "__file__", None), str) and os.path.realpath(m.__file__) == p))' +
    `(__import__("os"), __import__("sys"), __import__("os").path.realpath(${lit}))`
  );
}

/**
 * The dotted name a file would be imported as, guessed from the packages
 * around it: its directory and the ones above that hold an `__init__.py`.
 * `mytools/core.py` in a package `mytools` is `mytools.core`; a package's
 * `__init__.py` is the package. Undefined for a file that is not `.py`.
 */
export function guessModuleName(file: string, isPackage: (dir: string) => boolean): string | undefined {
  if (!file.endsWith(".py")) return undefined;
  const parts: string[] = [];
  const base = path.basename(file, ".py");
  if (base !== "__init__") parts.push(base);
  let dir = path.dirname(file);
  while (isPackage(dir)) {
    parts.unshift(path.basename(dir));
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return parts.length ? parts.join(".") : undefined;
}
