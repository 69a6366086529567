"""``DaemonReloader``: Django's autoreloader contract, with the watching done by the reloadd daemon.

Django drives a reloader through :class:`django.utils.autoreload.BaseReloader`:
``autoreload_started`` receivers call ``watch_dir()``, then ``run_loop()`` steps
the ``tick()`` generator until ``stop()``. Here the first step registers the
process's files and globs with the project's daemon; every later step waits (at
most :attr:`DaemonReloader.wait_timeout` seconds) for its notification and calls
``notify_file_changed()`` once per changed file, so that Django's ``file_changed``
receivers decide between a restart and, for a template or a ``.mo`` file, a
cache reset.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any, Protocol

from django.core.signals import request_finished  # type: ignore[import-untyped]
from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client import Client, default_name, module_files, process_start_time
from reloadd.client.django import warm_report
from reloadd.client.django.lifecycle import RESTART_CODE, Lifecycle
from reloadd.client.polling import written_at
from reloadd.protocol import Crash, ProtocolError, ReloaddError, Role, ServerState
from reloadd.protocol.globs import compile_glob, glob_matches

log = logging.getLogger("reloadd.client.django")

WAIT_TIMEOUT = 1.0
"""Longest single wait for a notification: how soon ``stop()`` and newly imported modules are seen."""

_DJANGO_MODULE_FILES = autoreload.iter_all_python_module_files
_BASE_WATCHED_FILES = autoreload.BaseReloader.watched_files


class DaemonUnavailable(autoreload.WatchmanUnavailable, ReloaddError):  # type: ignore[misc]
    """The reloadd daemon cannot be reached or started.

    A :class:`~reloadd.protocol.ReloaddError`, and a subclass of Django's
    ``WatchmanUnavailable``, the error its reloaders' ``check_availability()``
    raise, so code written against that convention handles it too.
    """


class WatchClient(Protocol):
    """What :class:`DaemonReloader` uses of a :class:`~reloadd.client.Client` (tests pass a stand-in)."""

    def watch(
        self, files: Iterable[str], globs: Iterable[tuple[str, str]], *, since: float
    ) -> object:
        """Add files and ``(directory, pattern)`` globs; return once they are watched."""
        ...

    def wait(self, timeout: float | None = None) -> list[Path]:
        """The changed paths, or ``[]`` after ``timeout`` seconds."""
        ...

    @property
    def root(self) -> Path:
        """The project root."""
        ...

    @property
    def restart_requested(self) -> bool:
        """Whether the last ``wait()`` returned because a restart was asked for."""
        ...

    def report_state(
        self, state: ServerState, *, error: Crash | None = None, duration_ms: int | None = None
    ) -> None:
        """Tell the daemon this server's state (see :mod:`reloadd.client.django.lifecycle`)."""
        ...

    def close(self) -> None:
        """Say goodbye to the daemon."""
        ...


def connect_client(*, name: str | None = None, role: Role = Role.SERVER) -> Client:
    """A client of this project's daemon (started if none runs); :class:`DaemonUnavailable` if none can be.

    Once connected, a daemon that goes away later is replaced, or the client
    polls in-process (saying so) until one is back: the server never goes deaf.
    """
    try:
        client = Client(name=name, role=role, fallback=False)
    except (ReloaddError, OSError) as exc:
        raise DaemonUnavailable(_first_line(exc)) from exc
    client.fallback = True
    return client


def warn(message: str) -> None:
    """Print one ``reloadd:`` line on stderr, where runserver's own messages go."""
    print(f"reloadd: {message}", file=sys.stderr, flush=True)


