"""The ``reloadd run`` supervisor: runs the command, restarts it when one of its files changes.

One loop in the main thread waits (``selectors``) on three things: the
children's import reports, the watcher thread's changes, and signals (SIGCHLD
when the child exits; SIGINT, SIGTERM and SIGHUP to stop). The supervisor, not
the child, registers files with the daemon, so the registration and its watches
live across restarts and a change made while the child restarts is not lost:

* files a child reports are registered with ``since`` = the end of the previous
  read of the report socket, before which they cannot have been read;
* changes that arrive while a child is stopped are folded into that restart;
* a change reported after the next child started restarts it again unless the
  file was last written before that child started (so it read the new version).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from reloadd.client.connection import Client
from reloadd.client.idle_exit import BACKGROUND_IDLE_EXIT, describe_duration
from reloadd.client.polling import CLOCK_MARGIN, written_at
from reloadd.client.run.child import Child
from reloadd.client.run.child_hook import MODULES_ENV, ROOT_ENV
from reloadd.client.run.command import check_command, how_it_ended, shell_status
from reloadd.client.run.conflict import port_conflict
from reloadd.client.run.lifecycle import Lifecycle
from reloadd.client.run.no_files import NoFilesWarning
from reloadd.client.run.options import RunError, RunOptions, describe_command
from reloadd.client.run.reports import Crash, ReportSocket
from reloadd.client.run.signals import SignalInbox
from reloadd.client.run.sockets import SocketSpec, bind, shim_command
from reloadd.client.run.watcher import Changes, RestartRequested, Watcher, WatcherStopped
from reloadd.client.standin import Outage, StandIn
from reloadd.protocol import Role
from reloadd.protocol.endpoint import find_project_root

if TYPE_CHECKING:
    from reloadd.client.warm import WarmStarter

STARTUP_DIR = Path(__file__).with_name("startup")
"""The folder put first on the child's ``PYTHONPATH``: it holds the startup hook."""

RESTART_EXIT_CODE = 3
"""A child exiting with this code asks to be restarted (Django's and werkzeug's convention)."""


QUICK_RESTARTS = 5
"""Restart requests (exit code 3) in a row, each within ``QUICK_EXIT`` of the start, that
count as a crash loop: the supervisor then waits for a change instead."""

QUICK_EXIT = 1.0

IDLE_EXIT_NOTE = (
    f"exits by itself after {describe_duration(BACKGROUND_IDLE_EXIT)} without clients; "
    "'reloadd stop' ends it now"
)
"""What becomes of a daemon that ``reloadd run`` started for a command that could not run."""


