"""Runs inside each Python process that ``reloadd run`` starts: reports the files it imports.

The supervisor puts ``startup/`` on ``PYTHONPATH``; its ``sitecustomize`` loads
this file by path (never the ``reloadd`` package, so the child does not import
pyzmq, and any Python 3.8+ interpreter works) and calls :func:`install`.

From then on the process sends the supervisor, over a Unix datagram socket
named by ``RELOADD_RUN_REPORT``, the file of every module as it is found —
before the module runs, so a module that fails to import is reported too — plus
the files of a traceback that ends the process. The child never talks to the
daemon: the supervisor holds the one connection. No thread is started (but for
a short-lived one while the supervisor does not read), so a process that forks
(gunicorn) is not warned about forking with threads; a fork shares the socket,
and datagrams never interleave.

Standard library only; this module must not import ``reloadd``. It is one file
(over 350 lines) for that reason: the startup hook loads it by its path, alone,
so it cannot import sibling modules.
"""

from __future__ import annotations

import _socket
import _thread
import os
import sys
import time
import zipimport
from types import ModuleType, TracebackType

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import, and every child pays for this module
    from collections.abc import Mapping
    from typing import Any

REPORT_ENV = "RELOADD_RUN_REPORT"
"""The variable naming the supervisor's report socket."""

IMPORTED = b"I"
"""Datagram kind: files the process imported (or tried to)."""

FAILED = b"E"
"""Datagram kind: files named by the traceback that ended the process."""

CRASHED = b"C"
"""Datagram kind: where and why the process ended with an uncaught exception (see
:func:`crash_fields`): ``file``, ``line``, the exception's last line, its ``errno``,
its class name and its message; the place is the project's innermost frame."""

BIND_FAILED = b"B"
"""Datagram kind: under ``--socket``, the port of a ``bind`` that failed with ``EADDRINUSE``
(a server binding the port the supervisor holds for it, instead of taking the socket)."""

MODULES = b"M"
"""Datagram kind: names of modules the process imported (or tried to), sent only when
``RELOADD_RUN_MODULES`` is set (``reloadd run --warm``: what a template preloads)."""

MODULES_ENV = "RELOADD_RUN_MODULES"
"""Set (to ``1``) by ``reloadd run --warm``: the hook also reports module names."""

TEMPLATE_ENV = "RELOADD_WARM_TEMPLATE"
"""Set in a warm template's environment only (its bootstrap removes it at once): the hook
stays silent there — no report, no socket — until the template's fork reconnects it."""

SEPARATOR = b"\0"
"""Between the paths of one datagram (a path never holds a NUL byte)."""

MAX_DATAGRAM = 32 * 1024
"""Largest datagram sent; more paths go in several."""

SEND_TIMEOUT = 0.5
"""Seconds a send may wait for room in the supervisor's queue (it holds only a few datagrams)."""

RETRY_INTERVAL = 0.05
"""Once a send timed out, seconds between (non-blocking) tries at imports; a short-lived
thread also tries every ``RETRY_INTERVAL * 4`` until the paths kept are sent."""

ROOT_ENV = "RELOADD_RUN_ROOT"
"""The variable naming the project root: a crash is reported at the innermost frame under it."""

PROJECT_FRAMES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "project_frames.py"
)
"""The file holding the rule for a crash's place (``reloadd.client.project_frames``)."""

PROJECT_FRAMES_NAME = "_reloadd_run_project_frames"
"""The module name it is loaded under, by path, when a crash is reported."""

RESCAN_INTERVAL = 1.0
"""Seconds between full scans of ``sys.modules`` while imports go on (catches other loaders)."""


def encode(kind: bytes, paths: list[str]) -> list[tuple[bytes, list[str]]]:
    """The datagrams carrying ``paths`` (``kind``, then the paths separated by NUL bytes), each
    with the paths it carries."""
    datagrams: list[tuple[bytes, list[str]]] = []
    chunk: list[bytes] = []
    carried: list[str] = []
    size = 1
    for path in paths:
        raw = os.fsencode(path)
        if chunk and size + len(raw) + 1 > MAX_DATAGRAM:
            datagrams.append((kind + SEPARATOR.join(chunk), carried))
            chunk, carried, size = [], [], 1
        chunk.append(raw)
        carried.append(path)
        size += len(raw) + 1
    if chunk:
        datagrams.append((kind + SEPARATOR.join(chunk), carried))
    return datagrams


