"""What a template preloads for one command, learned from its children and kept in the state folder.

One JSON file per command and working folder, in ``$XDG_STATE_HOME/reloadd/warm/``
(``~/.local/state/reloadd/warm/``, as the daemon keeps its own state):
``{"command": [...], "cwd": "...", "modules": [name, ...], "skip": {name: reason}}``.
``modules`` are the names the children reported, in the order first seen (the template
leaves out the project's own); ``skip`` those a template found it must leave out, and why.
Delete the file to learn again from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

MAX_MODULES = 20_000
"""Most module names kept for one command (a bound on the file and the template's work)."""

_NEVER = ("__main__", "__mp_main__", "_reloadd_")


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/reloadd/warm``, or ``~/.local/state/reloadd/warm``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "reloadd" / "warm"


def state_file(folder: Path, command: Sequence[str], cwd: Path) -> Path:
    """The file kept for ``command`` run in ``cwd``."""
    key = json.dumps([list(command), str(cwd)]).encode()
    return folder / f"{hashlib.sha256(key).hexdigest()[:16]}.json"


class Learned:
    """The module names to preload and to leave out, for one command; saved when changed."""

    def __init__(self, path: Path, command: Sequence[str], cwd: Path) -> None:
        self.path = path
        self.command = list(command)
        self.cwd = str(cwd)
        self.modules: dict[str, None] = {}
        self.skip: dict[str, str] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("command") != self.command:
            return
        self.modules = dict.fromkeys(
            name for name in data.get("modules", []) if isinstance(name, str)
        )
        skip = data.get("skip", {})
        if isinstance(skip, dict):
            self.skip = {str(name): str(why) for name, why in skip.items()}

    def add(self, names: Iterable[str]) -> None:
        """Names a child reported (duplicates and ``__main__`` ignored)."""
        for name in names:
            if name not in self.modules and not name.startswith(_NEVER):
                if len(self.modules) >= MAX_MODULES:
                    return
                self.modules[name] = None
                self.dirty = True

    def leave_out(self, skipped: Mapping[str, str]) -> None:
        """Names a template left out, with why."""
        for name, why in skipped.items():
            if self.skip.get(name) != why:
                self.skip[name] = why
                self.dirty = True

    def save(self) -> None:
        """Write the file if anything changed (atomically; a failure leaves the old one)."""
        if not self.dirty:
            return
        data = {
            "command": self.command,
            "cwd": self.cwd,
            "modules": list(self.modules),
            "skip": self.skip,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            return  # the next save tries again; the template reads what is there
        self.dirty = False
