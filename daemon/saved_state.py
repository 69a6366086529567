"""What a daemon leaves on disk for the next one: the watched roots and their Watchman clocks.

Kept in ``$XDG_STATE_HOME/reloadd/<hash of the root>.json`` (``~/.local/state`` by
default), so a restarted daemon re-watches the same roots at once and asks
Watchman for what changed while it was down.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("reloadd.daemon")


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/reloadd``, or ``~/.local/state/reloadd``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "reloadd"


@dataclass
class SavedState:
    """The roots a daemon watched, with a clock per root and when it was saved."""

    backend: str = ""
    saved_at: float = 0.0
    clocks: dict[str, str] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)


def load(path: Path) -> SavedState:
    """Read the state file; an empty state if it is missing or unreadable (logged)."""
    try:
        raw = json.loads(path.read_text())
        return SavedState(
            backend=str(raw.get("backend", "")),
            saved_at=float(raw.get("saved_at", 0.0)),
            clocks={str(k): str(v) for k, v in dict(raw.get("clocks", {})).items()},
            roots=[str(root) for root in raw.get("roots", [])],
        )
    except (FileNotFoundError, NotADirectoryError):
        return SavedState()  # none saved yet (or no state folder can exist: said when saving)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring the unreadable state file %s: %s", path, exc)
        return SavedState()


def save(path: Path, state: SavedState) -> None:
    """Write the state file atomically (a crash never leaves half a file).

    Raises :class:`OSError` when the folder cannot be created or written; the caller
    decides how loudly to say so (saving is best effort).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps(state.__dict__, indent=1, sort_keys=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