def spec_file(spec: Any) -> str | None:
    """The file a module spec loads from (the archive for zip imports), as ``module_files`` has it."""
    if spec is None or not getattr(spec, "has_location", False):
        return None
    if isinstance(spec.loader, zipimport.zipimporter):
        return str(spec.loader.archive)
    origin = spec.origin
    return origin if isinstance(origin, str) else None


def module_file(module: object) -> str | None:
    """The file of one entry of ``sys.modules``, or None."""
    if not isinstance(module, ModuleType):
        return None
    if module.__name__ in ("__main__", "__mp_main__"):
        filename = getattr(module, "__file__", None)
        return filename if isinstance(filename, str) else None
    return spec_file(getattr(module, "__spec__", None))


def traceback_files(exc: BaseException) -> list[str]:
    """The file that ended the process: a syntax error's file, else the innermost frame's."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return [os.path.abspath(exc.filename)]
    import traceback  # only when the process is ending with an error

    frames = traceback.extract_tb(exc.__traceback__)
    if frames and frames[-1].filename and not frames[-1].filename.startswith("<"):
        return [os.path.abspath(frames[-1].filename)]
    return []


def crash_fields(exc: BaseException, root: str | None = None) -> list[str]:
    """Where and why ``exc`` ended the process, for a ``CRASHED`` datagram:
    ``[file, line, "Kind: message", errno, kind, message]`` (line and errno may be empty).

    The place is the innermost frame of the project under ``root`` (a syntax error's own
    file and line), by the rule of ``project_frames.py``, the same as every integration's.
    """
    import traceback  # only when the process is ending with an error

    filename, line = "", ""
    kind, message = type(exc).__name__, str(exc)
    describe = _project_rule()
    if describe is not None:
        kind, message, filename, number = describe(exc, root)
        line = str(number or "")
    elif isinstance(exc, SyntaxError) and exc.filename:  # the rule could not be loaded
        filename, line = os.path.abspath(exc.filename), str(exc.lineno or "")
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames and frames[-1].filename and not frames[-1].filename.startswith("<"):
            filename, line = os.path.abspath(frames[-1].filename), str(frames[-1].lineno or "")
    summary = traceback.format_exception_only(type(exc), exc)[-1].strip().replace("\0", " ")
    number = getattr(exc, "errno", None)
    return [
        filename,
        line,
        summary[:2000],
        str(number) if isinstance(number, int) else "",
        kind.replace("\0", " ")[:200],
        message.replace("\0", " ")[:2000],
    ]


def _project_rule() -> Any:
    """``project_frames.describe``, loaded by its path (this hook cannot import reloadd),
    or None if it cannot be loaded."""
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location(PROJECT_FRAMES_NAME, PROJECT_FRAMES)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.describe
    except Exception:  # noqa: BLE001 (the process is ending: report what can be reported)
        return None


class Reporter:
    """Sends new file paths to the supervisor; keeps what could not be sent for the next try."""

    def __init__(self, address: str, *, quiet: bool = False) -> None:
        self.address = address
        self.quiet = quiet
        """In a warm template: report nothing (nor mark anything reported) until :meth:`reconnect`."""
        self.sent: set[str] = set()
        self.sent_names: set[str] = set()
        self._pending: list[str] = []
        self._lock = _thread.allocate_lock()
        self._socket: _socket.socket | None = None
        self._broken = False
        self._congested = False
        self._retry_at = 0.0
        if not quiet:
            self._connect()

    def _connect(self) -> None:
        try:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        except OSError:
            self._broken = True
            return
        try:
            sock.connect(self.address)
            sock.settimeout(SEND_TIMEOUT)
        except OSError:
            sock.close()
            self._broken = True  # no supervisor (any more): stay silent
            return
        self._socket = sock

    def disconnect(self) -> None:
        """Close the socket to the supervisor (a warm child, before it rearranges its descriptors)."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
            self._socket = None

    def reconnect(self) -> None:
        """A new socket to the supervisor (a warm child, once its descriptors are in place)."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
            self._socket = None
            self._broken = self._congested = self.quiet = False
            self._connect()

    def module_names(self, names: list[str]) -> None:
        """Report module names, each once per process; best effort (a name lost costs a
        module that a template does not preload, nothing else)."""
        if self.quiet:
            return
        with self._lock:
            new = [name for name in names if name not in self.sent_names]
            if new:
                self.sent_names.update(new)
                self._send(MODULES, new)

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held the old one), and
        the retry thread again if it ran (threads do not survive a fork)."""
        self._lock = _thread.allocate_lock()
        if self._congested:
            _thread.start_new_thread(self._retry, ())

    def imported(self, paths: list[str], *, wait: bool = False) -> None:
        """Report files the process imported; each path is sent once per process.

        With ``wait`` (at exit), wait for room even if an earlier send timed out.
        """
        if self.quiet:
            return
        with self._lock:
            for path in paths:
                if path not in self.sent:
                    self.sent.add(path)
                    self._pending.append(path)
            if self._pending:
                self._pending = self._send(IMPORTED, self._pending, wait=wait)

    def failed(self, paths: list[str], crash: list[str] | None = None) -> None:
        """Report the files of the traceback that ends the process (and anything still
        pending), then the crash's :func:`crash_fields`."""
        with self._lock:
            if self._pending:
                self._pending = self._send(IMPORTED, self._pending, wait=True)
            if paths:
                self._send(FAILED, paths, wait=True)
            if crash:
                self._send(CRASHED, crash, wait=True, whole=True)

    def bind_failed(self, port: int) -> None:
        """Report a ``bind`` to ``port`` that failed: the address is in use."""
        with self._lock:
            self._send(BIND_FAILED, [str(port)], wait=True)

    def _retry(self) -> None:
        """While sends are congested: send what is kept, even if the process imports nothing more.

        The only thread the hook ever starts, and only while the supervisor is not reading.
        """
        while self._congested and not self._broken:
            time.sleep(RETRY_INTERVAL * 4)
            with self._lock:
                if self._pending:
                    self._retry_at = 0.0
                    self._pending = self._send(IMPORTED, self._pending)
                elif self._congested and self._socket is not None:
                    self._congested = False
                    self._socket.settimeout(SEND_TIMEOUT)

    def _send(
        self, kind: bytes, paths: list[str], *, wait: bool = False, whole: bool = False
    ) -> list[str]:
        """Send the paths; return those that could not be sent yet.

        Normally a send waits up to ``SEND_TIMEOUT`` for the supervisor to make
        room. Once one timed out (the supervisor is not reading), sends stop
        waiting, and are tried at most every ``RETRY_INTERVAL``, until one succeeds.
        """
        sock = self._socket
        if self._broken or sock is None:
            return []
        if self._congested and not wait and time.monotonic() < self._retry_at:
            return paths
        if self._congested and wait:
            sock.settimeout(SEND_TIMEOUT)
        datagrams = encode(kind, paths)
        if whole and len(datagrams) > 1:  # fields that only make sense together
            return []
        for index, (datagram, _) in enumerate(datagrams):
            try:
                sock.send(datagram)
            except (BlockingIOError, _socket.timeout, InterruptedError):
                sock.settimeout(0.0)
                if not self._congested:
                    self._congested = True
                    _thread.start_new_thread(self._retry, ())
                self._retry_at = time.monotonic() + RETRY_INTERVAL
                return [path for _, carried in datagrams[index:] for path in carried]
            except OSError:
                self._broken = True  # the supervisor is gone
                return []
        if self._congested:
            self._congested = False
            sock.settimeout(SEND_TIMEOUT)
        return []


