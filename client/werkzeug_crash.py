"""werkzeug's first process: a server process whose app failed is reported, and restarted once fixed.

werkzeug's own reloader gives up when a server process exits other than to restart
(code 3): a ``SyntaxError`` saved in a module the app imports ends the dev server.
With ``reloader_type="reloadd"`` the first process instead reports the server
``crashed`` (type, message, and the project's file and line), watches the files it
imported itself (the app's modules, as they were when it started) and the project's
``.py`` files, and starts a new server process once one of them changes, or when a
restart is asked for (``reloadd reload``). Meanwhile a stand-in
(:mod:`reloadd.client.standin`) answers on werkzeug's listening socket (the one its
first process binds and hands on in ``WERKZEUG_SERVER_FD``) with a ``503`` page naming
the error, and gives the pages of :mod:`reloadd.client.browser` the crash to show.

To learn what failed, each server process runs with a small ``sitecustomize`` (in a
private temporary folder put first on ``PYTHONPATH``; the one it shadows still runs)
whose ``sys.excepthook`` writes :func:`reloadd.client.crash.crash_of` of the uncaught
exception to the file named by :data:`CRASH_ENV`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path

from werkzeug._internal import _log

from reloadd.client.connection import Client, default_name
from reloadd.client.modules import module_files
from reloadd.client.polling import written_at
from reloadd.client.standin import Outage, StandIn
from reloadd.protocol import Crash, ProtocolError, ReloaddError, ServerState

SERVER_FD_ENV = "WERKZEUG_SERVER_FD"
"""werkzeug's listening socket, bound by its first process and inherited by each server process."""

CRASH_ENV = "RELOADD_WERKZEUG_CRASH"
"""Names the file a server process writes its uncaught exception to (as a ``Crash``, in JSON)."""

STARTUP_HOOK = '''\
"""reloadd's werkzeug hook: an uncaught exception is written where RELOADD_WERKZEUG_CRASH says."""

import importlib.machinery
import importlib.util
import os
import sys


def _install():
    previous = sys.excepthook
    # Taken out of the environment: a process the app starts must not write it.
    path = os.environ.pop("RELOADD_WERKZEUG_CRASH")

    def excepthook(kind, exc, tb):
        try:
            import json

            from reloadd.client.crash import crash_of
            from reloadd.protocol.endpoint import find_project_root

            crash = crash_of(exc, find_project_root(None))
            fields = {"type": crash.type, "message": crash.message}
            fields.update(file=crash.file, line=crash.line)
            with open(path, "w") as out:
                json.dump(fields, out)
        except Exception:  # the traceback below still says what failed
            pass
        finally:
            previous(kind, exc, tb)

    sys.excepthook = excepthook


def _run_shadowed_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    entries = [os.path.abspath(entry or os.curdir) for entry in sys.path]
    following = sys.path[entries.index(here) + 1 :] if here in entries else []
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", following)
    if spec is None or spec.loader is None:
        # Not one of the app's files to watch: the import of this module returns what
        # sys.modules holds once it ran, so an empty module stands in for it.
        sys.modules["sitecustomize"] = type(sys)("sitecustomize")
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if os.environ.get("RELOADD_WERKZEUG_CRASH"):
    _install()
_run_shadowed_sitecustomize()
'''
"""The ``sitecustomize.py`` each server process runs first (it imports ``reloadd`` only at a crash)."""


