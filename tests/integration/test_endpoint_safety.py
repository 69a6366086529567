"""Only its owner gets in: impostors, other users' folders, long and undecodable paths.

Other users are real: each test that needs one creates it with ``useradd`` and removes
it after (the suite runs as root in CI); processes run as them through ``setpriv``.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.protocol.endpoint import Endpoint, endpoint_for
from tests.daemon_process import stop_leftover_daemons

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create users")

SYSTEM_PYTHON = "/usr/bin/python3"
"""A Python another user can run (the test's own may live in root's home)."""


class OtherUser:
    """A user created for one test."""

    def __init__(self, name: str) -> None:
        self.name = name
        entry = subprocess.run(
            ["id", "-u", name], capture_output=True, text=True, check=True
        ).stdout
        self.uid = int(entry)
        self.gid = int(
            subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout
        )

    def command(self, *argv: str) -> list[str]:
        """``argv`` run as this user."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *argv]


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """A fresh local user, removed after the test."""
    name = f"rltest{secrets.token_hex(4)}"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        yield OtherUser(name)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def shared_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A world-writable sticky folder like /tmp (not the machine's /tmp/reloadd-*), as TMPDIR."""
    base = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))
    base.chmod(0o1777)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(base))
    yield base
    stop_leftover_daemons(base / f"reloadd-{os.getuid()}")
    shutil.rmtree(base, ignore_errors=True)


_IMPOSTOR = textwrap.dedent(
    """
    import os, socket, sys
    folder, path = sys.argv[1], sys.argv[2]
    os.mkdir(folder)
    os.chmod(folder, 0o777)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o777)
    listener.listen(8)
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        print("connected", flush=True)
        connection.settimeout(2)
        try:
            print("received", len(connection.recv(65536)), flush=True)
        except OSError:
            pass
    """
)


def test_a_fake_daemon_of_another_user_is_never_told_anything(
    other_user: OtherUser,
    shared_tmp: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    secret = project / "secret_module.py"
    secret.write_text("x = 1\n")
    endpoint = endpoint_for(project.resolve())
    folder = endpoint.socket_path.parent
    assert folder == shared_tmp / f"reloadd-{os.getuid()}"
    impostor = subprocess.Popen(
        other_user.command(SYSTEM_PYTHON, "-c", _IMPOSTOR, str(folder), str(endpoint.socket_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert impostor.stdout is not None
        ready, _, _ = select.select([impostor.stdout], [], [], 20)
        assert ready, "the impostor did not start"
        assert impostor.stdout.readline().strip() == "ready"
        assert folder.stat().st_uid == other_user.uid
        capfd.readouterr()
        with Client(project, name="my secret command line") as client:
            assert client.backend == "polling"
            client.watch(files=[secret])
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert f"belongs to user id {other_user.uid}" in err[0]
    finally:
        impostor.send_signal(signal.SIGTERM)
        out, _ = impostor.communicate(timeout=10)
    assert "connected" not in out, "the client connected to another user's socket"


_CLIENT = textwrap.dedent(
    """
    import sys
    from reloadd.client import Client
    client = Client(sys.argv[1], name="web")
    print(client.backend)
    client.close()
    """
)


def test_xdg_runtime_dir_of_another_user_gives_one_line_and_polling(
    other_user: OtherUser, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    theirs = Path(tempfile.mkdtemp(prefix="rlx", dir="/tmp"))
    try:
        os.chown(theirs, other_user.uid, other_user.gid)
        theirs.chmod(0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(theirs)}
        # Root without its capabilities: a user who cannot open the folder (as after sudo -E).
        result = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-all",
                "--inh-caps=-all",
                sys.executable,
                "-c",
                _CLIENT,
                str(project),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    finally:
        shutil.rmtree(theirs, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "polling"
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("reloadd: ")
    assert "XDG_RUNTIME_DIR" in err[0]


def test_a_project_root_whose_name_is_not_utf8(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    project.mkdir()
    with Client(project, name="web", spawn_timeout=5) as client:
        assert client.connected or client.backend == "polling"
        if not client.connected:
            assert len(capfd.readouterr().err.strip().splitlines()) == 1


def test_a_runtime_dir_too_long_for_a_socket_falls_back_to_the_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    long = tmp_path / ("x" * (110 - len(str(tmp_path))))
    long.mkdir(mode=0o700)
    short = tmp_path / "t"
    short.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long))
    monkeypatch.setenv("TMPDIR", str(short))
    project = tmp_path / "project"
    project.mkdir()
    try:
        with Client(project, name="web") as client:
            assert client.connected, capfd.readouterr().err
            assert isinstance(client.endpoint, Endpoint)
            assert client.endpoint.socket_path.parent == short / f"reloadd-{os.getuid()}"
    finally:
        stop_leftover_daemons(short / f"reloadd-{os.getuid()}")


def test_the_daemon_refuses_a_runtime_folder_of_another_user(
    other_user: OtherUser, shared_tmp: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    folder = endpoint_for(project.resolve()).socket_path.parent
    subprocess.run(
        other_user.command(SYSTEM_PYTHON, "-c", f"import os; os.mkdir({str(folder)!r}, 0o777)"),
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1  # the daemon cannot run (2 is for usage mistakes)
    assert result.stderr.strip().splitlines() == [
        f"reloadd: {folder} belongs to user id {other_user.uid}, not to you ({os.getuid()}); "
        "remove it or set XDG_RUNTIME_DIR to a folder of your own"
    ]
    assert list(folder.iterdir()) == []
