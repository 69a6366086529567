"""The reloadd daemon: one per project root, it watches files for all the project's dev servers.

Run it with ``reloadd serve`` (foreground), ``reloadd start`` (background), as a
systemd user service, or let a client start it on demand.

Concurrency model
=================

Threads, and what each one owns:

* **The main thread** runs the loop in :mod:`~reloadd.daemon.server`. It alone
  owns the ZeroMQ socket (ZeroMQ sockets are not thread-safe) and every piece
  of daemon state: the client :class:`~reloadd.daemon.registry.Registry`, the
  :class:`~reloadd.daemon.history.ChangeHistory`, the
  :class:`~reloadd.daemon.watched_roots.WatchedRoots`, the
  :class:`~reloadd.daemon.outbox.Outbox`, the
  :class:`~reloadd.daemon.events.EventBus` and the state file. Every message
  handler (:mod:`~reloadd.daemon.handlers`), change routing
  (:mod:`~reloadd.daemon.notifier`) and housekeeping runs here, so none of that
  state needs a lock.
* **The watch thread** ``reloadd-watch`` (:mod:`~reloadd.daemon.root_watcher`, one
  thread, one job at a time) calls the backend's ``watch_roots`` for roots a ``watch``
  request needs. A first crawl can take seconds; the main thread keeps serving
  meanwhile. It touches no daemon state: it hands a
  :class:`~reloadd.daemon.root_watcher.RootsWatched` record back.
* **Backend threads** (``reloadd-watchman``, :mod:`~reloadd.daemon.backends.watchman_reader`;
  ``reloadd-builtin``, the built-in watcher's readers) turn file-system events into
  :class:`~reloadd.daemon.backends.base.ChangeBatch` records and hand them over; they
  touch no daemon state either. A backend guards its own roots and clocks with its own
  lock, which the main thread only takes for short reads. Which backend method runs on
  which thread is written in :mod:`~reloadd.daemon.backends.base` (and, for Watchman,
  :mod:`~reloadd.daemon.backends.watchman`).
* **The connection-cap thread** ``reloadd-connections``
  (:mod:`~reloadd.daemon.connection_cap`) owns the ROUTER socket's *monitor* socket, a
  ZeroMQ socket of its own, and nothing else: it counts accepted connections and refuses
  those beyond the cap with ``shutdown(2)`` on their descriptors, without waiting for the
  main thread. It hands nothing over and touches no daemon state.
* **libzmq's I/O thread** accepts connections and moves frames; the daemon's code never
  runs on it.

Hand-over: always data, through an :class:`~reloadd.daemon.inbox.Inbox` (a
locked deque) whose :class:`~reloadd.protocol.wakeup.Wakeup` pipe the loop polls
next to the socket (the one wake-up primitive; the inotify and Watchman readers are
woken with one too, to stop or to take work). Signals wake the loop the same way (a ``Wakeup`` given to
``signal.set_wakeup_fd``; the handler only sets a flag). So the loop sleeps in
one ``poll`` until there is work, and never runs another thread's callbacks.

Why: one thread owning the state makes each handler a plain function of the
state and one message, testable and free of races; the only slow calls
(crawling a new root, reading Watchman or inotify) are kept off it, so a slow
watch never delays another client's notification.

The client's threads, and the data's whole path from a file write to a restarted dev
server, are in ``docs/architecture.md``.

Failures stay local: an exception while handling one message, one batch or one
housekeeping round is logged with its traceback (rate-limited) and, where a
reply can be sent, answered ``internal``; the loop serves on.
"""

from reloadd.daemon.main import serve

__all__ = ["serve"]