class CrashReports:
    """The private folder holding the startup hook and the crash file; :meth:`close` removes it."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="reloadd-werkzeug-")
        self.crash_file = os.path.join(self.folder, "crash.json")
        with open(os.path.join(self.folder, "sitecustomize.py"), "w") as hook:
            hook.write(STARTUP_HOOK)

    def environment(self, env: MutableMapping[str, str]) -> MutableMapping[str, str]:
        """``env`` for a server process: the hook first on ``PYTHONPATH``, the crash file named."""
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = self.folder + (os.pathsep + path if path else "")
        env[CRASH_ENV] = self.crash_file
        try:
            os.unlink(self.crash_file)
        except FileNotFoundError:
            pass
        return env

    def crash(self, exit_code: int) -> Crash:
        """What the server process that exited with ``exit_code`` wrote, or that it exited so."""
        try:
            with open(self.crash_file) as found:
                fields = json.load(found)
            return Crash(
                str(fields["type"]),
                str(fields["message"]),
                str(fields.get("file", "")),
                int(fields.get("line", 0)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return Crash("exit", f"the server process exited with status {exit_code}")

    def close(self) -> None:
        """Remove the folder."""
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for_fix(
    crash: Crash,
    since: float,
    *,
    globs: Callable[[Client], Iterable[tuple[str, str]]],
    keep: Callable[[Iterable[str]], list[str]],
) -> bool:
    """Report ``crash``; return True once a file changed after ``since`` or a restart is asked.

    Watches this process's module files, the crash's file and ``globs(client)``, minus what
    ``keep`` leaves out. Returns False (after one line on stderr) if the daemon refuses to
    watch them: then the dev server ends, as werkzeug's own reloader would. Ctrl-C or
    SIGTERM meanwhile is reported as ``stopped``.
    """
    client = Client(name=default_name())
    standin = kept_socket_standin(crash, client.root)
    try:
        try:
            client.report_state(ServerState.CRASHED, error=crash)
        except ProtocolError:  # an unusable path in the crash: report it without one
            client.report_state(ServerState.CRASHED, error=Crash(crash.type, crash.message))
        files = keep([*module_files(), *([crash.file] if crash.file else [])])
        try:
            client.watch(files=files, globs=list(globs(client)), since=since)
        except ReloaddError as exc:
            _log("error", f" * reloadd: cannot watch the app's files to restart it ({exc})")
            return False
        while True:
            changed = [p for p in client.wait(timeout=None) if written_at(str(p)) > since]
            if changed or client.restart_requested:
                what = f"{str(changed[0])!r}" if changed else "a restart asked for"
                _log("info", f" * Detected change in {what}, reloading")
                return True
    except (KeyboardInterrupt, SystemExit) as exc:
        if not isinstance(exc, SystemExit) or exc.code != 3:
            try:
                client.report_state(ServerState.STOPPED)
            except ReloaddError:
                pass  # the daemon is gone: nobody to tell
        raise
    finally:
        if standin is not None:
            standin.close()
        client.close()


class _KeptStandIn:
    """The stand-in on werkzeug's own listening socket, until :meth:`close`."""

    def __init__(self, sock: socket.socket, outage: Outage) -> None:
        self.sock = sock
        self.standin = StandIn([sock])
        self.standin.start(outage)

    def close(self) -> None:
        """Stop answering (what was accepted is answered), and give the socket back as it was."""
        self.standin.stop(finish=True)
        self.standin.close()
        try:
            self.sock.setblocking(True)  # the flag is shared with the next server process
        finally:
            self.sock.detach()  # the descriptor stays open: werkzeug hands it on


def kept_socket_standin(crash: Crash, root: Path) -> _KeptStandIn | None:
    """While no server process runs, answer on werkzeug's listening socket: the ``503`` page,
    and the crash for the pages' refresh script (:mod:`reloadd.client.browser`)."""
    fd = os.environ.get(SERVER_FD_ENV, "")
    if not fd.isdigit():
        return None
    try:
        sock = socket.socket(fileno=int(fd))
    except OSError:
        return None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        return None
    where = crash.file
    if where:
        try:
            where = str(Path(where).relative_to(root))
        except ValueError:
            pass
        where = f"{where}:{crash.line}: " if crash.line else f"{where}: "
    error = f"{where}{crash.type}: {crash.message}" if crash.type else crash.message
    return _KeptStandIn(sock, Outage("the server process could not start", error, crash=crash))
