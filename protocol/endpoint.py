"""Where a project's daemon lives: the project root rule and the endpoint rule.

* The root is the given one, else the nearest folder upward from the working
  directory holding one of :data:`ROOT_MARKERS`, else the working directory.
* The endpoint is ``ipc://<runtime dir>/<hash of the resolved root>.sock``, in
  ``$XDG_RUNTIME_DIR/reloadd`` or, when that is unset or would make the socket path
  longer than :data:`MAX_SOCKET_PATH_BYTES`, in ``$TMPDIR/reloadd-<uid>`` (``/tmp``
  without ``TMPDIR``). The root's hash is of its bytes, so any folder name works.
* Only its owner gets in: the runtime folder is created 0700, and both sides refuse
  a folder (and the client a socket) that another user owns or could open, before
  the daemon binds and before a client says a word (:func:`ensure_private_dir`,
  :func:`check_endpoint`). Every failure is an :class:`EndpointError` of one line.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from reloadd.protocol.errors import EndpointError
from reloadd.protocol.limits import MAX_SOCKET_PATH_BYTES
from reloadd.protocol.record import Record

ROOT_MARKERS = (".watchmanconfig", ".git", "pyproject.toml")
"""Files or folders whose presence makes a folder a project root, nearest first."""


def find_project_root(
    root: str | os.PathLike[str] | None = None, *, cwd: Path | None = None
) -> Path:
    """Return the resolved project root: ``root`` if given, else found upward from ``cwd``.

    Raises :class:`EndpointError` when it is no folder, or the working folder cannot be read.
    """
    try:
        if root is not None:
            resolved = Path(root).expanduser().resolve()
            if not resolved.is_dir():
                raise EndpointError(
                    f"project root {resolved} is not a folder; pass an existing --root"
                )
            return resolved
        start = (cwd or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if any((folder / marker).exists() for marker in ROOT_MARKERS):
                return folder
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        raise EndpointError(
            f"cannot find the project root ({exc}); run from inside your project or pass --root"
        ) from exc
    return start


_SOCKET_NAME_LENGTH = len("0123456789abcdef.sock")


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder holding every project's endpoint for this user (not created here).

    ``$XDG_RUNTIME_DIR/reloadd``, unless that is unset or too long for a socket path
    (:data:`MAX_SOCKET_PATH_BYTES`): then :func:`temp_runtime_dir`.
    """
    env = os.environ if env is None else env
    base = env.get("XDG_RUNTIME_DIR")
    if base:
        folder = Path(base) / "reloadd"
        if _fits(folder) or not _fits(temp_runtime_dir(env)):
            return folder
    return temp_runtime_dir(env)


def temp_runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$TMPDIR/reloadd-<uid>`` (``/tmp/reloadd-<uid>`` without ``TMPDIR``): the fallback folder."""
    env = os.environ if env is None else env
    return Path(env.get("TMPDIR") or "/tmp") / f"reloadd-{os.getuid()}"


def _fits(folder: Path) -> bool:
    return len(os.fsencode(folder)) + 1 + _SOCKET_NAME_LENGTH <= MAX_SOCKET_PATH_BYTES


def _check_length(endpoint: Endpoint) -> None:
    if len(os.fsencode(endpoint.socket_path)) > MAX_SOCKET_PATH_BYTES:
        raise EndpointError(
            f"the socket path {endpoint.socket_path} is longer than the "
            f"{MAX_SOCKET_PATH_BYTES} bytes a Unix socket allows; set XDG_RUNTIME_DIR "
            "(or TMPDIR) to a shorter folder"
        )


def check_endpoint(endpoint: Endpoint) -> bool:
    """What a client calls before connecting: whether a socket is there to say hello to.

    False when the folder or the socket does not exist (or the socket path holds
    something else, which a daemon replaces). Raises :class:`EndpointError` when the
    path is too long, or the folder or socket is not this user's alone: the client
    must not send its name and files there.
    """
    _check_length(endpoint)
    folder = endpoint.socket_path.parent
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EndpointError(
            f"cannot open the runtime folder {folder} ({exc.strerror}); if XDG_RUNTIME_DIR is "
            "another user's (after 'sudo -E'?), unset it or point it to a folder of your own"
        ) from exc
    _check_private(folder, info)
    try:
        info = endpoint.socket_path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise EndpointError(f"cannot open the socket {endpoint.socket_path}: {exc}") from exc
    if not stat.S_ISSOCK(info.st_mode):
        return False
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise EndpointError(
            f"the socket {endpoint.socket_path} belongs to user id {info.st_uid} (mode "
            f"{stat.S_IMODE(info.st_mode):o}), not to you alone; remove it, and find who made it"
        )
    return True


def ensure_private_dir(
    path: Path,
    *,
    what: str = "the runtime folder",
    error: type[EndpointError] = EndpointError,
    foreign: str = "remove it or set XDG_RUNTIME_DIR to a folder of your own",
) -> Path:
    """Create ``path`` mode 0700 if missing; raise ``error`` if it is not private.

    ``what`` names the folder in the messages, and ``foreign`` says what to do about one
    that another user owns.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise error(f"cannot create {what} {path}: {exc}") from exc
    return _check_private(path, info, error=error, foreign=foreign)


