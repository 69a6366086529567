"""``reloadd serve --listen``: a network endpoint it cannot open is a one-line failure, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reloadd.daemon import keys
from tests.net import listening_socket


def serve(project: Path, *listen: str) -> subprocess.CompletedProcess[str]:
    """``reloadd serve --listen …`` until it exits (it must, here)."""
    command = [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(project)]
    command += ["--backend", "builtin"]
    for address in listen:
        command += ["--listen", address]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_port_in_use_is_a_one_line_failure(project: Path) -> None:
    with listening_socket() as taken:
        host, port = taken.getsockname()
        done = serve(project, f"tcp://{host}:{port}")
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("reloadd:")]
    assert f"cannot listen on tcp://{host}:{port}" in line


def test_a_server_secret_others_can_read_stops_the_daemon(project: Path) -> None:
    keys.server_keys()
    (keys.config_dir() / "server.key_secret").chmod(0o640)
    done = serve(project, "tcp://127.0.0.1:1")
    assert done.returncode == 1
    assert "chmod 600" in done.stderr
