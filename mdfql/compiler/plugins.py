"""`LOAD '...'`: import a plugin module, the one way a SQL file runs Python code.

What a LOAD names, looked up in this order:

- `LOAD 'my_plugin'` (or `'pkg.module'`): `my_plugin.py` (or the package `my_plugin/`) beside
  the SQL file, else an installed module of that name;
- `LOAD '.my_plugin'`: beside the SQL file only;
- `LOAD 'plugins/my_plugin.py'`: that file, relative to the SQL file (or absolute), imported
  as module `my_plugin` with its folder on the import path (so its own sibling imports work).

Importing runs the module's top-level code, in `check` and `explain` as in `run`
(`mdfql check --no-load` skips it). A module is imported once per process.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from types import ModuleType

from mdfql.errors import MdfqlError, Span


def _beside(name: str, base: Path) -> Path | None:
    """The file of module `name` (dotted) under folder `base`, if there is one."""
    path = base.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _import(name: str, folder: Path | None) -> ModuleType:
    """Import `name`, with `folder` first on the import path while it imports."""
    if folder is None:
        return importlib.import_module(name)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:  # the plugin removed it itself
            pass


def _where(e: BaseException) -> str:
    """`file:line` of the innermost frame of a plugin's exception."""
    frames = traceback.extract_tb(e.__traceback__)
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def load_plugin(module: str, base: Path, span: Span) -> ModuleType:
    """Import the plugin `module` a LOAD names (see the module docstring) for a SQL file in
    folder `base`; every failure is an MdfqlError at the LOAD."""
    text = module.strip()
    if text.endswith(".py") or "/" in text:
        path = (base / text).resolve()
        if not path.is_file():
            raise MdfqlError(f"cannot load plugin '{module}': no file {path}", span)
        name, folder, expected = path.stem, path.parent, path
    elif text.startswith("."):
        name = text.lstrip(".")
        expected = _beside(name, base)
        if expected is None:
            raise MdfqlError(f"cannot load plugin '{module}': no {name}.py beside the SQL "
                             f"file (in {base})", span)
        folder = base
    else:
        name = text
        expected = _beside(name, base)
        folder = base if expected is not None else None
    loaded = sys.modules.get(name)
    if expected is not None and loaded is not None and getattr(loaded, "__file__", None) \
            and Path(loaded.__file__).resolve() != expected.resolve():
        raise MdfqlError(f"cannot load plugin '{module}' from {expected}: a module {name} is "
                         f"already loaded from {loaded.__file__}", span,
                         "give one of the two plugin files another name")
    try:
        return _import(name, folder)
    except ModuleNotFoundError as e:
        if e.name != name.split(".")[0] and e.name != name:  # the plugin's own import failed
            raise _failed(module, e, span) from None
        raise MdfqlError(f"cannot load plugin '{module}': no {name.replace('.', '/')}.py "
                         f"beside the SQL file (in {base}) and no installed module {name}",
                         span, "put the plugin beside the SQL file, or pip install it") from None
    except (Exception, SystemExit) as e:  # the plugin's top-level code failed
        raise _failed(module, e, span) from None


def _failed(module: str, e: BaseException, span: Span | None = None) -> MdfqlError:
    err = MdfqlError(f"plugin '{module}' failed while importing: {type(e).__name__}: {e}"
                     f"{_where(e)}", span, "MDFQL_TRACEBACK=1 prints the plugin's traceback")
    err.internal = e
    return err