def _check_private(
    path: Path,
    info: os.stat_result,
    *,
    error: type[EndpointError] = EndpointError,
    foreign: str = "remove it or set XDG_RUNTIME_DIR to a folder of your own",
) -> Path:
    if not stat.S_ISDIR(info.st_mode):
        raise error(f"{path} is not a folder (a symlink?); remove it and try again")
    if info.st_uid != os.getuid():
        raise error(
            f"{path} belongs to user id {info.st_uid}, not to you ({os.getuid()}); {foreign}"
        )
    if info.st_mode & 0o077:
        raise error(
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
    """The endpoint of the daemon for resolved project ``root`` (the folder is not created here).

    Daemon and clients both call it, so they agree. Raises :class:`EndpointError` when
    even the fallback folder makes the socket path too long to bind or connect.
    """
    endpoint = endpoint_in(runtime_dir(env), root)
    _check_length(endpoint)
    return endpoint


def endpoint_in(folder: Path, root: Path) -> Endpoint:
    """The endpoint of ``root``'s daemon in runtime folder ``folder``, unchecked."""
    name = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
    return Endpoint(
        root=root,
        socket_path=folder / f"{name}.sock",
        lock_path=folder / f"{name}.lock",
        log_path=folder / f"{name}.log",
    )


TCP_SCHEME = "tcp://"


def parse_tcp_address(text: str) -> str:
    """Check a network endpoint, ``tcp://HOST:PORT``; return it, or raise :class:`EndpointError`.

    HOST is a name, an IPv4 address, ``[an IPv6 address]`` or ``*`` (every interface, for
    ``--listen`` only); PORT is 1 to 65535.
    """
    if not text.startswith(TCP_SCHEME):
        raise EndpointError(
            f"{text!r} is no network endpoint: write tcp://HOST:PORT (e.g. tcp://0.0.0.0:7650)"
        )
    host, sep, port = text[len(TCP_SCHEME) :].rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise EndpointError(
            f"{text!r} needs a host and a port from 1 to 65535: tcp://HOST:PORT "
            "(an IPv6 address in brackets: tcp://[::1]:7650)"
        )
    if any(c.isspace() for c in host) or (host.startswith("[") != host.endswith("]")):
        raise EndpointError(f"{text!r} has no valid host; write tcp://HOST:PORT")
    return text


class RemoteEndpoint(Record):
    """A daemon reached over the network (``RELOADD_ENDPOINT=tcp://HOST:PORT``), on another
    machine or outside this container: nothing of it is on this file system."""

    root: Path
    """This client's own project root (the daemon's may have another path)."""
    address: str
    """``tcp://HOST:PORT``."""


def where_to_look(endpoint: Endpoint | RemoteEndpoint) -> str:
    """The end of an error message: what the user can run or read to see why."""
    if isinstance(endpoint, RemoteEndpoint):
        return (
            f"check that 'reloadd serve --listen' runs where {endpoint.address} points, that "
            "its port is reachable from here, and its log for a refused key"
        )
    return f"see 'reloadd status --root {endpoint.root}' and its log {endpoint.log_path}"
