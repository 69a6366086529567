"""What a dev server reports when its code fails: the exception, and where in the project.

The rule (the innermost frame of the project's own code; a ``SyntaxError`` where it
says) is :mod:`reloadd.client.project_frames`, which ``reloadd run``'s child hook
shares; this module turns its answer into the protocol's :class:`~reloadd.protocol.Crash`.
"""

from __future__ import annotations

import os

from reloadd.client.project_frames import LIBRARY_FOLDERS, describe, in_project
from reloadd.protocol import Crash

__all__ = ["LIBRARY_FOLDERS", "crash_of", "in_project"]


def crash_of(exc: BaseException, root: str | os.PathLike[str]) -> Crash:
    """The :class:`~reloadd.protocol.Crash` a dev server reports for ``exc`` under ``root``."""
    kind, message, filename, line = describe(exc, root)
    return Crash(kind, message, filename, line)
