"""Every daemon of this user: found by its socket in the runtime folders, asked for its status.

A daemon holds an exclusive ``flock`` on ``<hash>.lock`` next to its socket for
its whole life (``reloadd.daemon.instance_lock``), and the kernel drops it when
the process dies. So a socket whose lock nobody holds was left by a dead daemon:
it is stale, and removing it while holding that lock is safe (no daemon of that
project can bind its socket meanwhile). A socket whose lock is held but that does
not answer belongs to a live daemon that is busy or hung: it is left alone.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import zmq

from reloadd.client.channel import Channel
from reloadd.protocol import (
    DaemonError,
    DaemonNotRunning,
    Reply,
    Request,
    Status,
    StatusReply,
    Stop,
    Stopping,
)
from reloadd.protocol.endpoint import Endpoint, runtime_dir

PROBE_TIMEOUT = 1.0
"""Seconds a daemon has to answer ``reloadd list`` or ``reloadd stop --all``."""

R = TypeVar("R", bound=Reply)

STOP_TIMEOUT = 10.0
"""Seconds ``reloadd stop`` waits for a daemon's process to exit after it said it stops."""


@dataclass(frozen=True)
class FoundDaemon:
    """A daemon socket found in a runtime folder, and what became of asking it."""

    socket_path: Path
    status: StatusReply | None
    """Its answer to ``status``; None if nothing answered."""
    lock_holder: int | None = None
    """The pid holding the project's lock when nothing answered (alive but not answering)."""
    removed: bool = False
    """The socket was stale (no daemon held its lock) and has been removed."""


def runtime_folders(env: Mapping[str, str] | None = None) -> list[Path]:
    """The folders where this user's daemons may listen: both the XDG one and the /tmp one.

    A daemon started with another environment (a systemd service, a shell without
    ``XDG_RUNTIME_DIR``) lives in the other one. Folders that another user could have
    made are skipped: a socket there could be anyone's.
    """
    env = os.environ if env is None else env
    temp = Path(env.get("TMPDIR") or tempfile.gettempdir()) / f"reloadd-{os.getuid()}"
    candidates = [runtime_dir(env), temp]
    return [folder for folder in dict.fromkeys(candidates) if _private_folder(folder)]


def _private_folder(folder: Path) -> bool:
    try:
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def find_daemons(
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = PROBE_TIMEOUT,
    remove_stale: bool = True,
) -> list[FoundDaemon]:
    """Every daemon socket of this user, each asked for its status; stale ones removed."""
    sockets = sorted(path for folder in runtime_folders(env) for path in folder.glob("*.sock"))
    return [probe(path, timeout=timeout, remove_stale=remove_stale) for path in sockets]


def probe(socket_path: Path, *, timeout: float, remove_stale: bool = True) -> FoundDaemon:
    """Ask the daemon at ``socket_path`` for its status; a stale socket is removed if safe."""
    lock_path = socket_path.with_suffix(".lock")
    if lock_path.exists() and lock_holder(lock_path) is None:
        # Nothing holds the lock, so nothing listens: no need to wait for an answer.
        removed = remove_stale and remove_stale_socket(socket_path)
        return FoundDaemon(socket_path, None, removed=removed)
    try:
        status = request(socket_path, Status(id=1), StatusReply, timeout=timeout)
    except DaemonError:
        holder = lock_holder(lock_path)
        removed = holder is None and remove_stale and remove_stale_socket(socket_path)
        return FoundDaemon(socket_path, None, lock_holder=holder, removed=removed)
    return FoundDaemon(socket_path, status)


def request_stop(socket_path: Path, *, timeout: float = PROBE_TIMEOUT) -> Stopping:
    """Ask the daemon at ``socket_path`` to stop; raise :class:`DaemonError` if it does not answer."""
    return request(socket_path, Stop(id=1), Stopping, timeout=timeout)


def request(socket_path: Path, message: Request, expected: type[R], *, timeout: float) -> R:
    """Send one request (no ``hello``: ``status`` and ``stop`` need none) and return the reply."""
    endpoint = Endpoint(
        root=socket_path.parent,  # not known before it answers; only error messages use it
        socket_path=socket_path,
        lock_path=socket_path.with_suffix(".lock"),
        log_path=socket_path.with_suffix(".log"),
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    channel: Channel | None = None
    try:
        channel = Channel(context, endpoint, lambda paths: None)
        return channel.request(message, expected, timeout=timeout)
    except zmq.ZMQError as exc:
        raise DaemonNotRunning(f"cannot connect to {endpoint.address}: {exc}") from exc
    finally:
        if channel is not None:
            channel.close()
        context.term()


def lock_holder(lock_path: Path) -> int | None:
    """The pid of the live daemon holding ``lock_path`` (-1 if it has not written it yet),
    or None if nobody holds it.

    The lock is taken for an instant to find out; a daemon starting at that very
    instant finds it held and says that one already runs.
    """
    fd = _open_lock(lock_path)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(lock_path) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def remove_stale_socket(socket_path: Path) -> bool:
    """Remove ``socket_path`` if no daemon holds its lock (held here meanwhile); True if removed."""
    try:  # created if missing, as the daemon does, so that no daemon binds meanwhile
        fd = os.open(
            socket_path.with_suffix(".lock"),
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
            0o600,
        )
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        socket_path.unlink()
    except OSError:
        return False
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return True


def _open_lock(lock_path: Path) -> int | None:
    try:
        return os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None


def _pid_in(lock_path: Path) -> int | None:
    try:
        return int(lock_path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not; one of ours is reaped)."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False  # our own child (started in this process), now reaped
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) said it is there
    return state != "Z"


def wait_exited(pids: Iterable[int], timeout: float | None = None) -> set[int]:
    """Wait up to ``timeout`` seconds (:data:`STOP_TIMEOUT`) for the processes to exit.

    Returns the pids still running then.
    """
    running = set(pids)
    deadline = time.monotonic() + (STOP_TIMEOUT if timeout is None else timeout)
    while running:
        running = {pid for pid in running if process_alive(pid)}
        if not running or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return running
