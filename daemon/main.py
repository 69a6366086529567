"""``reloadd serve``: run the daemon for one project in the foreground."""

from __future__ import annotations

import faulthandler
import logging
import sys
import time
from collections.abc import Sequence

from reloadd.daemon.activation import listening_socket
from reloadd.daemon.backends.choose import choose_backend
from reloadd.daemon.backends.polling_router import with_polling
from reloadd.daemon.fd_limit import raise_fd_limit
from reloadd.daemon.heap import map_large_blocks
from reloadd.daemon.instance_lock import InstanceLock
from reloadd.daemon.journal import configure_logging
from reloadd.daemon.saved_state import state_dir
from reloadd.daemon.server import Daemon
from reloadd.daemon.service_status import StatusReporter
from reloadd.daemon.systemd import Notifier
from reloadd.daemon.watchdog import Watchdog, watchdog_period
from reloadd.protocol import ReloaddError
from reloadd.protocol.defaults import DEFAULT_GRACE, DEFAULT_LOG_LEVEL
from reloadd.protocol.endpoint import (
    endpoint_for,
    ensure_private_dir,
    find_project_root,
    parse_tcp_address,
)

log = logging.getLogger("reloadd.daemon")


def serve(
    *,
    root: str | None = None,
    backend: str | None = None,
    watchman_sock: str | None = None,
    log_level: str = DEFAULT_LOG_LEVEL,
    grace: float = DEFAULT_GRACE,
    idle_exit: float = 0.0,
    listen: Sequence[str] = (),
) -> int:
    """Run the daemon until it is stopped; return the process exit status.

    0 when it stopped cleanly (or one already serves the root), 1 with a one-line reason
    when it cannot run (its runtime folder, its backend); 2 is the command line's, for
    usage mistakes only.

    ``idle_exit``: exit cleanly after this many seconds with no client but one-shot tools
    (none connected, none kept for its grace period); 0 means never. ``listen``: network
    endpoints (``tcp://ADDR:PORT``, CurveZMQ only) beside the local one.
    """
    log_target = configure_logging(log_level)
    notifier = Notifier.from_environment()
    if notifier.active:
        # The watchdog's SIGABRT then prints where each thread hung, into the journal.
        faulthandler.enable()
    raise_fd_limit()
    map_large_blocks()
    try:
        project_root = find_project_root(root)
        endpoint = endpoint_for(project_root)
        ensure_private_dir(endpoint.socket_path.parent)
        listen_fd = listening_socket(endpoint.socket_path)
        for address in listen:
            parse_tcp_address(address)
    except ReloaddError as exc:
        print(f"reloadd: {exc}", file=sys.stderr)
        return 1

    lock = InstanceLock(endpoint.lock_path)
    if not lock.acquire():
        pid = lock.holder_pid()
        print(
            f"reloadd: a daemon for {project_root} already runs (pid {pid}) at {endpoint.address}",
            file=sys.stderr,
        )
        return 0
    try:
        if listen_fd is None and endpoint.socket_path.exists():
            log.info(
                "removing the stale socket %s left by a daemon that died", endpoint.socket_path
            )
            endpoint.socket_path.unlink()
        state_path = state_dir() / f"{endpoint.socket_path.stem}.json"
        daemon = Daemon(
            endpoint, grace=grace, state_path=state_path, idle_exit=idle_exit, listen=listen
        )
        daemon.listen_fd = listen_fd
        try:
            chosen = with_polling(
                choose_backend(
                    backend,
                    daemon.changes.put,
                    watchman_sock=watchman_sock,
                    project_root=project_root,
                ),
                daemon.changes.put,
            )
        except ReloaddError as exc:
            print(f"reloadd: {exc}", file=sys.stderr)
            daemon.close()
            return 1
        try:
            daemon.bind(chosen)
        except ReloaddError as exc:  # a network endpoint: its keys, its address
            print(f"reloadd: {exc}", file=sys.stderr)
            daemon.close()
            return 1
        # The poller stats only registered paths: it follows the registry from the start.
        daemon.ctx.registry.listen(chosen)
        log.info(
            "serving %s at %s with the %s backend%s",
            project_root,
            endpoint.address,
            chosen.name,
            "" if listen_fd is None else " (on the socket systemd passed)",
        )
        if notifier.active:
            _tell_systemd_ready(daemon, notifier, log_target)
        try:
            daemon.serve()
        finally:
            notifier.send(STOPPING="1", STATUS="stopping")
            daemon.close()
            log.info("stopped")
        return 0
    finally:
        lock.release()


def _tell_systemd_ready(daemon: Daemon, notifier: Notifier, log_target: str) -> None:
    """``READY=1`` (the endpoint is bound, the backend runs), then keep systemd informed from
    the loop: the status line, and the watchdog's pings if the unit has ``WatchdogSec=``."""
    now = time.monotonic()
    status = StatusReporter(notifier, daemon.ctx, now=now)
    line = status.current()
    if notifier.send(READY="1", STATUS=line):
        status.sent = line
    daemon.timers.append(status)
    period = watchdog_period()
    if period is not None:
        daemon.timers.append(Watchdog(notifier, period, now=now))
    log.info(
        "told systemd it is ready (%s notify); pinging its watchdog every %s; logging to %s",
        notifier.implementation,
        "(no watchdog)" if period is None else f"{period:g} s",
        log_target,
    )
