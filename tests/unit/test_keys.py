"""Keys of network endpoints: the daemon's pair and allow-list, and a client's variables."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import zmq.auth

from reloadd.client.cli import main
from reloadd.client.remote import remote_from_environment
from reloadd.daemon import keys
from reloadd.daemon.auth import AllowList
from reloadd.protocol import EndpointError, KeyFileError
from reloadd.protocol.endpoint import parse_tcp_address


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_server_pair_is_created_once_0600_in_a_0700_folder() -> None:
    first = keys.server_keys()
    folder = keys.config_dir()
    assert mode(folder) == 0o700
    assert mode(folder / "server.key") == mode(folder / "server.key_secret") == 0o600
    assert keys.server_keys().public == first.public
    assert zmq.auth.load_certificate(folder / "server.key")[0] == first.public
    assert "secret" not in repr(first).replace("secret=...", "")


def test_a_secret_others_can_read_is_refused() -> None:
    keys.server_keys()
    (keys.config_dir() / "server.key_secret").chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.server_keys()


def test_new_allow_revoke_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public, secret = keys.new_client("web", tmp_path / "out")
    assert mode(secret) == 0o600
    allowed, problems = keys.allowed_keys(keys.clients_dir())
    assert list(allowed.values()) == ["web"]
    assert not problems
    with pytest.raises(KeyFileError, match="allowed already"):
        keys.new_client("web", tmp_path / "again")
    with pytest.raises(KeyFileError, match="secret key"):
        keys.allow(secret)
    assert main(["keys", "revoke", "web"]) == 0
    assert main(["keys", "revoke", "web"]) == 1
    assert "no client key named web" in capsys.readouterr().err
    assert main(["keys", "allow", str(public)]) == 0
    assert main(["keys", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("web\t")


@pytest.mark.parametrize("name", ["../x", ".hidden", "a b", "", "x" * 65])
def test_a_bad_key_name_is_refused(name: str) -> None:
    with pytest.raises(KeyFileError, match="cannot name a key"):
        keys.new_client(name)


def test_the_allow_list_is_read_again_when_its_folder_changes(tmp_path: Path) -> None:
    folder = keys.clients_dir()
    allow_list = AllowList(folder)
    public, _ = keys.new_client("web", tmp_path)
    key = keys.load_public(public)
    assert allow_list.name_of(key) == "web"
    keys.revoke("web")
    assert allow_list.name_of(key) is None
    (folder / "broken.key").write_text("not a certificate\n")
    assert len(allow_list) == 0  # an unreadable file is skipped (and logged)


def test_a_client_reads_its_variables(tmp_path: Path) -> None:
    server = keys.server_keys()
    _, secret = keys.new_client("web", tmp_path)
    env = {
        "RELOADD_ENDPOINT": "tcp://10.0.0.1:7650",
        "RELOADD_SERVER_KEY": server.public.decode(),
        "RELOADD_CLIENT_KEY": str(secret),
        "RELOADD_PATH_MAP": "/app=/home/me/proj",
    }
    remote = remote_from_environment(tmp_path, env)
    assert remote is not None
    assert remote.server_key == server.public
    assert remote.endpoint.address == "tcp://10.0.0.1:7650"
    assert remote.host_paths(["/app/a.py", "/usr/lib/b.py"]) == ["/home/me/proj/a.py"]
    by_file = remote_from_environment(
        tmp_path, {**env, "RELOADD_SERVER_KEY": str(keys.config_dir() / "server.key")}
    )
    assert by_file is not None
    assert by_file.server_key == server.public
    assert remote_from_environment(tmp_path, {}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RELOADD_CLIENT_KEY": ""}, "set RELOADD_SERVER_KEY"),
        ({"RELOADD_SERVER_KEY": "~" * 40}, "no Z85 key"),
        ({"RELOADD_CLIENT_KEY": "/nonexistent.key_secret"}, "cannot read this key file"),
        ({"RELOADD_ENDPOINT": "ipc:///tmp/x.sock"}, "tcp://HOST:PORT"),
        ({"RELOADD_PATH_MAP": "/app"}, "CLIENT=HOST"),
    ],
)
def test_a_client_s_bad_variable_is_named(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    _, secret = keys.new_client("web", tmp_path)
    env = {
        "RELOADD_ENDPOINT": "tcp://10.0.0.1:7650",
        "RELOADD_SERVER_KEY": keys.server_keys().public.decode(),
        "RELOADD_CLIENT_KEY": str(secret),
        **change,
    }
    with pytest.raises(EndpointError, match=message):
        remote_from_environment(tmp_path, env)


@pytest.mark.parametrize(
    "address",
    ["tcp://127.0.0.1:7650", "tcp://*:1", "tcp://[::1]:65535", "tcp://host.docker.internal:80"],
)
def test_good_network_endpoints(address: str) -> None:
    assert parse_tcp_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1:7650",
        "tcp://127.0.0.1",
        "tcp://:80",
        "tcp://h:0",
        "tcp://h:70000",
        "tcp://[::1:80",
    ],
)
def test_bad_network_endpoints(address: str) -> None:
    with pytest.raises(EndpointError):
        parse_tcp_address(address)


def test_the_serve_command_refuses_a_bad_listen_address(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["serve", "--root", os.getcwd(), "--listen", "udp://x:1"]) == 1
    assert "tcp://HOST:PORT" in capsys.readouterr().err
    assert time.monotonic() - started < 60
