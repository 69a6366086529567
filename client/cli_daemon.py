"""``reloadd serve``, ``start`` and ``stop``: a daemon's life from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reloadd.client import daemons
from reloadd.client.cli_root import project_root
from reloadd.client.connection import SPAWN_TIMEOUT, Client
from reloadd.client.daemons import (
    FoundDaemon,
    find_daemons,
    lock_holder,
    remove_stale_socket,
    request_stop,
    wait_exited,
)
from reloadd.client.idle_exit import format_duration, idle_exit_seconds
from reloadd.client.spawn import spawn_daemon
from reloadd.protocol import DaemonError, DaemonNotRunning, ReloaddError, Role
from reloadd.protocol.endpoint import Endpoint, endpoint_for

START_TIMEOUT = SPAWN_TIMEOUT
"""Seconds ``reloadd start`` waits for the daemon it started to answer: as long as a
client waits for one it started."""


def serve(args: argparse.Namespace) -> int:
    """``reloadd serve``: run the daemon in this process until it is stopped."""
    root = project_root(args.root)
    idle_exit = idle_exit_seconds(args.idle_exit)
    from reloadd.daemon.main import serve as serve_daemon  # only this command loads the daemon

    return serve_daemon(
        root=str(root),
        backend=args.backend,
        watchman_sock=args.watchman_sock,
        log_level=args.log_level,
        grace=args.grace,
        idle_exit=idle_exit,
        listen=args.listen,
    )


def start(args: argparse.Namespace) -> int:
    """``reloadd start``: start the project's daemon in the background, unless one runs."""
    root = project_root(args.root)
    endpoint = endpoint_for(root)
    idle_exit = idle_exit_seconds(args.idle_exit, background=True)
    try:
        with Client(root, name="reloadd start", role=Role.TOOL, spawn=False) as client:
            print(
                f"reloadd: a daemon already runs for {root} (pid {client.daemon.pid}) "
                f"at {endpoint.address}"
            )
            return 0
    except ReloaddError:
        pass
    log_start = _size(endpoint.log_path)  # the log is appended to: show only this start's lines
    process = spawn_daemon(
        endpoint,
        backend=args.backend,
        watchman_sock=args.watchman_sock,
        log_level=args.log_level,
        grace=args.grace,
        idle_exit=idle_exit,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with Client(
                root, name="reloadd start", role=Role.TOOL, spawn=False, handshake_timeout=0.5
            ) as client:
                stops = (
                    f"it stops after {format_duration(idle_exit)} with no dev server"
                    if idle_exit
                    else "it runs until 'reloadd stop'"
                )
                print(
                    f"reloadd: started the daemon for {root} (pid {client.daemon.pid}, "
                    f"{client.backend} backend) at {endpoint.address}; {stops}"
                )
                return 0
        except ReloaddError:
            if process.poll() not in (None, 0):
                print(
                    f"reloadd: the daemon for {root} did not start: {_reason(endpoint, log_start)}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.02)
    print(
        f"reloadd: the daemon for {root} (pid {process.pid}) did not answer within "
        f"{START_TIMEOUT:g} s; see its log {endpoint.log_path}",
        file=sys.stderr,
    )
    return 1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _reason(endpoint: Endpoint, offset: int) -> str:
    """Why the daemon just started exited, from its log lines written since ``offset``."""
    try:
        with open(endpoint.log_path, "rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    lines = [line.strip() for line in lines if line.strip()]
    # The daemon says why it gives up in one line of its own, after its log records.
    reasons = [line.removeprefix("reloadd: ") for line in lines if line.startswith("reloadd: ")]
    reason = reasons[-1] if reasons else (lines[-1] if lines else "it logged nothing")
    return f"{reason} (its log: {endpoint.log_path})"


def stop(args: argparse.Namespace) -> int:
    """``reloadd stop [--all]``: stop the daemon and wait until its process has exited."""
    if args.all:
        return _stop_all()
    root = project_root(args.root)
    endpoint = endpoint_for(root)
    try:
        client = Client(root, name="reloadd stop", role=Role.TOOL, spawn=False)
    except DaemonNotRunning:
        holder = lock_holder(endpoint.lock_path)
        if holder is not None:
            print(
                f"reloadd: the daemon for {root} (pid {holder}) does not answer; "
                f"stop it with 'kill {holder}'",
                file=sys.stderr,
            )
            return 1
        if endpoint.socket_path.exists() and remove_stale_socket(endpoint.socket_path):
            print(
                f"reloadd: no daemon runs for {root}; removed the socket "
                f"{endpoint.socket_path} left by one that died"
            )
            return 0
        print(f"reloadd: no daemon runs for {root}; nothing to stop")
        return 0
    with client:
        pid = client.daemon.pid
        client.stop_daemon()
    if wait_exited([pid]):
        print(_still_running(root, pid), file=sys.stderr)
        return 1
    print(f"reloadd: stopped the daemon for {root} (pid {pid})")
    return 0


def _still_running(root: str | Path, pid: int) -> str:
    return (
        f"reloadd: the daemon for {root} (pid {pid}) said it stops but still runs after "
        f"{daemons.STOP_TIMEOUT:g} s; see 'reloadd list', or end it with 'kill {pid}'"
    )


def _stop_all() -> int:
    """Stop every daemon of this user; remove the stale sockets; wait for every process."""
    found = find_daemons()
    failed = False
    asked: list[tuple[FoundDaemon, int]] = []
    for daemon in found:
        if daemon.status is None:
            failed |= _report_silent(daemon)
            continue
        try:
            request_stop(daemon.socket_path)
        except DaemonError as exc:
            print(f"reloadd: could not stop the daemon for {daemon.status.root}: {exc}")
            failed = True
            continue
        asked.append((daemon, daemon.status.pid))
    running = wait_exited(pid for _, pid in asked)
    for daemon, pid in asked:
        assert daemon.status is not None
        if pid in running:
            print(_still_running(daemon.status.root, pid), file=sys.stderr)
            failed = True
        else:
            print(f"reloadd: stopped the daemon for {daemon.status.root} (pid {pid})")
    if not found:
        print("reloadd: no daemon of yours runs; nothing to stop")
    return 1 if failed else 0


def _report_silent(daemon: FoundDaemon) -> bool:
    """Say what became of a socket that answered nobody; True if that is a failure."""
    if daemon.removed:
        print(f"reloadd: removed {daemon.socket_path}, left behind by a daemon that died")
        return False
    if daemon.lock_holder is None:
        print(
            f"reloadd: {daemon.socket_path} answers nobody and could not be removed; "
            "remove it by hand",
            file=sys.stderr,
        )
        return True
    print(
        f"reloadd: the daemon at {daemon.socket_path} (pid {daemon.lock_holder}) does not "
        f"answer; stop it with 'kill {daemon.lock_holder}'",
        file=sys.stderr,
    )
    return True
