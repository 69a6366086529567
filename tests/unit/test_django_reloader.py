"""DaemonReloader against Django's BaseReloader expectations, with a stand-in client.

What Django's reloader tests expect of every reloader (``watch_dir`` with several
and overlapping and recursive globs, ``watched_files``, ``tick`` notifying each
changed file once, ``stop``), what the daemon is sent (files, error files, globs,
``since``, and only what is new later), and the ``get_reloader`` hook.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings  # type: ignore[import-untyped]
from django.core.signals import request_finished  # type: ignore[import-untyped]
from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client import process_start_time
from reloadd.client.django import (
    ENV_VAR,
    DaemonReloader,
    DaemonUnavailable,
    get_reloader,
    hook,
    install,
    uninstall,
)
from reloadd.protocol import Crash, ErrorCode, ReloaddError, RequestRejected, ServerState
from reloadd.protocol.globs import glob_matches

if not settings.configured:
    # These tests send Django's own signals (request_finished, file_changed); the receivers
    # Django connects once its server or template modules are imported read settings.
    settings.configure()


class FakeClient:
    """Records registrations; ``wait()`` hands out queued batches of changed paths."""

    def __init__(self) -> None:
        self.watches: list[tuple[list[str], list[tuple[str, str]], float]] = []
        self.batches: list[list[Path]] = []
        self.waits = 0
        self.closed = False
        self.reject: RequestRejected | None = None
        self.root = Path("/nonexistent/project")
        self.restart_requested = False
        self.states: list[tuple[ServerState, Crash | None]] = []

    def watch(
        self, files: Iterable[str], globs: Iterable[tuple[str, str]], *, since: float
    ) -> object:
        if self.reject is not None:
            raise self.reject
        self.watches.append((list(files), list(globs), since))
        return None

    def wait(self, timeout: float | None = None) -> list[Path]:
        self.waits += 1
        return self.batches.pop(0) if self.batches else []

    def report_state(
        self, state: ServerState, *, error: Crash | None = None, duration_ms: int | None = None
    ) -> None:
        self.states.append((state, error))

    def close(self) -> None:
        self.closed = True

    @property
    def files(self) -> set[str]:
        return {name for files, _, _ in self.watches for name in files}

    @property
    def globs(self) -> set[tuple[str, str]]:
        return {glob for _, globs, _ in self.watches for glob in globs}


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def reloader(client: FakeClient) -> Iterator[DaemonReloader]:
    reloader = DaemonReloader(client, since=1000.0)
    yield reloader
    reloader.stop()


@pytest.fixture
def notified(reloader: DaemonReloader, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths passed to ``notify_file_changed`` (which then restarts nothing)."""
    calls: list[Path] = []
    monkeypatch.setattr(reloader, "notify_file_changed", calls.append)
    return calls


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("a.py", "b.txt", "x.test", ".hidden.py", "dir/file.py", "dir/c.txt", "dir/d/e.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    return tmp_path


# -- watch_dir and watched_files, as in BaseReloader ----------------------------------------------


def test_watch_dir_makes_the_folder_absolute_and_keeps_every_glob(
    reloader: DaemonReloader, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    reloader.watch_dir("dir", "**/*.py")
    reloader.watch_dir(tree / "dir", "*.txt")
    reloader.watch_dir(tree / "dir", "**/*.py")  # a duplicate is one glob
    assert dict(reloader.directory_globs) == {tree / "dir": {"**/*.py", "*.txt"}}


def test_watched_files_is_base_reloaders(reloader: DaemonReloader, tree: Path) -> None:
    base = autoreload.BaseReloader()
    for target in (reloader, base):
        target.watch_dir(tree, "*.py")
        target.watch_dir(tree, "*.p*")
        target.watch_dir(tree / "dir", "**/*")
        target.extra_files.add(tree / "x.test")
    assert list(reloader.watched_files()) == list(base.watched_files())
    assert tree / "dir" / "d" / "e.py" in set(reloader.watched_files())


# -- registration ------------------------------------------------------------------------------


def test_the_first_step_registers_files_since_the_given_time_and_globs_from_then_on(
    reloader: DaemonReloader, client: FakeClient, tree: Path
) -> None:
    reloader.watch_dir(tree, "*.py")
    reloader.watch_dir(tree, "*.p*")
    reloader.watch_dir(tree / "dir", "**/*.py")
    reloader.extra_files.add(tree / "x.test")
    ticker = reloader.tick()
    before = time.time()
    next(ticker)
    assert client.waits == 0, "the first step only registers"
    assert len(client.watches) == 2
    (files, no_globs, since), (no_files, globs, globs_since) = client.watches
    assert since == 1000.0
    assert __file__ in files
    assert autoreload.__file__ in files
    assert str(tree / "x.test") in files
    assert no_globs == []
    assert no_files == []
    # A file merely created under a glob before now is no change (Django's reloaders agree).
    assert before <= globs_since <= time.time()
    assert sorted(globs) == [
        (str(tree), "*.p*"),
        (str(tree), "*.py"),
        (str(tree / "dir"), "**/*.py"),
    ]


def test_by_default_since_is_the_start_of_the_process(client: FakeClient) -> None:
    reloader = DaemonReloader(client)
    assert abs(reloader.since - process_start_time()) < 0.05


def test_files_that_failed_to_import_are_registered(
    reloader: DaemonReloader, client: FakeClient, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error_files = [str(tree / "a.py"), "<frozen importlib._bootstrap>"]
    monkeypatch.setattr(autoreload, "_error_files", error_files)
    ticker = reloader.tick()
    next(ticker)
    assert str(tree / "a.py") in client.files
    assert not [name for name in client.files if "<frozen" in name]
    # One recorded later (by the main thread) is added at the next step, since the scan before.
    error_files.append(str(tree / "dir" / "file.py"))
    scanned_before = time.time()
    next(ticker)
    files, globs, since = client.watches[-1]
    assert files == [str(tree / "dir" / "file.py")]
    assert globs == []
    assert 0 < since <= scanned_before


def test_later_imports_are_added_incrementally_since_the_previous_scan(
    reloader: DaemonReloader, client: FakeClient, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticker = reloader.tick()
    before_first = time.time()
    next(ticker)
    next(ticker)
    assert len(client.watches) == 1, "nothing new, nothing sent"
    module = tree / "late_module_for_reloadd.py"
    module.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tree))
    monkeypatch.delitem(sys.modules, "late_module_for_reloadd", raising=False)
    __import__("late_module_for_reloadd")
    reloader.watch_dir(tree / "dir", "*.txt")
    next(ticker)
    (files, _, since), (_, globs, globs_since) = client.watches[-2:]
    assert files == [str(module)]
    assert globs == [(str(tree / "dir"), "*.txt")]
    assert before_first <= since <= globs_since <= time.time()
    sys.modules.pop("late_module_for_reloadd", None)


def test_a_finished_request_makes_it_scan_again(
    reloader: DaemonReloader, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans = itertools.count()
    real_register = reloader._register

    def counting_register(since: float) -> bool:
        next(scans)
        return real_register(since)

    monkeypatch.setattr(reloader, "_register", counting_register)
    ticker = reloader.tick()
    next(ticker)
    next(ticker)
    assert next(scans) == 1
    request_finished.send(sender=None)
    next(ticker)
    assert next(scans) == 3  # the first registration, and one after the request
    ticker.close()
    reloader._request_done.clear()
    request_finished.send(sender=None)
    assert not reloader._request_done.is_set(), "a finished ticker no longer listens"


def test_an_invalid_glob_is_left_out_with_a_warning(
    reloader: DaemonReloader, client: FakeClient, tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reloader.directory_globs[tree].add("/absolute/*.py")
    reloader.watch_dir(tree, "*.py")
    next(reloader.tick())
    assert client.globs == {(str(tree), "*.py")}
    assert "cannot watch" in caplog.text


# -- notifications -------------------------------------------------------------------------------


def test_each_changed_file_is_notified_once_and_folders_never(
    reloader: DaemonReloader, client: FakeClient, notified: list[Path], tree: Path
) -> None:
    reloader.watch_dir(tree, "**/*")
    ticker = reloader.tick()
    next(ticker)
    assert notified == []
    for name in ("a.py", "dir/c.txt"):
        (tree / name).write_text("edited\n")
    client.batches.append([tree / "a.py", tree / "dir", tree / "dir" / "c.txt"])
    next(ticker)
    assert notified == [tree / "a.py", tree / "dir" / "c.txt"]
    next(ticker)  # nothing changed: nothing notified
    assert len(notified) == 2


def test_a_file_written_before_it_was_registered_is_not_notified(
    reloader: DaemonReloader, client: FakeClient, notified: list[Path], tree: Path
) -> None:
    # The watcher's late report of a write made before the glob was registered (or,
    # for a module, before the process started): the file is as Django found it.
    reloader.since = time.time()  # the process started after the tree was written
    reloader.watch_dir(tree, "*.txt")
    reloader.extra_files.add(tree / "x.test")
    ticker = reloader.tick()
    next(ticker)
    client.batches.append([tree / "b.txt", tree / "x.test"])
    next(ticker)
    assert notified == []
    (tree / "dir" / "c.txt").unlink()  # a deletion is always news
    reloader.watch_dir(tree / "dir", "*.txt")
    next(ticker)
    client.batches.append([tree / "dir" / "c.txt"])
    next(ticker)
    assert notified == [tree / "dir" / "c.txt"]


def test_a_path_none_of_its_files_and_globs_covers_is_not_notified(
    reloader: DaemonReloader, client: FakeClient, notified: list[Path], tree: Path
) -> None:
    # What a registration taken back from an earlier reloader held (an older daemon keeps it).
    reloader.watch_dir(tree, "*.txt")
    ticker = reloader.tick()
    next(ticker)
    for name in ("a.py", "b.txt"):
        (tree / name).write_text("edited\n")
    client.batches.append([tree / "a.py", tree / "b.txt"])
    next(ticker)
    assert notified == [tree / "b.txt"]


def test_a_python_change_restarts_and_says_goodbye(
    reloader: DaemonReloader, client: FakeClient, tree: Path
) -> None:
    reloader.extra_files.add(tree / "a.py")
    ticker = reloader.tick()
    next(ticker)
    client.batches.append([tree / "a.py"])
    with pytest.raises(SystemExit) as exited:
        next(ticker)
    assert exited.value.code == 3
    assert client.closed


def test_a_receiver_that_handles_the_change_prevents_the_restart(
    reloader: DaemonReloader, client: FakeClient, tree: Path
) -> None:
    handled: list[Path] = []

    def template_changed(sender: object, file_path: Path, **kwargs: Any) -> bool:
        handled.append(file_path)
        return file_path.suffix == ".html"

    reloader.watch_dir(tree, "*.html")
    autoreload.file_changed.connect(template_changed)
    try:
        ticker = reloader.tick()
        next(ticker)
        (tree / "page.html").write_text("edited\n")
        client.batches.append([tree / "page.html"])
        next(ticker)
    finally:
        autoreload.file_changed.disconnect(template_changed)
    assert handled == [tree / "page.html"]
    assert not client.closed


def test_a_wait_is_bounded_so_stop_from_another_thread_ends_run_loop(client: FakeClient) -> None:
    waiting = threading.Event()

    class SlowClient(FakeClient):
        def wait(self, timeout: float | None = None) -> list[Path]:
            assert timeout is not None
            assert timeout <= DaemonReloader.wait_timeout
            waiting.set()
            time.sleep(0.05)  # a wait that blocks for a while, as a real one does
            return super().wait(timeout)

    slow = SlowClient()
    reloader = DaemonReloader(slow, since=1.0)
    runner = threading.Thread(target=reloader.run_loop)
    runner.start()
    assert waiting.wait(timeout=5), "run_loop never waited for changes"
    reloader.stop()
    runner.join(timeout=5)
    assert not runner.is_alive()
    assert reloader.should_stop
    assert slow.closed


def test_a_refused_registration_falls_back_to_djangos_reloader(
    reloader: DaemonReloader,
    client: FakeClient,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(autoreload, "get_reloader", autoreload.StatReloader)
    monkeypatch.setattr(autoreload.StatReloader, "SLEEP_TIME", 0)
    client.reject = RequestRejected("too many files", code=ErrorCode.LIMIT_EXCEEDED)
    reloader.watch_dir(tree, "*.py")
    ticker = reloader.tick()
    next(ticker)
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1
    assert "refused this server's files (too many files)" in warning
    assert "using Django's StatReloader instead" in warning
    assert client.closed
    fallback = reloader._fallback
    assert isinstance(fallback, autoreload.StatReloader)
    assert fallback.directory_globs is reloader.directory_globs
    reloader.stop()
    assert fallback.should_stop


def test_a_reloader_that_cannot_connect_when_it_starts_falls_back_to_djangos(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Made directly (not by get_reloader, which connects first): tick() connects itself.
    monkeypatch.setattr(autoreload, "get_reloader", autoreload.StatReloader)
    monkeypatch.setattr(autoreload.StatReloader, "SLEEP_TIME", 0)

    def unreachable(**kwargs: object) -> None:
        raise DaemonUnavailable("no daemon answers")

    monkeypatch.setattr("reloadd.client.django.reloader.connect_client", unreachable)
    reloader = DaemonReloader()
    ticker = reloader.tick()
    next(ticker)
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1
    assert "cannot use the daemon (no daemon answers)" in warning
    assert "using Django's StatReloader instead" in warning
    reloader.stop()


def test_the_daemons_unavailability_is_a_reloadd_error_and_djangos() -> None:
    assert issubclass(DaemonUnavailable, ReloaddError)
    assert issubclass(DaemonUnavailable, autoreload.WatchmanUnavailable)


# -- the hook ------------------------------------------------------------------------------------


@pytest.fixture
def django_get_reloader(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Django's get_reloader as it was; put back after the test (Watchman kept out of it)."""
    monkeypatch.setenv("WATCHMAN_SOCK", "/nonexistent/reloadd-test.sock")
    original = autoreload.get_reloader
    yield original
    uninstall()
    autoreload.get_reloader = original


def test_install_only_in_the_reloaders_child(
    django_get_reloader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(autoreload.DJANGO_AUTORELOAD_ENV, raising=False)
    assert not install()
    assert autoreload.get_reloader is django_get_reloader
    monkeypatch.setenv(autoreload.DJANGO_AUTORELOAD_ENV, "true")
    assert install()
    assert install(), "a second call changes nothing"
    assert autoreload.get_reloader is get_reloader
    assert hook.django_reloader().__class__ is autoreload.StatReloader
    uninstall()
    assert autoreload.get_reloader is django_get_reloader


@pytest.mark.parametrize("value", ["0", "false", "No", "off "])
def test_the_environment_variable_turns_it_off(
    django_get_reloader: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(autoreload.DJANGO_AUTORELOAD_ENV, "true")
    monkeypatch.setenv(ENV_VAR, value)
    assert not install()
    assert autoreload.get_reloader is django_get_reloader


def open_runtime_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runtime folder others can open: no daemon can be reached or started."""
    runtime = tmp_path / "runtime"
    (runtime / "reloadd").mkdir(parents=True)
    (runtime / "reloadd").chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(tmp_path)


def test_without_a_daemon_get_reloader_warns_once_and_returns_djangos(
    django_get_reloader: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    open_runtime_folder(tmp_path, monkeypatch)
    monkeypatch.setenv(autoreload.DJANGO_AUTORELOAD_ENV, "true")
    install()
    reloader = autoreload.get_reloader()
    assert isinstance(reloader, autoreload.StatReloader)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("reloadd: cannot use the daemon (")
    assert "chmod 700" in err
    assert err.rstrip().endswith("using Django's StatReloader instead")


def test_check_availability_raises_djangos_kind_of_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    open_runtime_folder(tmp_path, monkeypatch)
    with pytest.raises(autoreload.WatchmanUnavailable) as raised:
        DaemonReloader.check_availability()
    assert isinstance(raised.value, DaemonUnavailable)
    assert "\n" not in str(raised.value)


# -- the globs the daemon matches are the ones Django's watch_dir means ----------------------------


@pytest.mark.parametrize(
    ("folder", "pattern"),
    [
        (".", "**/*"),  # the template reloader
        (".", "**/*.mo"),  # the translation reloader
        (".", "*.py"),
        (".", "*.p*"),
        (".", "**/*.py"),
        ("dir", "**/*.py"),
        (".", "dir/*.txt"),
        (".", "*/*.txt"),
    ],
)
def test_the_daemons_glob_matching_agrees_with_path_glob_on_files(
    tree: Path, folder: str, pattern: str
) -> None:
    (tree / "locale" / "fr" / "LC_MESSAGES").mkdir(parents=True)
    (tree / "locale" / "fr" / "LC_MESSAGES" / "django.mo").write_text("")
    directory = (tree / folder).absolute()
    files = [path for path in tree.rglob("*") if path.is_file()]
    expected = {path for path in directory.glob(pattern) if path.is_file()}
    matched = {path for path in files if glob_matches(str(directory), pattern, str(path))}
    assert matched == expected


def test_importing_the_client_does_not_import_django() -> None:
    code = "import sys, reloadd.client; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.stdout.strip() == "False"


def test_unpatched_the_files_are_djangos_found_faster(
    reloader: DaemonReloader, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reloader.extra_files.add(tree / "x.test")
    monkeypatch.setattr(autoreload, "_error_files", [str(tree / "a.py")])
    fast = reloader._watched_files()

    class Subclass(DaemonReloader):
        def watched_files(self, include_globs: bool = True) -> Iterator[Path]:
            yield from super().watched_files(include_globs)

    slow_reloader = Subclass(FakeClient())
    slow_reloader.extra_files = reloader.extra_files
    slow = slow_reloader._watched_files()
    assert {os.path.realpath(name) for name in fast} == {os.path.realpath(name) for name in slow}


def test_a_patched_module_list_is_what_is_registered(
    reloader: DaemonReloader, client: FakeClient, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autoreload, "iter_all_python_module_files", lambda: [tree / "a.py"])
    reloader.extra_files.add(tree / "x.test")
    next(reloader.tick())
    assert client.files == {str(tree / "a.py"), str(tree / "x.test")}
