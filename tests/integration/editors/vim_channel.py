"""A headless Vim that a test drives through Vim's own channel protocol.

Vim has no RPC server without X (``--servername``), but it can open a channel to one:
the test listens on a loopback TCP port, and the test's vimrc, after sourcing the
documented setup, connects to it in JSON mode (``:help channel-open``). The test then
sends ``["expr", ...]`` and ``["ex", ...]`` commands (``:help channel-commands``) and
reads Vim's answers. Vim runs in silent Ex mode (``-es``), with its standard input a
pipe kept open: it waits for input in its main loop, where jobs, channels and timers
run as they do in a terminal.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.editors.support import EDITOR_TIMEOUT, stop_process


class Vim:
    """``vim -N -u VIMRC -i NONE -es FILE`` and its channel."""

    def __init__(
        self, vimrc_body: str, project: Path, file: Path, env: dict[str, str], log: Path
    ) -> None:
        """Start Vim in ``project`` on ``file``; ``vimrc_body`` runs before the channel opens."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(EDITOR_TIMEOUT)
        port = listener.getsockname()[1]
        vimrc = log.with_suffix(".vimrc")
        vimrc.write_text(
            f"{vimrc_body}\nlet g:test_channel = ch_open('127.0.0.1:{port}', {{'mode': 'json'}})\n"
        )
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                ["vim", "-N", "-u", str(vimrc), "-i", "NONE", "--noplugin", "-es", str(file)],
                cwd=project,
                env=env,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._next_id = 0
        try:
            self._connection, _ = listener.accept()
        except TimeoutError:
            self.stop()
            pytest.fail(f"Vim did not connect within {EDITOR_TIMEOUT} s: {log.read_text()}")
        finally:
            listener.close()
        self._connection.settimeout(EDITOR_TIMEOUT)
        self._stream = self._connection.makefile("rwb")

    def _send(self, message: list[Any]) -> None:
        self._stream.write(json.dumps(message).encode() + b"\n")
        self._stream.flush()

    def expr(self, expression: str) -> Any:
        """The value of a Vim expression."""
        self._next_id -= 1  # Vim answers negative ids; positive ones are its own requests
        self._send(["expr", expression, self._next_id])
        while True:
            line = self._stream.readline()
            if not line:
                pytest.fail(f"Vim closed its channel while evaluating {expression!r}")
            answer = json.loads(line)
            if answer[0] == self._next_id:
                return answer[1]

    def ex(self, command: str) -> None:
        """Run an Ex command, and wait until Vim has run it (the next answer comes after)."""
        self._send(["ex", command])
        self.expr("1")

    def stop(self) -> None:
        """Quit Vim (``:qa!``) and wait for it to exit."""
        if hasattr(self, "_stream"):
            try:
                self._send(["ex", "qa!"])
            except OSError:
                pass  # Vim is gone already
            self._stream.close()
            self._connection.close()
        assert self.process.stdin is not None
        self.process.stdin.close()
        stop_process(self.process)
