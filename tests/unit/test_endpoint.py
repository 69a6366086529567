"""The project-root rule, the runtime folder and its safety checks, and the endpoint rule."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
from pathlib import Path

import pytest

from reloadd.protocol import EndpointError
from reloadd.protocol.endpoint import (
    ROOT_MARKERS,
    check_endpoint,
    endpoint_for,
    ensure_private_dir,
    find_project_root,
    runtime_dir,
)
from reloadd.protocol.limits import MAX_SOCKET_PATH_BYTES

AF_UNIX_PATH_MAX = 107
"""Longest socket path ``bind`` accepts on Linux (``sun_path`` is 108 bytes with its NUL)."""


def make_marker(folder: Path, marker: str, *, as_dir: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if as_dir:
        (folder / marker).mkdir()
    else:
        (folder / marker).write_text("")


def no_marker_above(path: Path) -> bool:
    return not any((folder / m).exists() for folder in path.parents for m in ROOT_MARKERS)


# -- project root -----------------------------------------------------------------------------


def test_a_given_root_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert find_project_root(tmp_path / "link") == (tmp_path / "real").resolve()
    assert (
        find_project_root(str(tmp_path / "real" / ".." / "real")) == (tmp_path / "real").resolve()
    )


def test_a_given_root_wins_over_markers(tmp_path: Path) -> None:
    make_marker(tmp_path / "proj", ".git", as_dir=True)
    (tmp_path / "proj" / "sub").mkdir()
    assert (
        find_project_root(tmp_path / "proj" / "sub", cwd=tmp_path / "proj")
        == (tmp_path / "proj" / "sub").resolve()
    )


def test_a_relative_or_home_root_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "home" / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_project_root("~/proj") == (tmp_path / "home" / "proj").resolve()
    monkeypatch.chdir(tmp_path / "home")
    assert find_project_root("proj") == (tmp_path / "home" / "proj").resolve()


@pytest.mark.parametrize("name", ["missing", "a-file"])
def test_a_root_that_is_no_folder_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(EndpointError, match="--root"):
        find_project_root(tmp_path / name)


@pytest.mark.parametrize("marker", ROOT_MARKERS)
@pytest.mark.parametrize("as_dir", [False, True], ids=["file", "folder"])
def test_a_marker_is_found_upward(tmp_path: Path, marker: str, as_dir: bool) -> None:
    make_marker(tmp_path / "proj", marker, as_dir=as_dir)
    deep = tmp_path / "proj" / "src" / "app"
    deep.mkdir(parents=True)
    assert find_project_root(cwd=deep) == (tmp_path / "proj").resolve()
    assert find_project_root(cwd=tmp_path / "proj") == (tmp_path / "proj").resolve()


@pytest.mark.parametrize(
    ("outer", "inner"),
    [(".git", "pyproject.toml"), ("pyproject.toml", ".git"), (".watchmanconfig", "pyproject.toml")],
)
def test_the_nearest_marker_wins(tmp_path: Path, outer: str, inner: str) -> None:
    make_marker(tmp_path / "repo", outer)
    make_marker(tmp_path / "repo" / "sub", inner)
    (tmp_path / "repo" / "sub" / "pkg").mkdir()
    assert (
        find_project_root(cwd=tmp_path / "repo" / "sub" / "pkg")
        == (tmp_path / "repo" / "sub").resolve()
    )
    assert find_project_root(cwd=tmp_path / "repo") == (tmp_path / "repo").resolve()


def test_without_a_marker_the_working_directory_is_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "plain" / "folder"
    cwd.mkdir(parents=True)
    if not no_marker_above(cwd.resolve()):
        pytest.skip(f"a folder above {cwd} holds a root marker")
    assert find_project_root(cwd=cwd) == cwd.resolve()
    monkeypatch.chdir(cwd)
    assert find_project_root() == cwd.resolve()


def test_the_default_cwd_is_the_process_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_marker(tmp_path / "proj", "pyproject.toml")
    (tmp_path / "proj" / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "deep")
    assert find_project_root() == (tmp_path / "proj").resolve()


# -- runtime folder ---------------------------------------------------------------------------


def test_runtime_dir_is_under_xdg_runtime_dir() -> None:
    assert runtime_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path("/run/user/1000/reloadd")


@pytest.mark.parametrize("env", [{}, {"XDG_RUNTIME_DIR": ""}, {"HOME": "/home/me"}], ids=repr)
def test_runtime_dir_falls_back_to_a_per_user_temp_folder(env: dict[str, str]) -> None:
    assert runtime_dir(env) == Path("/tmp") / f"reloadd-{os.getuid()}"


def test_runtime_dir_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    assert runtime_dir() == Path("/run/user/4242/reloadd")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert runtime_dir() == Path(os.environ["TMPDIR"]) / f"reloadd-{os.getuid()}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_ensure_private_dir_creates_the_folder_0700(tmp_path: Path) -> None:
    old = os.umask(0)  # even a permissive umask gives 0700
    try:
        folder = ensure_private_dir(tmp_path / "a" / "reloadd")
    finally:
        os.umask(old)
    assert folder == tmp_path / "a" / "reloadd"
    assert folder.is_dir()
    assert mode(folder) == 0o700


def test_ensure_private_dir_accepts_an_existing_private_folder(tmp_path: Path) -> None:
    folder = tmp_path / "reloadd"
    folder.mkdir(mode=0o700)
    (folder / "x.sock").write_text("")
    assert ensure_private_dir(folder) == folder
    assert ensure_private_dir(folder) == folder
    assert (folder / "x.sock").exists()


@pytest.mark.parametrize("bits", [0o755, 0o750, 0o705, 0o701, 0o710, 0o777])
def test_ensure_private_dir_refuses_a_folder_others_can_open(tmp_path: Path, bits: int) -> None:
    folder = tmp_path / "reloadd"
    folder.mkdir()
    folder.chmod(bits)
    with pytest.raises(EndpointError) as caught:
        ensure_private_dir(folder)
    assert f"chmod 700 {folder}" in str(caught.value)
    assert mode(folder) == bits, "the folder is reported, not silently changed"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_ensure_private_dir_refuses_a_folder_of_another_user(tmp_path: Path) -> None:
    folder = tmp_path / "reloadd"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(EndpointError, match="belongs to user id 65534"):
        ensure_private_dir(folder)


def test_ensure_private_dir_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "reloadd").symlink_to(target)
    with pytest.raises(EndpointError, match="symlink"):
        ensure_private_dir(tmp_path / "reloadd")


def test_ensure_private_dir_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "reloadd").symlink_to(tmp_path / "nowhere")
    with pytest.raises(EndpointError):
        ensure_private_dir(tmp_path / "reloadd")
    assert not (tmp_path / "nowhere").exists()


def test_ensure_private_dir_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "reloadd").write_text("")
    with pytest.raises(EndpointError):
        ensure_private_dir(tmp_path / "reloadd")


def test_ensure_private_dir_maps_os_errors(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(EndpointError, match="cannot create") as caught:
        ensure_private_dir(tmp_path / "a-file" / "reloadd")
    assert isinstance(caught.value.__cause__, OSError)


# -- endpoint ---------------------------------------------------------------------------------


def test_endpoint_for_follows_the_rule(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    endpoint = endpoint_for(root, env)
    name = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    folder = Path("/run/user/1000/reloadd")
    assert endpoint.root == root
    assert endpoint.socket_path == folder / f"{name}.sock"
    assert endpoint.lock_path == folder / f"{name}.lock"
    assert endpoint.log_path == folder / f"{name}.log"
    assert endpoint.address == f"ipc:///run/user/1000/reloadd/{name}.sock"


def test_endpoint_for_is_stable_per_root_and_differs_between_roots(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert endpoint_for(one) == endpoint_for(one)
    assert endpoint_for(one).socket_path != endpoint_for(two).socket_path
    assert endpoint_for(one).socket_path.parent == endpoint_for(two).socket_path.parent


def test_endpoint_for_uses_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/77")
    assert endpoint_for(Path("/srv/app")).socket_path.parent == Path("/run/user/77/reloadd")


def test_clients_and_daemon_find_the_same_endpoint(tmp_path: Path) -> None:
    """Both sides start from wherever they run and reach the one address."""
    make_marker(tmp_path / "proj", ".git", as_dir=True)
    (tmp_path / "proj" / "app" / "templates").mkdir(parents=True)
    daemon = endpoint_for(find_project_root(tmp_path / "proj"))
    client = endpoint_for(find_project_root(cwd=tmp_path / "proj" / "app" / "templates"))
    assert client == daemon


@pytest.mark.parametrize(
    "env",
    [
        {"XDG_RUNTIME_DIR": "/run/user/1000"},
        {"XDG_RUNTIME_DIR": "/run/user/4294967294"},
        {},
    ],
    ids=["xdg", "xdg-large-uid", "tmp"],
)
def test_the_socket_path_fits_af_unix_whatever_the_root(env: dict[str, str]) -> None:
    long_root = Path("/home/someone-with-a-long-name") / ("very-long-project-folder-" * 20)
    for root in (Path("/"), Path("/srv/app"), long_root):
        path = endpoint_for(root, env).socket_path
        assert len(os.fsencode(path)) < AF_UNIX_PATH_MAX, path


def test_the_test_runtime_folder_is_short_enough() -> None:
    """conftest gives each test its own runtime folder; its sockets must still bind."""
    path = endpoint_for(Path("/srv/app")).socket_path
    assert len(os.fsencode(path)) < AF_UNIX_PATH_MAX, path


def test_a_runtime_dir_too_long_for_a_socket_falls_back_to_tmpdir() -> None:
    long = "/run/user/" + "x" * 100
    env = {"XDG_RUNTIME_DIR": long, "TMPDIR": "/var/tmp"}
    assert runtime_dir(env) == Path(f"/var/tmp/reloadd-{os.getuid()}")
    endpoint = endpoint_for(Path("/srv/app"), env)
    assert len(os.fsencode(endpoint.socket_path)) <= MAX_SOCKET_PATH_BYTES
    assert runtime_dir({"XDG_RUNTIME_DIR": long}) == Path(f"/tmp/reloadd-{os.getuid()}")


def test_a_socket_path_too_long_everywhere_is_one_clear_error() -> None:
    env = {"XDG_RUNTIME_DIR": "/r/" + "x" * 100, "TMPDIR": "/t/" + "y" * 100}
    with pytest.raises(EndpointError) as caught:
        endpoint_for(Path("/srv/app"), env)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert f"longer than the {MAX_SOCKET_PATH_BYTES} bytes" in message
    assert "XDG_RUNTIME_DIR" in message


def test_the_endpoint_hashes_the_roots_bytes_whatever_their_encoding() -> None:
    root = Path(os.fsdecode(b"/srv/caf\xe9"))
    name = hashlib.sha256(b"/srv/caf\xe9").hexdigest()[:16]
    assert endpoint_for(root, {"XDG_RUNTIME_DIR": "/run/user/1"}).socket_path.name == f"{name}.sock"


def test_check_endpoint_without_folder_or_socket_finds_nothing(tmp_path: Path) -> None:
    endpoint = endpoint_for(tmp_path, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert check_endpoint(endpoint) is False
    ensure_private_dir(endpoint.socket_path.parent)
    assert check_endpoint(endpoint) is False
    endpoint.socket_path.write_bytes(b"not a socket")  # what a new daemon replaces
    assert check_endpoint(endpoint) is False


def _bind_socket(path: Path, mode: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    path.chmod(mode)
    return sock


def test_check_endpoint_accepts_a_private_socket(tmp_path: Path) -> None:
    endpoint = endpoint_for(tmp_path, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    ensure_private_dir(endpoint.socket_path.parent)
    with _bind_socket(endpoint.socket_path, 0o600):
        assert check_endpoint(endpoint) is True


def test_check_endpoint_refuses_a_socket_others_can_open(tmp_path: Path) -> None:
    endpoint = endpoint_for(tmp_path, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    ensure_private_dir(endpoint.socket_path.parent)
    with _bind_socket(endpoint.socket_path, 0o666), pytest.raises(EndpointError, match="mode 666"):
        check_endpoint(endpoint)


def test_check_endpoint_refuses_a_folder_others_can_open(tmp_path: Path) -> None:
    endpoint = endpoint_for(tmp_path, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    ensure_private_dir(endpoint.socket_path.parent).chmod(0o777)
    with pytest.raises(EndpointError, match="chmod 700"):
        check_endpoint(endpoint)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_check_endpoint_refuses_a_socket_of_another_user(tmp_path: Path) -> None:
    endpoint = endpoint_for(tmp_path, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    ensure_private_dir(endpoint.socket_path.parent)
    with _bind_socket(endpoint.socket_path, 0o600):
        os.chown(endpoint.socket_path, 65534, 65534)
        with pytest.raises(EndpointError, match="belongs to user id 65534"):
            check_endpoint(endpoint)


def test_a_removed_working_folder_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(EndpointError, match="pass --root") as caught:
        find_project_root()
    assert isinstance(caught.value.__cause__, OSError)
