"""The child's startup hook: real Python subprocesses report what they import to a real socket."""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reloadd.client.modules import module_files
from reloadd.client.run import child_hook
from reloadd.client.run.reports import Batch, Crash, ReportSocket
from reloadd.client.run.supervisor import STARTUP_DIR
from reloadd.protocol import Crash as ProtocolCrash
from tests.net import listening_socket


@pytest.fixture
def reports(tmp_path: Path) -> Iterator[ReportSocket]:
    """The supervisor's end, in a private folder."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    sock = ReportSocket(folder)
    yield sock
    sock.close()


class Ran:
    """A finished Python process and everything it reported."""

    def __init__(self, returncode: int, stdout: str, stderr: str, batch: Batch) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.imported = batch.imported
        self.failed = batch.failed
        self.crash = batch.crash
        self.bind_failed = batch.bind_failed


def run_python(
    reports: ReportSocket,
    cwd: Path,
    *args: str,
    pythonpath: str = "",
    report: bool = True,
    root: Path | None = None,
) -> Ran:
    """Run ``python ARGS`` with the startup hook, reading its reports meanwhile, as the supervisor does."""
    env = dict(os.environ)
    if root is not None:
        env[child_hook.ROOT_ENV] = str(root)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STARTUP_DIR), pythonpath) if p)
    if report:
        env.update(reports.environment())
    else:
        env.pop(child_hook.REPORT_ENV, None)
    batch = Batch()
    with subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        deadline = time.monotonic() + 30
        while process.poll() is None:
            assert time.monotonic() < deadline, "the process did not finish"
            select.select([reports], [], [], 0.05)
            _extend(batch, reports.read())
        stdout, stderr = process.communicate()
    _extend(batch, reports.read())
    return Ran(process.returncode, stdout, stderr, batch)


def _extend(batch: Batch, more: Batch) -> None:
    batch.imported.extend(more.imported)
    batch.failed.extend(more.failed)
    batch.crash = more.crash or batch.crash
    batch.bind_failed.extend(more.bind_failed)


def test_reports_the_script_its_imports_and_later_imports(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "first.py").write_text("X = 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "later.py").write_text("Y = 2\n")
    (tmp_path / "app.py").write_text(
        "import first\n"
        "import json\n"
        "def handler():\n"
        "    import pkg.later\n"
        "handler()\n"
        "try:\n"
        "    import no_such_module_anywhere\n"
        "except ImportError:\n"
        "    pass\n"
    )
    result = run_python(reports, tmp_path, "app.py")
    assert result.returncode == 0, result.stderr
    for name in ("app.py", "first.py", "pkg/__init__.py", "pkg/later.py"):
        assert str(tmp_path / name) in result.imported
    import json

    assert json.__file__ in result.imported
    assert result.failed == []
    assert len(result.imported) == len(set(result.imported)), "each file is reported once"


def test_reports_what_module_files_finds(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import json, email.parser, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from reloadd.client.modules import module_files\n"
        "print('\\n'.join(module_files()))\n"
    )
    repo = str(Path(__file__).resolve().parents[2])
    result = run_python(reports, tmp_path, "app.py", repo)
    assert result.returncode == 0, result.stderr
    expected = set(result.stdout.split())
    reported = set(result.imported)
    assert expected - reported == set()


def test_python_dash_m_reports_the_package(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "__init__.py").write_text("")
    (tmp_path / "tool" / "__main__.py").write_text("print('ran')\n")
    result = run_python(reports, tmp_path, "-m", "tool")
    assert result.stdout == "ran\n", result.stderr
    assert str(tmp_path / "tool" / "__main__.py") in result.imported


def test_a_syntax_error_in_an_imported_module_is_reported_as_imported_and_failed(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "app.py").write_text("import broken\n")
    result = run_python(reports, tmp_path, "app.py")
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr
    assert str(tmp_path / "broken.py") in result.imported
    assert result.failed == [str(tmp_path / "broken.py")]


def test_a_syntax_error_in_the_script_itself_is_reported(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text("x = (\n")
    result = run_python(reports, tmp_path, "app.py")
    assert result.returncode == 1
    assert result.failed == [str(tmp_path / "app.py")]


def test_an_error_raised_at_import_names_the_innermost_file(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "settings.py").write_text("raise RuntimeError('misconfigured')\n")
    (tmp_path / "app.py").write_text("import settings\n")
    result = run_python(reports, tmp_path, "app.py")
    assert "misconfigured" in result.stderr
    assert result.failed == [str(tmp_path / "settings.py")]


def test_a_syntax_error_is_reported_with_its_line_and_message(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text("X = 1\nTEXT = 'unterminated\n")
    (tmp_path / "app.py").write_text("import broken\n")
    result = run_python(reports, tmp_path, "app.py")
    assert result.crash is not None
    assert (result.crash.path, result.crash.line) == (str(tmp_path / "broken.py"), 2)
    assert result.crash.error.startswith("SyntaxError: unterminated string literal")
    assert result.crash.errno is None


def test_an_os_error_is_reported_with_its_errno(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import errno, os\n\nraise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))\n"
    )
    result = run_python(reports, tmp_path, "app.py")
    assert result.crash == Crash(
        str(tmp_path / "app.py"),
        3,
        f"OSError: [Errno {errno.EADDRINUSE}] {os.strerror(errno.EADDRINUSE)}",
        errno.EADDRINUSE,
        "OSError",
        f"[Errno {errno.EADDRINUSE}] {os.strerror(errno.EADDRINUSE)}",
    )


def test_a_crash_in_a_library_is_reported_at_the_project_line_that_called_it(
    reports: ReportSocket, tmp_path: Path
) -> None:
    library = tmp_path / ".venv" / "lib" / "site-packages"
    library.mkdir(parents=True)
    (library / "strict.py").write_text("def check(value):\n    raise KeyError(value)\n")
    (tmp_path / "views.py").write_text("import strict\n\n\nstrict.check('missing')\n")
    (tmp_path / "app.py").write_text("import views\n")
    result = run_python(reports, tmp_path, "app.py", pythonpath=str(library), root=tmp_path)
    assert result.crash is not None
    assert (result.crash.path, result.crash.line) == (str(tmp_path / "views.py"), 4)
    assert (result.crash.kind, result.crash.message) == ("KeyError", "'missing'")
    assert result.crash.report() == ProtocolCrash(
        "KeyError", "'missing'", str(tmp_path / "views.py"), 4
    )


def test_under_socket_a_bind_to_a_port_in_use_is_reported(
    reports: ReportSocket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTEN_FDS", "1")
    with listening_socket() as busy:
        port = busy.getsockname()[1]
        (tmp_path / "app.py").write_text(
            f"import socket\ntry:\n    socket.socket().bind(('127.0.0.1', {port}))\n"
            "except OSError:\n    print('in use')\n"
        )
        result = run_python(reports, tmp_path, "app.py")
    assert result.stdout == "in use\n", result.stderr
    assert result.bind_failed == [port]


def test_an_existing_sitecustomize_still_runs(reports: ReportSocket, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS_RAN'] = 'yes'\n")
    (tmp_path / "app.py").write_text(
        "import os, sys\nprint(os.environ.get('THEIRS_RAN'), '_reloadd_run_hook' in sys.modules)\n"
    )
    result = run_python(reports, tmp_path, "app.py", pythonpath=str(theirs))
    assert result.stdout.split() == ["yes", "True"], result.stderr


def test_without_a_supervisor_the_hook_stays_out_of_the_way(
    reports: ReportSocket, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(
        "import sys\nprint(type(sys.meta_path[0]).__name__, '_reloadd_run_hook' in sys.modules)\n"
    )
    result = run_python(reports, tmp_path, "app.py", report=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] != "ImportReporter"
    assert result.imported == []


def test_a_supervisor_that_is_gone_is_ignored(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import json\nprint('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(STARTUP_DIR), **reports.environment())
    reports.close()
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_a_forked_child_reports_its_own_imports(reports: ReportSocket, tmp_path: Path) -> None:
    (tmp_path / "worker_only.py").write_text("")
    (tmp_path / "app.py").write_text(
        "import os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import worker_only\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    result = run_python(reports, tmp_path, "app.py")
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "worker_only.py") in result.imported


@given(
    st.lists(
        st.text(
            st.characters(codec="utf-8", exclude_characters="\0"),
            min_size=1,
            max_size=300,
        ).map(lambda name: "/" + name),
        max_size=300,
    )
)
def test_encode_then_decode_gives_the_paths_back(paths: list[str]) -> None:
    datagrams = child_hook.encode(child_hook.IMPORTED, paths)
    assert all(len(d) <= child_hook.MAX_DATAGRAM for d, _ in datagrams)
    decoded = [os.fsdecode(raw) for d, _ in datagrams for raw in d[1:].split(child_hook.SEPARATOR)]
    assert decoded == paths


def test_encode_splits_long_lists_into_datagrams() -> None:
    paths = [f"/p/{'x' * 200}/{i}.py" for i in range(1000)]
    datagrams = child_hook.encode(child_hook.IMPORTED, paths)
    assert len(datagrams) > 1
    assert all(len(d) <= child_hook.MAX_DATAGRAM for d, _ in datagrams)
    decoded = [p.decode() for d, _ in datagrams for p in d[1:].split(child_hook.SEPARATOR)]
    assert decoded == paths
    assert [p for _, carried in datagrams for p in carried] == paths


def test_a_supervisor_that_does_not_read_costs_one_timeout_and_loses_nothing(
    reports: ReportSocket, tmp_path: Path
) -> None:
    """The queue holds a few datagrams; then one send waits, and the rest are kept and sent later."""
    names = [f"mod{i}" for i in range(60)]
    for name in names:
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "app.py").write_text(
        "import sys, time\n"
        "began = time.monotonic()\n"
        + "".join(f"import {name}\n" for name in names)
        + "print(round(time.monotonic() - began, 2), flush=True)\n"
        "sys.stdin.read()\n"  # then idle, as a server is, until stdin closes
    )
    env = dict(os.environ, PYTHONPATH=str(STARTUP_DIR), **reports.environment())
    with subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        elapsed = float(process.stdout.readline())  # nobody read the reports meanwhile
        imported: list[str] = []
        deadline = time.monotonic() + 10
        while not all(str(tmp_path / f"{n}.py") in imported for n in names):
            assert time.monotonic() < deadline, "the paths kept were not sent while idle"
            select.select([reports], [], [], 0.05)
            imported.extend(reports.read().imported)
        process.stdin.close()
        assert process.wait(10) == 0
    assert elapsed < 2 * child_hook.SEND_TIMEOUT + 0.5


def test_module_file_agrees_with_module_files() -> None:
    mine = {child_hook.module_file(m) for m in list(sys.modules.values())}
    assert {os.path.abspath(p) for p in mine if p} == set(module_files())
