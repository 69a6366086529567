"""Where an exception happened in the project's own code: the one rule every integration reports by.

A traceback's innermost frame is often in a library (Django's URL resolver, importlib);
the developer wants the line of *their* code that led there. So the place reported is
the innermost frame in a file under the project root that is not in a virtual
environment or an installed package; failing that, the innermost frame with a file.
A ``SyntaxError`` (and its subclasses) is where its own ``filename`` and ``lineno`` say.

Standard library only, no ``reloadd`` import, Python 3.8 syntax: ``reloadd run``'s
child hook loads this file by its path, in the child's own interpreter (which may not
have reloadd installed), when the child ends on an uncaught exception.
:func:`reloadd.client.crash.crash_of` builds the protocol's ``Crash`` from :func:`describe`.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

LIBRARY_FOLDERS = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox"})
"""Folder names that mark installed code even inside the project root."""


def describe(exc: BaseException, root: str | os.PathLike[str] | None) -> tuple[str, str, str, int]:
    """``(type, message, file, line)`` for ``exc``: its class name, its message, and the
    project's place it came from (``""`` and ``0`` when no frame has a file).

    With ``root`` None, no file is the project's: the innermost frame is the place.
    """
    summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
    kind = type(exc).__name__
    message = summary[len(kind) + 2 :] if summary.startswith(kind + ": ") else str(exc)
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        return kind, exc.msg or message, os.path.abspath(exc.filename), max(exc.lineno or 0, 0)
    found = project_frame(exc, root)
    if found is None:
        return kind, message, "", 0
    return kind, message, found[0], found[1]


def in_project(filename: str, root: Path) -> bool:
    """Whether ``filename`` is the project's own code: under ``root``, not in a library folder."""
    path = Path(os.path.abspath(filename))
    try:
        relative = path.relative_to(root)
    except ValueError:
        return False
    return not LIBRARY_FOLDERS.intersection(relative.parts[:-1])


def project_frame(
    exc: BaseException, root: str | os.PathLike[str] | None
) -> tuple[str, int] | None:
    """The absolute file and line of the innermost project frame of ``exc``'s traceback
    (else of its innermost frame with a file), or None when no frame has a file."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename and not frame.filename.startswith("<")
    ]
    if root is not None:
        folder = Path(os.path.abspath(root))
        for frame in reversed(frames):
            if in_project(frame.filename, folder):
                return os.path.abspath(frame.filename), frame.lineno or 0
    if frames:
        return os.path.abspath(frames[-1].filename), frames[-1].lineno or 0
    return None
