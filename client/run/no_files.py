"""The warning for a command that reports no imported file: nothing would restart it.

A Python child reports its imports through the startup hook; a command that is not
Python, or whose Python ignores ``PYTHONPATH`` (``-I``, ``-E``), reports nothing. With
no ``--watch`` either, ``reloadd run`` says so once, ``NO_FILES_WARNING`` seconds
after the child started.
"""

from __future__ import annotations

from collections.abc import Callable

NO_FILES_WARNING = 3.0
"""Seconds after which a child that reported no file, with no --watch given, is warned about."""


class NoFilesWarning:
    """Says once that the command reported no file, if it did not within ``NO_FILES_WARNING``."""

    def __init__(self, *, label: str, watch_given: bool, say: Callable[[str], None]) -> None:
        self._label = label
        self._done = watch_given
        self._say = say

    def next_check(self, uptime: float | None, files_known: bool) -> float | None:
        """Seconds until :meth:`check` is due (None: never), for a child up ``uptime`` s."""
        if self._done or files_known or uptime is None:
            return None
        return max(0.0, NO_FILES_WARNING - uptime) + 0.01

    def check(self, uptime: float | None, files_known: bool) -> None:
        """Warn now if it is due."""
        if self._done or files_known or uptime is None or uptime < NO_FILES_WARNING:
            return
        self._done = True
        self._say(
            f"{self._label} has reported no imported file after {NO_FILES_WARNING:g} s (it is "
            "not Python, or its Python ignores PYTHONPATH, as with -I); give --watch GLOB "
            "to say which files restart it"
        )