class Supervisor:
    """Runs one command under ``reloadd run``; :meth:`run` returns the exit status."""

    reports: ReportSocket
    watcher: Watcher
    lifecycle: Lifecycle
    sockets: list[socket.socket]
    standin: StandIn

    def __init__(self, options: RunOptions, *, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out or sys.stderr
        self.label = describe_command(options.command)
        self.child: Child | None = None
        self.known: set[str] = set()
        """Every file registered with the daemon so far."""
        self.failed: list[str] = []
        """Files named by the traceback of the current child's crash."""
        self.crash: Crash | None = None
        """Where and why the current child crashed, if it reported it."""
        self.failed_binds: list[int] = []
        """Ports the current child could not bind, being in use (under --socket)."""
        self.restarts = 0
        self.waiting = False
        """True while a child that exited by itself waits for a change to start again."""
        self.warm: WarmStarter | None = None
        """With ``--warm``: starts each child, forked from a template when it can."""
        self.no_files = NoFilesWarning(
            label=self.label, watch_given=bool(options.watch), say=self._say
        )
        self._quick_restarts = 0

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGINT, SIGTERM or SIGHUP, then return 0 (or the child's status when
        nothing can restart it, 127 or 126 when the command cannot run, 1 when watching failed)."""
        cannot_run = check_command(self.options.command, cwd=self.options.cwd)
        if cannot_run is not None:  # said before any daemon is started for it
            self._say(cannot_run.reason)
            return cannot_run.status
        status = 1
        with contextlib.ExitStack() as stack:
            self.sockets = [stack.enter_context(self._bind(spec)) for spec in self.options.sockets]
            self.standin = StandIn(self.sockets)
            stack.callback(self.standin.close)
            self.reports = stack.enter_context(contextlib.closing(ReportSocket()))
            self.watcher = Watcher(
                self._make_client, globs=self.options.watch.globs, files=self.options.watch.files
            )
            stack.callback(self.watcher.stop)
            self.lifecycle = Lifecycle(self.watcher, self.sockets, label=self.label, say=self._say)
            stack.callback(self.lifecycle.stopped)  # after the child is stopped, before bye
            signals = SignalInbox()
            stack.callback(signals.close)
            signals.install()
            selector = stack.enter_context(selectors.DefaultSelector())
            selector.register(self.reports, selectors.EVENT_READ)
            selector.register(self.watcher, selectors.EVENT_READ)
            selector.register(signals, selectors.EVENT_READ)
            self.watcher.start()
            if self.options.warm:
                from reloadd.client.warm import WarmStarter  # only then: it loads ctypes

                self.warm = WarmStarter(
                    self.options.command,
                    env=self._child_env(),
                    cwd=self.options.cwd,
                    root=find_project_root(self.options.root),
                    say=self._say,
                )
                stack.callback(self.warm.close)
            try:
                self._spawn()
            except OSError as exc:
                raise RunError(
                    f"cannot run {self.options.command[0]!r}: {exc.strerror or exc}; check the "
                    f"command and PATH (the project's daemon, if this started it, {IDLE_EXIT_NOTE})"
                ) from exc
            stack.callback(self._stop_leftovers)
            assert self.child is not None
            for number, sock in enumerate(self.sockets, start=3):
                self._say(f"listening on {SocketSpec.of(sock)} for the child (fd {number})")
            self._say(
                f"running {self.label} (pid {self.child.pid}); it restarts when one of its "
                "files changes (Ctrl+C stops it)"
            )
            status = self._loop(selector, signals)
        return status

    def _stop_leftovers(self) -> None:
        if self.child is not None and (self.child.poll() is None or self.child.group_alive()):
            self._stop_child()

    def _loop(self, selector: selectors.BaseSelector, signals: SignalInbox) -> int:
        while True:
            selector.select(self._select_timeout())
            stops = signals.stops()  # SIGCHLD needs nothing more: the child is polled below
            if stops:
                self._say(f"{stops[0].name}: stopping {self.label}")
                return 0
            self._read_reports()
            for event in self.watcher.take():
                if isinstance(event, WatcherStopped):
                    self._say(f"stopped watching ({event.error}); stopping {self.label}")
                    return 1
                if isinstance(event, RestartRequested):
                    self.lifecycle.caused_by(event.at)
                    self._restart("a restart was asked for ('reloadd reload')")
                else:
                    self._on_changes(event)
            status = self._check_child()
            if status is not None:
                return status
            if self.child is not None and self.child.poll() is None:
                ready = self.lifecycle.check()
                if ready is not None and self.warm is not None:
                    self.warm.child_ready()
            self.no_files.check(
                None if self.child is None else self.child.uptime(), bool(self.known)
            )

    # -- children -------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(name, None)
        env.update(self.reports.environment())
        env[ROOT_ENV] = str(
            find_project_root(self.options.root)
        )  # where a crash's line is looked for
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(STARTUP_DIR) + (os.pathsep + path if path else "")
        if self.options.warm:
            env[MODULES_ENV] = "1"  # the names a template preloads
        return env

    def _spawn(self) -> None:
        self.standin.stop()  # from here on, connections wait in the backlog for the child
        env = self._child_env()
        command = list(self.options.command)
        fds = [sock.fileno() for sock in self.sockets]
        for sock in self.sockets:
            sock.setblocking(True)  # a previous child may have made the shared socket non-blocking
        if fds:
            command = shim_command(fds, command)
        self.failed = []
        self.crash = None
        self.failed_binds = []
        warm = self.warm
        start = None if warm is None else (lambda: warm.start(listen_fds=fds))
        self.child = Child(command, env=env, cwd=self.options.cwd, pass_fds=fds, start=start)
        self.reports.reset_since(self.child.started_at)
        self.lifecycle.started(self.child.pid)

    def _restart(self, reason: str) -> None:
        began = time.monotonic()
        stop_ms = 0.0
        was_waiting, self.waiting = self.waiting, False
        if self.child is not None and (self.child.poll() is None or self.child.group_alive()):
            self._stop_child()
            stop_ms = (time.monotonic() - began) * 1000
        # Changes seen until now were made before the next child starts: it reads them.
        for event in self.watcher.take():
            if isinstance(event, WatcherStopped):
                self.watcher.put_back(event)
        try:
            self._spawn()
        except OSError as exc:
            self.child = None
            self.waiting = True
            self.lifecycle.failed_to_start(exc)
            what = f"cannot run {self.options.command[0]!r} ({exc.strerror or exc})"
            self._say(f"{what}; waiting for a change to try again")
            self.standin.start(Outage(what))
            return
        self.restarts += 1
        total_ms = (time.monotonic() - began) * 1000
        if was_waiting:
            self._say(f"{reason}; started again")
        else:
            assert self.child is not None
            how = ", forked from the template" if getattr(self.child.process, "warm", False) else ""
            self._say(
                f"{reason}; restarted in {total_ms:.0f} ms{how} (stopping took {stop_ms:.0f} ms)"
            )

    def _stop_child(self) -> None:
        assert self.child is not None
        gentle = self.child.stop(
            self.options.stop_signal, self.options.stop_timeout, meanwhile=self._read_reports
        )
        if not gentle:
            self._say(
                f"{self.label} did not stop within {self.options.stop_timeout:g} s of "
                f"{self.options.stop_signal.name}; killed its process group"
            )
        self._read_reports()

    def _check_child(self) -> int | None:
        """Handle the child's own exit; return an exit status when the supervisor should end."""
        child = self.child
        if child is None or child.stopping:
            return None
        code = child.poll()
        if code is None:
            return None
        child.stopping = True  # handled once
        if child.group_alive():
            self._stop_child()  # what it left behind, so that the next start finds the port free
        if code == RESTART_EXIT_CODE:
            quick = child.uptime() < QUICK_EXIT
            self._quick_restarts = self._quick_restarts + 1 if quick else 0
            if self._quick_restarts < QUICK_RESTARTS:
                self.lifecycle.caused_by(time.monotonic())
                self._restart(f"{self.label} exited with code 3 (a restart request)")
                return None
        self._quick_restarts = 0
        self._read_reports()
        if not self.known and not self.options.watch:
            self._say(
                f"{self.label} {how_it_ended(code)}; it reported no imported file and no "
                "--watch was given, so nothing can restart it"
            )
            return shell_status(code)
        self.waiting = True
        self.lifecycle.ended(code, self.crash)
        if code == RESTART_EXIT_CODE:
            self._say(
                f"{self.label} asked for a restart {QUICK_RESTARTS} times in a row, each "
                f"within {QUICK_EXIT:g} s of starting"
            )
        where = f" (the traceback ends in {', '.join(self._show(p) for p in self.failed)})"
        what = f"{self.label} {how_it_ended(code)} after {child.uptime():.1f} s"
        self._say(
            f"{what}{where if self.failed else ''}; waiting for a change to one of its "
            f"{len(self.known)} files{' or --watch globs' if self.options.watch else ''} "
            "to start it again"
        )
        self._while_down(what)
        return None

    def _while_down(self, what: str) -> None:
        """With --socket: say if the child bound our port itself; answer connections meanwhile."""
        if not self.sockets:
            return
        ports = [int(sock.getsockname()[1]) for sock in self.sockets]
        hint = port_conflict(self.options.command, ports, self.crash, self.failed_binds) or ""
        if hint:
            self._say(hint)
        error = ""
        if self.crash is not None:
            where = self._show(self.crash.path) if self.crash.path else ""
            line = f":{self.crash.line}" if where and self.crash.line else ""
            error = f"{where}{line}: {self.crash.error}" if where else self.crash.error
        crash = None if self.crash is None else self.crash.report()
        self.standin.start(Outage(what, error, hint, crash=crash))

    # -- reports and changes --------------------------------------------------------------------

    def _read_reports(self) -> None:
        batch = self.reports.read()
        self.crash = batch.crash or self.crash
        self.failed_binds.extend(batch.bind_failed)
        paths = self.options.ignore.keep(batch.imported + batch.failed)
        self.failed.extend(path for path in batch.failed if path not in self.failed)
        if batch.imported:
            self.lifecycle.imported()
        if self.warm is not None and batch.modules:
            self.warm.learn(batch.modules)
        new = [path for path in dict.fromkeys(paths) if path not in self.known]
        if new:
            self.known.update(new)
            self.watcher.watch(new, since=batch.since - CLOCK_MARGIN)

    def _on_changes(self, changes: Changes) -> None:
        paths = self.options.ignore.keep(str(path) for path in changes.paths)
        child = self.child
        if child is not None:
            # A file last written before the child started was read by it as it is now.
            paths = [p for p in paths if written_at(p) >= child.started_at - CLOCK_MARGIN]
        if not paths:
            return
        self.lifecycle.caused_by(changes.received)
        shown = self._show(paths[0]) + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
        self._restart(f"{shown} changed")

    def _show(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.options.cwd))
        except ValueError:
            return path

    # -- odds and ends --------------------------------------------------------------------------

    def _make_client(self) -> Client:
        return Client(self.options.root, name=self.options.client_name(), role=Role.SERVER)

    def _bind(self, spec: SocketSpec) -> socket.socket:
        try:
            return bind(spec)
        except OSError as exc:
            raise RunError(
                f"cannot listen on {spec} ({exc.strerror or exc}); stop what uses it or "
                "choose another --socket"
            ) from exc

    def _select_timeout(self) -> float | None:
        uptime = None if self.child is None else self.child.uptime()
        due = [
            self.lifecycle.next_check(),
            self.no_files.next_check(uptime, bool(self.known)),
        ]
        return min((seconds for seconds in due if seconds is not None), default=None)

    def _say(self, text: str) -> None:
        print(f"reloadd: {text}", file=self.out, flush=True)


def run(options: RunOptions) -> int:
    """Run ``options.command`` under a supervisor; return the exit status for ``reloadd run``."""
    return Supervisor(options).run()