class ImportReporter:
    """A ``sys.meta_path`` finder placed first: asks the finders after it, reports the file found.

    It returns the spec the next finders return, so imports behave as without
    it; it only learns, at once, which file each import is about to run.
    """

    def __init__(self, reporter: Reporter, *, names: bool = False) -> None:
        self.reporter = reporter
        self.names = names
        """Also report module names (``RELOADD_RUN_MODULES``)."""
        self._main_reported = False
        self._last_scan = time.monotonic()

    def template_started(self) -> None:
        """In a warm template: its ``__main__`` (the template's bootstrap) is not reported."""
        self._main_reported = True

    def forked_as_main(self) -> None:
        """In a warm child: reconnect, then report the new ``__main__`` and every module the
        template imported (the supervisor registers what it does not know yet)."""
        self.reporter.reconnect()
        self._main_reported = False
        self.scan()
        if os.environ.get("LISTEN_FDS") and not _bind_reported:
            report_bind_conflicts(self.reporter)  # as install() does under --socket

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """Find the spec with the finders that follow this one; report its file."""
        if not self._main_reported:
            self._report_main()
        meta_path = sys.meta_path
        try:
            following = meta_path[meta_path.index(self) + 1 :]
        except ValueError:
            return None
        spec = None
        for finder in following:
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None  # a legacy finder: let the import system go on from here
            spec = find(fullname, path, target)
            if spec is not None:
                break
        found = spec_file(spec)
        if found is not None:
            self.reporter.imported([os.path.abspath(found)])
        if self.names and spec is not None:
            self.reporter.module_names([fullname])
        if time.monotonic() - self._last_scan > RESCAN_INTERVAL:
            self.scan()
        return spec

    def _report_main(self) -> None:
        main = sys.modules.get("__main__")
        filename = getattr(main, "__file__", None)
        if isinstance(filename, str):
            self._main_reported = True
            self.reporter.imported([os.path.abspath(filename)])

    def scan(self, *, wait: bool = False) -> None:
        """Report every file in ``sys.modules`` not reported yet (modules other loaders loaded)."""
        self._last_scan = time.monotonic()
        modules = list(sys.modules.items())
        found = [module_file(module) for _, module in modules]
        self.reporter.imported([os.path.abspath(name) for name in found if name], wait=wait)
        if self.names:
            self.reporter.module_names([name for name, _ in modules])


