"""The startup hook's part in warm restarts: module names under ``RELOADD_RUN_MODULES``, silence in a template.

Real Python subprocesses with the hook, reporting to a real socket, as in
``test_run_child_hook.py``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client.run import child_hook
from reloadd.client.run.reports import Batch, ReportSocket
from reloadd.client.run.supervisor import STARTUP_DIR
from tests.net import listening_socket


@pytest.fixture
def reports(tmp_path: Path) -> Iterator[ReportSocket]:
    """The supervisor's end, in a private folder."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    sock = ReportSocket(folder)
    yield sock
    sock.close()


def run_python(reports: ReportSocket, cwd: Path, source: str, **env: str) -> Batch:
    """Run ``python -c SOURCE`` with the hook; everything it reported."""
    environment = dict(os.environ, PYTHONPATH=str(STARTUP_DIR), **reports.environment(), **env)
    batch = Batch()
    with subprocess.Popen([sys.executable, "-c", source], cwd=cwd, env=environment) as process:
        deadline = time.monotonic() + 30
        while process.poll() is None:
            assert time.monotonic() < deadline, "the process did not finish"
            select.select([reports], [], [], 0.05)
            more = reports.read()
            _extend(batch, more)
    _extend(batch, reports.read())
    assert process.returncode == 0
    return batch


def _extend(batch: Batch, more: Batch) -> None:
    batch.imported.extend(more.imported)
    batch.modules.extend(more.modules)
    batch.bind_failed.extend(more.bind_failed)


def test_module_names_are_reported_only_under_warm(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("X = 1\n")
    source = "import mine, decimal, json"
    plain = run_python(reports, tmp_path, source)
    assert plain.modules == []
    warm = run_python(reports, tmp_path, source, **{child_hook.MODULES_ENV: "1"})
    assert {"mine", "decimal", "json"} <= set(warm.modules)
    assert len(warm.modules) == len(set(warm.modules)), "each name is reported once"
    assert str(tmp_path / "mine.py") in warm.imported


def test_a_template_reports_nothing_until_its_fork_reconnects(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "mine.py").write_text("X = 1\n")
    source = (
        "import os, sys, decimal\n"
        "hook = sys.modules['_reloadd_run_hook']._installed\n"
        "assert hook.reporter._socket is None\n"
        "import mine\n"
        "if os.fork() == 0:\n"
        "    hook.forked_as_main()\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    batch = run_python(
        reports, tmp_path, source, **{child_hook.TEMPLATE_ENV: "1", child_hook.MODULES_ENV: "1"}
    )
    # Only the fork reported, and it reported everything the template had imported.
    assert str(tmp_path / "mine.py") in batch.imported
    assert "decimal" in batch.modules
    assert len(batch.imported) == len(set(batch.imported))


def test_a_fork_handed_sockets_reports_a_bind_to_a_port_in_use(
    reports: ReportSocket, tmp_path: Path
) -> None:
    with listening_socket() as busy:
        port = busy.getsockname()[1]
        source = (
            "import os, socket, sys\n"
            "hook = sys.modules['_reloadd_run_hook']._installed\n"
            "if os.fork() == 0:\n"
            "    os.environ['LISTEN_FDS'] = '1'  # as the fork of a template sets it\n"
            "    hook.forked_as_main()\n"
            "    try:\n"
            f"        socket.socket().bind(('127.0.0.1', {port}))\n"
            "    except OSError:\n"
            "        os._exit(0)\n"
            "    os._exit(1)\n"
            "assert os.WEXITSTATUS(os.wait()[1]) == 0\n"
        )
        batch = run_python(reports, tmp_path, source, **{child_hook.TEMPLATE_ENV: "1"})
    assert batch.bind_failed == [port]