class DaemonReloader(autoreload.BaseReloader):  # type: ignore[misc]
    """A Django autoreloader that has the project's reloadd daemon watch its files.

    ``watch_dir()`` and ``watched_files()`` behave as in every Django reloader.
    :meth:`tick` registers what ``watched_files(include_globs=False)`` yields (the
    imported modules, the files that failed to import, ``extra_files``; a subclass's
    or a patch's own list included) with ``since`` set to the start of the process,
    so that an edit made while Django imported still counts, and the directory
    globs from the moment it registers them, as Django's own reloaders do (a file
    merely created under a glob before then is no change). Modules imported later
    (say during a request) are added as they appear, without sending everything again.
    A notified file last written before it was registered (the file as Django read
    it, reported late) is not passed on. A restart asked for with ``reloadd reload``
    exits with code 3, as a changed ``.py`` file does. The server's state (starting,
    ready, crashed, stopped) is reported to the daemon: see
    :mod:`reloadd.client.django.lifecycle`.

    ``client`` is a connection to use instead of making one in :meth:`connect`;
    ``since`` (a Unix time) replaces the process's start time as the ``since``
    of the first registration. The reloader closes its client when it stops.
    """

    wait_timeout = WAIT_TIMEOUT
    """Seconds one ``tick()`` step waits for a notification at most."""

    def __init__(self, client: WatchClient | None = None, *, since: float | None = None) -> None:
        super().__init__()
        self.client: WatchClient | None = client
        self.since = process_start_time() if since is None else since
        self._owner: int | None = None
        """The thread that uses the client (a client is not thread-safe)."""
        self._files: set[str] = set()
        self._globs: dict[tuple[str, str], float] = {}
        """Each registered glob → the time it was registered from (its ``since``)."""
        self._skipped_globs: set[tuple[str, str]] = set()
        self._fingerprint: tuple[int, ...] = ()
        self._scanned_at = self.since
        self._request_done = threading.Event()
        self._fallback: Any = None
        self._fallback_reason: BaseException | None = None
        self.lifecycle = Lifecycle()
        """The states reported for this server process."""

    @classmethod
    def check_availability(cls) -> bool:
        """Return True if the project's daemon answers or can be started; raise :class:`DaemonUnavailable`."""
        connect_client(name=f"{default_name()[:230]} (check)", role=Role.TOOL).close()
        return True

    def connect(self) -> None:
        """Connect to the project's daemon unless connected; raise :class:`DaemonUnavailable` if it cannot."""
        if self.client is None:
            self.client = connect_client()
            self._owner = threading.get_ident()
            self._files.clear()  # a new connection starts with nothing registered
            self._globs.clear()
            self.lifecycle.starting(self.client)

    def run(self, django_main_thread: threading.Thread) -> None:
        """Django's ``run()``, knowing the server's thread (whose death before serving is a crash)."""
        self.lifecycle.server_thread = django_main_thread
        try:
            super().run(django_main_thread)
        except BaseException as exc:  # reported, then passed on untouched
            self._end(exc)
            self._close_client()  # sends what was reported before the process exits
            raise

    def tick(self) -> Generator[None, None, None]:
        """Register the watch set (first step), then wait for changes and notify each changed file."""
        try:
            self.connect()
        except DaemonUnavailable as exc:
            self._fallback_reason = exc
            yield from self._run_fallback()
            return
        self._owner = threading.get_ident()
        request_finished.connect(self._request_finished)
        try:
            if not self._register(self.since):
                yield from self._run_fallback()
                return
            yield
            while not self.should_stop and self.client is not None:
                if self._needs_scan() and not self._register(self._scanned_at):
                    yield from self._run_fallback()
                    return
                try:
                    changed = self.client.wait(timeout=self.lifecycle.wait_slice(self.wait_timeout))
                except ReloaddError as exc:
                    self._fallback_reason = exc
                    yield from self._run_fallback()
                    return
                self.lifecycle.check(self.client)
                for path in changed:
                    # Folders match "**/*" too; like Django's Watchman reloader, report files only.
                    if not path.is_dir() and self._written_since_registered(path):
                        self.notify_file_changed(path)
                if self.client.restart_requested:
                    autoreload.logger.info("A restart was asked for (reloadd reload), reloading.")
                    sys.exit(3)
                yield
        except BaseException as exc:
            self._end(exc)
            raise
        finally:
            request_finished.disconnect(self._request_finished)
            self._close_client()

    def stop(self) -> None:
        """End ``run_loop()``; from the thread that runs the reloader (or if none ran it), say goodbye."""
        super().stop()
        if self._fallback is not None:
            self._fallback.stop()
        if self._owner is None or threading.get_ident() == self._owner:
            self._close_client()

    # -- registration ---------------------------------------------------------------------------

    def _register(self, since: float) -> bool:
        """Send what is not registered yet; False (and a reason kept) if the daemon refuses it."""
        assert self.client is not None
        scanned_at = time.time()
        self._fingerprint = self._current_fingerprint()
        self._request_done.clear()
        files = self._watched_files() - self._files
        globs = self._new_globs()
        try:
            if files:
                self.client.watch(sorted(files), [], since=since)
            if globs:
                self.client.watch([], sorted(globs), since=scanned_at)
        except ReloaddError as exc:
            self._fallback_reason = exc
            return False
        self._files |= files
        self._globs.update(dict.fromkeys(globs, scanned_at))
        if files or globs:
            log.debug(
                "registered %d more files and %d more globs with the reloadd daemon",
                len(files),
                len(globs),
            )
        self._scanned_at = scanned_at
        return True

    def _watched_files(self) -> set[str]:
        """What ``watched_files(include_globs=False)`` yields, as absolute paths.

        Unless a subclass or a patch changed ``watched_files()`` or Django's
        ``iter_all_python_module_files()``, the same files are found without
        resolving each path (the daemon resolves them, once): 20 times faster.
        """
        watched_files = getattr(self.watched_files, "__func__", None)
        if (
            watched_files is _BASE_WATCHED_FILES
            and autoreload.iter_all_python_module_files is _DJANGO_MODULE_FILES
        ):
            return set(module_files(self._extra_files()))
        found = {os.path.abspath(os.fspath(name)) for name in self.watched_files(False)}
        return {name for name in found if not os.path.basename(name).startswith("<")}

    def _written_since_registered(self, path: Path) -> bool:
        """Whether ``path`` is this reloader's, written (or deleted) after it was registered from.

        A path that none of its files and globs covers is not its own (a registration
        taken back from a reloader before it, in an older daemon, may hold others).
        """
        name = str(path)
        if name in self._files:
            since = self.since
        else:
            times = [at for (d, p), at in self._globs.items() if glob_matches(d, p, name)]
            if not times:
                return False
            since = min(times)
        return written_at(name) > since

    def _extra_files(self) -> list[str]:
        """``extra_files`` and the files that failed to import (Django's ``_error_files``)."""
        extra = [os.fspath(name) for name in list(self.extra_files)]
        # check_errors() falls back to a traceback's frame, which may be "<frozen ...>".
        extra += [
            str(name) for name in list(autoreload._error_files) if not str(name).startswith("<")
        ]
        return extra

    def _new_globs(self) -> set[tuple[str, str]]:
        """The ``(directory, pattern)`` pairs of ``directory_globs`` not registered yet."""
        pairs: set[tuple[str, str]] = set()
        for directory, patterns in list(self.directory_globs.items()):
            for pattern in list(patterns):
                pair = (str(directory), pattern)
                if pair in self._globs or pair in self._skipped_globs:
                    continue
                try:
                    compile_glob(pattern)
                except ProtocolError as exc:
                    self._skipped_globs.add(pair)
                    log.warning("reloadd cannot watch %s with glob %r: %s", directory, pattern, exc)
                    continue
                pairs.add(pair)
        return pairs

    def _current_fingerprint(self) -> tuple[int, ...]:
        """Cheap counts that change when something may need registering."""
        return (
            len(sys.modules),
            len(autoreload._error_files),
            len(self.extra_files),
            sum(len(patterns) for patterns in list(self.directory_globs.values())),
        )

    def _needs_scan(self) -> bool:
        return self._request_done.is_set() or self._current_fingerprint() != self._fingerprint

    def _request_finished(self, **kwargs: object) -> None:
        """``request_finished`` receiver: a request may have imported modules; scan at the next step."""
        self._request_done.set()

    # -- endings --------------------------------------------------------------------------------

    def _run_fallback(self) -> Generator[None, None, None]:
        """The daemon cannot be used or refused this server's files: go on with Django's own reloader."""
        from reloadd.client.django.hook import django_reloader

        fallback = django_reloader()
        # Share the watch set, so that later watch_dir() calls reach the fallback too.
        fallback.extra_files = self.extra_files
        fallback.directory_globs = self.directory_globs
        self._fallback = fallback
        what = (
            "cannot use the daemon"
            if isinstance(self._fallback_reason, DaemonUnavailable)
            else "the reloadd daemon refused this server's files"
        )
        warn(
            f"{what} ({_first_line(self._fallback_reason)}); "
            f"using Django's {type(fallback).__name__} instead"
        )
        self._close_client()
        yield from fallback.tick()

    def _end(self, exc: BaseException) -> None:
        """The reloader stops on ``exc``: report ``stopped`` unless it is a restart."""
        if isinstance(exc, SystemExit) and exc.code == RESTART_CODE:
            warm_report.restarting()
        if self.client is not None:
            self.lifecycle.ended(self.client, exc)

    def _close_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return (text.splitlines()[0] if text else type(exc).__name__).rstrip(" :")
