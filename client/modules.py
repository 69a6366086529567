"""The files a Python process depends on, found the way Django's autoreloader finds them.

How one module's file and a traceback's file are found is written once, in
:mod:`reloadd.client.run.child_hook`, which ``reloadd run``'s children load alone, by
path (so it cannot import this module, but this one can import it).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Iterable

from reloadd.client.run.child_hook import module_file, traceback_files


def module_files(extra_files: Iterable[str] = ()) -> list[str]:
    """Absolute paths of every imported module's file, plus ``extra_files``, sorted.

    Like Django's ``iter_all_python_module_files``: modules in ``sys.modules``
    whose spec has a location (the zip archive for zip imports), ``__main__``
    by its ``__file__``, and extra files such as those that failed to import.
    Paths are made absolute but not resolved: the daemon resolves symlinks once
    and caches them, which keeps this cheap at every restart.
    """
    found: set[str] = set()
    for module in list(sys.modules.values()):
        filename = _module_file(module)
        if filename:
            found.add(os.path.abspath(filename))
    found.update(os.path.abspath(name) for name in extra_files if name)
    return sorted(found)


def _module_file(module: object) -> str | None:
    if isinstance(module, weakref.ProxyTypes):  # a proxy in sys.modules: its referent may be gone
        return None
    return module_file(module)


def files_in_traceback(exc: BaseException) -> list[str]:
    """The file that made an import fail: a syntax error's file, else the innermost frame's.

    This is what Django adds to its ``_error_files`` so that fixing the file restarts the server.
    """
    return traceback_files(exc)
