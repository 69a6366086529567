"""A tiny dev server that reloads through the reloadd daemon.

It serves ``hello_app.render()`` on http://127.0.0.1:8000 and registers every
module it imported with the project's daemon (starting one if none runs).
When one of them changes it restarts itself; the daemon keeps watching
meanwhile, so a change made during the restart is not lost.

A typo does not end it: if ``hello_app`` fails to import, the error is printed
with its file and line, the page shows it (status 500), and the server waits
for the fix, then serves again — as Django's ``runserver`` and ``reloadd run`` do.

    python examples/devserver.py [--port 8000]      (or PORT=8000)
"""

from __future__ import annotations

import argparse
import errno
import http.server
import os
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reloadd.client import Client, module_files, process_start_time  # noqa: E402

DEFAULT_PORT = 8000

FD_VARIABLE = "RELOADD_DEMO_FD"
"""The listening socket, kept open across the re-exec so no request is refused meanwhile."""

SINCE_VARIABLE = "RELOADD_DEMO_SINCE"
"""When the reload was decided: changes after it are news to the re-executed process (which
keeps the first one's start time)."""


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the app's page, or the error that keeps it from loading."""

    app: ModuleType | None = None
    broken: str = ""

    def do_GET(self) -> None:
        if self.app is None:
            status, body = 500, f"hello_app does not load:\n\n{self.broken}\n\nFix it and save.\n"
        else:
            try:
                status, body = 200, self.app.render()
            except Exception:  # noqa: BLE001 (show the error in the page, as a dev server does)
                status, body = 500, traceback.format_exc()
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def load_app() -> tuple[ModuleType | None, str, list[str]]:
    """``hello_app``, or None with the error (``file:line: Kind: message``) and its files."""
    app_file = str(HERE / "hello_app.py")
    try:
        import hello_app
    except Exception as exc:  # noqa: BLE001 (any error in the app is the user's to fix)
        if isinstance(exc, SyntaxError) and exc.filename:
            where, files = f"{exc.filename}:{exc.lineno}", [exc.filename]
        else:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{frame.filename}:{frame.lineno}"
            files = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
        error = traceback.format_exception_only(type(exc), exc)[-1].strip()
        files = [os.path.abspath(f) for f in files if not f.startswith("<")]
        return None, f"{_show(where)}: {error}", [app_file, *files]
    return hello_app, "", [app_file]


def _show(path: str) -> str:
    """``path`` relative to the working folder when it is below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def listen(port: int) -> socket.socket:
    """The inherited socket after a reload, else a new one on 127.0.0.1:``port``."""
    inherited = os.environ.pop(FD_VARIABLE, "")
    if inherited.isdigit():
        return socket.socket(fileno=int(inherited))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = _free_port_after(port)
            sys.exit(
                f"devserver: port {port} is in use (another server, or a demo still running); "
                f"pick another: scripts/demo.sh --port {other} (or PORT={other} scripts/demo.sh)"
            )
        sys.exit(f"devserver: cannot listen on 127.0.0.1:{port}: {exc.strerror}")
    sock.listen()
    return sock


def _free_port_after(port: int) -> int:
    for candidate in range(port + 1, min(port + 100, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    return port + 1


def main() -> None:
    """Serve until a watched file changes, then re-execute this process."""
    parser = argparse.ArgumentParser(description="The reloadd demo's dev server.")
    parser.add_argument(
        "--port",
        type=int,
        help=f"the port on 127.0.0.1 (default: $PORT, else {DEFAULT_PORT})",
    )
    args = parser.parse_args()
    if args.port is None:
        port_text = os.environ.get("PORT", str(DEFAULT_PORT))
        if not port_text.isdigit():
            sys.exit(f"devserver: PORT={port_text!r} is not a port number; try PORT=8001")
        args.port = int(port_text)
    started = time.monotonic()
    sock = listen(args.port)
    Handler.app, Handler.broken, app_files = load_app()
    project = HERE.parent
    with Client(project, name=f"example devserver :{args.port}") as client:
        # Files edited while this process started count too: a fix is never missed.
        since = float(os.environ.pop(SINCE_VARIABLE, "") or process_start_time())
        client.watch(files=[*module_files(), *app_files], since=since)
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), Handler, bind_and_activate=False
        )
        server.socket.close()
        server.socket = sock
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{args.port}/"
        if Handler.app is None:
            print(
                f"devserver: {Handler.broken}\n"
                f"devserver: waiting for the fix (save the file); {url} shows the error meanwhile",
                flush=True,
            )
        else:
            print(
                f"serving {url} ({client.backend} backend, ready in "
                f"{(time.monotonic() - started) * 1000:.0f} ms); edit {_show(app_files[0])} to reload",
                flush=True,
            )
        try:
            changed = client.wait()
        except KeyboardInterrupt:
            return
        os.environ[SINCE_VARIABLE] = repr(time.time())
        server.shutdown()
    print(f"{', '.join(_show(str(path)) for path in changed)} changed; restarting", flush=True)
    sock.set_inheritable(True)
    os.environ[FD_VARIABLE] = str(sock.fileno())
    os.execv(sys.executable, [sys.executable, *sys.argv])


if __name__ == "__main__":
    main()
