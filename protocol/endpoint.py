"""Where a project's daemon lives: the project root rule and the endpoint rule.

* The root is the given one, else the nearest folder upward from the working
  directory holding one of :data:`ROOT_MARKERS`, else the working directory.
* The endpoint is ``ipc://<runtime dir>/<hash of the resolved root>.sock``, in
  ``$XDG_RUNTIME_DIR/reloadd`` or, when that is unset, ``<tmp>/reloadd-<uid>``.
  The runtime folder is created 0700 and refused when another user owns it or
  could write into it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from reloadd.protocol.errors import EndpointError
from reloadd.protocol.record import Record

ROOT_MARKERS = (".watchmanconfig", ".git", "pyproject.toml")
"""Files or folders whose presence makes a folder a project root, nearest first."""


def find_project_root(
    root: str | os.PathLike[str] | None = None, *, cwd: Path | None = None
) -> Path:
    """Return the resolved project root: ``root`` if given, else found upward from ``cwd``."""
    if root is not None:
        resolved = Path(root).expanduser().resolve()
        if not resolved.is_dir():
            raise EndpointError(f"project root {resolved} is not a folder; pass an existing --root")
        return resolved
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder holding every project's endpoint for this user (not created here)."""
    env = os.environ if env is None else env
    base = env.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / "reloadd"
    import tempfile  # only where XDG_RUNTIME_DIR is unset: it costs a client's import time

    return Path(tempfile.gettempdir()) / f"reloadd-{os.getuid()}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` mode 0700 if missing; raise :class:`EndpointError` if it is not private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise EndpointError(f"cannot create the runtime folder {path}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise EndpointError(f"{path} is not a folder (a symlink?); remove it and try again")
    if info.st_uid != os.getuid():
        raise EndpointError(
            f"{path} belongs to user id {info.st_uid}, not to you ({os.getuid()}); "
            "remove it or set XDG_RUNTIME_DIR to a folder of your own"
        )
    if info.st_mode & 0o077:
        raise EndpointError(
            f"{path} can be opened by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run 'chmod 700 {path}' and try again"
        )
    return path


class Endpoint(Record):
    """The files of one project's daemon in the runtime folder."""

    root: Path
    socket_path: Path
    lock_path: Path
    log_path: Path

    @property
    def address(self) -> str:
        """The ZeroMQ address, ``ipc://…``."""
        return f"ipc://{self.socket_path}"


def endpoint_for(root: Path, env: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint of the daemon for resolved project ``root`` (the folder is not created here)."""
    folder = runtime_dir(env)
    name = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Endpoint(
        root=root,
        socket_path=folder / f"{name}.sock",
        lock_path=folder / f"{name}.lock",
        log_path=folder / f"{name}.log",
    )