def report_bind_conflicts(reporter: Reporter) -> None:
    """Wrap ``socket.socket.bind`` to report a port found in use (only under ``--socket``,
    where ``LISTEN_FDS`` is set: the ``socket`` import is paid there only)."""
    global _bind_reported
    import errno
    import socket

    _bind_reported = True
    original = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        try:
            original(self, address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and isinstance(address, tuple) and len(address) > 1:
                reporter.bind_failed(int(address[1]))
            raise

    bind.__doc__ = original.__doc__
    setattr(socket.socket, "bind", bind)  # noqa: B010 (mypy forbids assigning to a method)


_installed: ImportReporter | None = None

_bind_reported = False
"""``socket.socket.bind`` is wrapped by :func:`report_bind_conflicts`."""


def install(environ: dict[str, str] | None = None) -> ImportReporter | None:
    """Start reporting to the supervisor named in the environment; None when there is none.

    Idempotent. Installs the finder first on ``sys.meta_path``, wraps
    ``sys.excepthook``, and scans ``sys.modules`` once now and again at exit.
    """
    global _installed
    if _installed is not None:
        return _installed
    env: Mapping[str, str] = os.environ if environ is None else environ
    address = env.get(REPORT_ENV)
    if not address:
        return None
    quiet = bool(env.get(TEMPLATE_ENV))
    reporter = Reporter(address, quiet=quiet)
    finder = ImportReporter(reporter, names=bool(env.get(MODULES_ENV)))
    sys.meta_path.insert(0, finder)
    if not quiet:
        finder.scan()
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            finder.scan()
            reporter.failed(traceback_files(exc), crash_fields(exc, env.get(ROOT_ENV)))
        finally:
            previous_hook(kind, exc, tb)

    sys.excepthook = excepthook
    import atexit  # only now: the child's cost stays near zero when no supervisor runs

    atexit.register(finder.scan, wait=True)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reporter.after_fork)
    if env.get("LISTEN_FDS"):
        report_bind_conflicts(reporter)
    _installed = finder
    return finder
