"""The apps the ``reloadd run`` tests run: a tiny HTTP server and an ASGI app.

Each appends its pid to ``starts.log`` (or ``$START_LOG``) when it starts, and
answers ``<greeting.TEXT> from <pid>``. The HTTP app serves ``$PORT``, or the socket
handed to it as fd 3 under ``--socket``; it sleeps ``$APP_START_DELAY`` seconds, and
waits while the file ``$APP_HOLD`` exists, before it listens (or serves the socket).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.integration.dev_server import set_greeting

# -- the apps -------------------------------------------------------------------------------------

HTTP_APP = """\
import http.server
import os
import socket
import time

import greeting

with open(os.environ.get("START_LOG", "starts.log"), "a") as log:
    log.write(f"{os.getpid()}\\n")
time.sleep(float(os.environ.get("APP_START_DELAY", "0")))
while os.path.exists(os.environ.get("APP_HOLD", "")):  # the test holds it before it listens
    time.sleep(0.01)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/later":
            import later  # imported at the first request only

            body = later.TEXT.encode()
        else:
            body = f"{greeting.TEXT} from {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


http.server.HTTPServer.allow_reuse_address = True
if os.environ.get("LISTEN_PID") == str(os.getpid()):
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
else:
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.serve_forever()
"""

ASGI_APP = """\
import os

import greeting

with open("starts.log", "a") as log:
    log.write(f"{os.getpid()}\\n")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = f"{greeting.TEXT} from {os.getpid()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""


def write_app(project: Path, source: str = HTTP_APP, text: str = "v1") -> None:
    """The app as ``app.py`` (or given source), its ``greeting.py``, and an unrelated file."""
    (project / "app.py").write_text(source)
    set_greeting(project, text)
    (project / "unrelated.py").write_text("X = 1\n")


PYTHON_APP = [sys.executable, "app.py"]
