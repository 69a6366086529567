"""What a dev server reports when its code fails: the exception, and where in the project.

A traceback's innermost frame is often in a library (Django's URL resolver, importlib);
the developer wants the line of *their* code that led there. So the frame reported is
the innermost one in a file under the project root that is not in a virtual
environment or an installed package; failing that, the innermost frame with a file.
A ``SyntaxError`` (and its subclasses) is where its own ``filename`` and ``lineno`` say.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from reloadd.protocol import Crash

LIBRARY_FOLDERS = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox"})
"""Folder names that mark installed code even inside the project root."""


def crash_of(exc: BaseException, root: str | os.PathLike[str]) -> Crash:
    """The :class:`~reloadd.protocol.Crash` a dev server reports for ``exc`` under ``root``."""
    summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
    kind = type(exc).__name__
    message = summary[len(kind) + 2 :] if summary.startswith(kind + ": ") else str(exc)
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        message = exc.msg or message
        return Crash(kind, message, os.path.abspath(exc.filename), max(exc.lineno or 0, 0))
    found = _project_frame(exc, Path(root))
    if found is None:
        return Crash(kind, message)
    filename, line = found
    return Crash(kind, message, filename, line)


def in_project(filename: str, root: Path) -> bool:
    """Whether ``filename`` is the project's own code: under ``root``, not in a library folder."""
    path = Path(os.path.abspath(filename))
    try:
        relative = path.relative_to(root)
    except ValueError:
        return False
    return not LIBRARY_FOLDERS.intersection(relative.parts[:-1])


def _project_frame(exc: BaseException, root: Path) -> tuple[str, int] | None:
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename and not frame.filename.startswith("<")
    ]
    root = Path(os.path.abspath(root))
    for frame in reversed(frames):
        if in_project(frame.filename, root):
            return os.path.abspath(frame.filename), frame.lineno or 0
    if frames:
        return os.path.abspath(frames[-1].filename), frames[-1].lineno or 0
    return None
