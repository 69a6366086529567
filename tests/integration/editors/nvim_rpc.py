"""A minimal client of Neovim's RPC API (msgpack-rpc on its ``--listen`` socket), for tests.

Requests only, one at a time: ``[0, id, method, params]`` answered by
``[1, id, error, result]`` (``:help msgpack-rpc``); notifications Neovim sends meanwhile
are skipped. pynvim does much more, but its asyncio transport leaves its socket to the
garbage collector when Neovim quits, which this suite's ``filterwarnings = error`` turns
into a failure; msgpack is a dependency already.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import msgpack

REQUEST, RESPONSE = 0, 1


class NeovimError(Exception):
    """Neovim answered a request with an error."""


class NeovimRPC:
    """One connection to a Neovim's RPC socket."""

    def __init__(self, path: Path, timeout: float) -> None:
        """Connect; every request then waits at most ``timeout`` seconds for its answer."""
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        self._socket.connect(str(path))
        self._unpacker = msgpack.Unpacker(raw=False)
        self._next_id = 0

    def request(self, method: str, *params: Any) -> Any:
        """Call an API function (``nvim_eval``, ``nvim_exec_lua``, …) and return its result."""
        self._next_id += 1
        self._socket.sendall(msgpack.packb([REQUEST, self._next_id, method, list(params)]))
        while True:
            for message in self._unpacker:
                if message[0] == RESPONSE and message[1] == self._next_id:
                    if message[2] is not None:
                        raise NeovimError(f"{method}: {message[2]}")
                    return message[3]
            data = self._socket.recv(65536)
            if not data:
                raise NeovimError(f"{method}: Neovim closed the connection")
            self._unpacker.feed(data)

    def command(self, command: str) -> None:
        """Run an Ex command."""
        self.request("nvim_command", command)

    def command_output(self, command: str) -> str:
        """Run an Ex command and return what it printed."""
        return str(self.request("nvim_exec", command, True))

    def lua(self, expression: str) -> Any:
        """The value of a Lua expression."""
        return self.request("nvim_exec_lua", f"return {expression}", [])

    def quit(self) -> None:
        """``:qa!`` without waiting for an answer (Neovim exits before it could send one)."""
        self._next_id += 1
        self._socket.sendall(msgpack.packb([REQUEST, self._next_id, "nvim_command", ["qa!"]]))

    def close(self) -> None:
        """Close the connection."""
        self._socket.close()
