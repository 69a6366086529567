"""``reloadd serve``: run the daemon for one project in the foreground."""

from __future__ import annotations

import logging
import sys

from reloadd.daemon.backends.choose import choose_backend
from reloadd.daemon.backends.polling_router import with_polling
from reloadd.daemon.fd_limit import raise_fd_limit
from reloadd.daemon.heap import map_large_blocks
from reloadd.daemon.instance_lock import InstanceLock
from reloadd.daemon.saved_state import state_dir
from reloadd.daemon.server import Daemon
from reloadd.daemon.systemd import notify
from reloadd.protocol import ReloaddError
from reloadd.protocol.defaults import DEFAULT_GRACE, DEFAULT_LOG_LEVEL
from reloadd.protocol.endpoint import endpoint_for, ensure_private_dir, find_project_root

log = logging.getLogger("reloadd.daemon")


def serve(
    *,
    root: str | None = None,
    backend: str | None = None,
    watchman_sock: str | None = None,
    log_level: str = DEFAULT_LOG_LEVEL,
    grace: float = DEFAULT_GRACE,
    idle_exit: float = 0.0,
) -> int:
    """Run the daemon until it is stopped; return the process exit status.

    0 when it stopped cleanly (or one already serves the root), 1 with a one-line reason
    when it cannot run (its runtime folder, its backend); 2 is the command line's, for
    usage mistakes only.

    ``idle_exit``: exit cleanly after this many seconds with no client but one-shot tools
    (none connected, none kept for its grace period); 0 means never.
    """
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s reloadd[%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    raise_fd_limit()
    map_large_blocks()
    try:
        project_root = find_project_root(root)
        endpoint = endpoint_for(project_root)
        ensure_private_dir(endpoint.socket_path.parent)
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
        if endpoint.socket_path.exists():
            log.info(
                "removing the stale socket %s left by a daemon that died", endpoint.socket_path
            )
            endpoint.socket_path.unlink()
        state_path = state_dir() / f"{endpoint.socket_path.stem}.json"
        daemon = Daemon(endpoint, grace=grace, state_path=state_path, idle_exit=idle_exit)
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
        daemon.bind(chosen)
        # The poller stats only registered paths: it follows the registry from the start.
        daemon.ctx.registry.listen(chosen)
        log.info(
            "serving %s at %s with the %s backend", project_root, endpoint.address, chosen.name
        )
        notify("READY=1")
        try:
            daemon.serve()
        finally:
            notify("STOPPING=1")
            daemon.close()
            log.info("stopped")
        return 0
    finally:
        lock.release()
