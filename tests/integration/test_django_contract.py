# Django's assertions are kept as Django writes them (unittest style).
# ruff: noqa: PT009
"""Django's own reloader tests, run against ``DaemonReloader`` and a real daemon.

Django checks every reloader with the ``ReloaderTests`` and ``IntegrationTests``
classes of its ``tests/utils_tests/test_autoreload.py``: a reloader made in
``setUp``, files in a fresh temporary folder, ``iter_all_python_module_files``
patched to return nothing, ``notify_file_changed`` patched to count, and
``tick()`` stepped exactly twice around the edits. These tests do the same, with
the same helpers, patches and assertions; only how the reloader is built differs:
a ``DaemonReloader`` whose client talks to a daemon started for the test (on each
backend), and temporary folders made inside that daemon's project. (The helpers and
test bodies follow Django's, BSD-3-Clause, Django Software Foundation.)

As in Django's suite, the reloader is made after its files were created (after
the process started): a file merely created under a glob is no change. Each test
makes a new reloader with the same client name in the same process, so a reloader
may take back the registration the previous one left, globs of deleted folders
included (``test_a_second_reloader_is_told_only_about_its_own_globs``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings  # type: ignore[import-untyped]
from django.test import SimpleTestCase  # type: ignore[import-untyped]

from reloadd.client import Client, Role
from reloadd.client.django import DaemonReloader
from tests.daemon_process import DaemonProcess
from tests.watchman_instance import WatchmanInstance

if not settings.configured:
    settings.configure()  # SimpleTestCase needs settings; these tests use none

NOTIFY_WAIT = 10.0
"""The reloader's longest wait for a notification here: Django's tests step ``tick()`` once
after the edits and expect every notification of them by then (the machine may be loaded)."""


class ReloaderTestCase(SimpleTestCase):  # type: ignore[misc]
    """Django's ``ReloaderTests``: a reloader and a temporary folder with one file per test."""

    BACKEND = "builtin"
    RELOADER_CLS: Any = None

    @pytest.fixture(autouse=True)
    def _daemon_for_the_reloader(
        self,
        tmp_path: Path,
        daemon_factory: list[DaemonProcess],
        request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[None]:
        """The fixture that builds the reloader: one connected to a daemon for this test."""
        project = tmp_path / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text("[project]\nname = 'contract'\n")
        watchman: WatchmanInstance | None = None
        if self.BACKEND == "watchman":
            watchman = request.getfixturevalue("watchman")
        daemon = DaemonProcess(
            project,
            backend=self.BACKEND,
            log_path=tmp_path / "daemon.log",
            watchman_sock=str(watchman.sockpath) if watchman else None,
        )
        daemon_factory.append(daemon.start())
        # Django's setUp makes its folder with tempfile: make it inside the daemon's project.
        monkeypatch.setattr(tempfile, "tempdir", str(project))

        def make_reloader() -> DaemonReloader:
            reloader = DaemonReloader(Client(project, fallback=False))
            reloader.wait_timeout = NOTIFY_WAIT
            return reloader

        self.RELOADER_CLS = make_reloader
        self.daemon = daemon
        yield
        if watchman is not None:
            watchman.delete_watches_below(tmp_path)

    def setUp(self) -> None:
        self._tempdir = tempfile.TemporaryDirectory()
        self.tempdir = Path(self._tempdir.name).resolve(strict=True).absolute()
        self.existing_file = self.ensure_file(self.tempdir / "test.py")
        self.nonexistent_file = (self.tempdir / "does_not_exist.py").absolute()
        self.reloader = self.RELOADER_CLS()

    def tearDown(self) -> None:
        self._tempdir.cleanup()
        self.reloader.stop()

    def ensure_file(self, path: Path) -> Path:
        path.parent.mkdir(exist_ok=True, parents=True)
        path.touch()
        # touch() stamps the file with the kernel's last tick, which lags: use the time now.
        self.set_mtime(path, time.time())
        return path.absolute()

    def set_mtime(self, fp: Path, value: float) -> None:
        os.utime(str(fp), (value, value))

    def increment_mtime(self, fp: Path, by: float = 1) -> None:
        current_time = time.time()
        self.set_mtime(fp, current_time + by)

    @contextlib.contextmanager
    def tick_twice(self) -> Iterator[None]:
        ticker = self.reloader.tick()
        next(ticker)
        yield
        next(ticker)


NOTIFY = "django.utils.autoreload.BaseReloader.notify_file_changed"
MODULES = "django.utils.autoreload.iter_all_python_module_files"


class IntegrationTests:
    """Django's ``IntegrationTests``, the part of its reloader tests that needs a real watcher."""

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_glob(self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock) -> None:
        non_py_file = self.ensure_file(self.tempdir / "non_py_file")
        self.reloader.watch_dir(self.tempdir, "*.py")
        with self.tick_twice():
            self.increment_mtime(non_py_file)
            self.increment_mtime(self.existing_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [self.existing_file])

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_multiple_globs(self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock) -> None:
        self.ensure_file(self.tempdir / "x.test")
        self.reloader.watch_dir(self.tempdir, "*.py")
        self.reloader.watch_dir(self.tempdir, "*.test")
        with self.tick_twice():
            self.increment_mtime(self.existing_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [self.existing_file])

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_overlapping_globs(
        self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock
    ) -> None:
        self.reloader.watch_dir(self.tempdir, "*.py")
        self.reloader.watch_dir(self.tempdir, "*.p*")
        with self.tick_twice():
            self.increment_mtime(self.existing_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [self.existing_file])

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_glob_recursive(self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock) -> None:
        non_py_file = self.ensure_file(self.tempdir / "dir" / "non_py_file")
        py_file = self.ensure_file(self.tempdir / "dir" / "file.py")
        self.reloader.watch_dir(self.tempdir, "**/*.py")
        with self.tick_twice():
            self.increment_mtime(non_py_file)
            self.increment_mtime(py_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [py_file])

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_multiple_recursive_globs(
        self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock
    ) -> None:
        non_py_file = self.ensure_file(self.tempdir / "dir" / "test.txt")
        py_file = self.ensure_file(self.tempdir / "dir" / "file.py")
        self.reloader.watch_dir(self.tempdir, "**/*.txt")
        self.reloader.watch_dir(self.tempdir, "**/*.py")
        with self.tick_twice():
            self.increment_mtime(non_py_file)
            self.increment_mtime(py_file)
        self.assertEqual(notify_mock.call_count, 2)
        self.assertCountEqual(
            notify_mock.call_args_list, [mock.call(py_file), mock.call(non_py_file)]
        )

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_nested_glob_recursive(
        self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock
    ) -> None:
        inner_py_file = self.ensure_file(self.tempdir / "dir" / "file.py")
        self.reloader.watch_dir(self.tempdir, "**/*.py")
        self.reloader.watch_dir(inner_py_file.parent, "**/*.py")
        with self.tick_twice():
            self.increment_mtime(inner_py_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [inner_py_file])

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_overlapping_glob_recursive(
        self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock
    ) -> None:
        py_file = self.ensure_file(self.tempdir / "dir" / "file.py")
        self.reloader.watch_dir(self.tempdir, "**/*.p*")
        self.reloader.watch_dir(self.tempdir, "**/*.py*")
        with self.tick_twice():
            self.increment_mtime(py_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [py_file])


class ReloaddTests:
    """What Django's tests imply but do not spell out, on the same fixture."""

    @mock.patch(NOTIFY)
    def test_it_registers_exactly_what_a_patched_watched_files_yields(
        self: Any, notify_mock: mock.Mock
    ) -> None:
        with mock.patch.object(self.reloader, "watched_files", return_value=[self.existing_file]):
            ticker = self.reloader.tick()
            next(ticker)
            with Client(self.daemon.root, name="status", role=Role.TOOL, spawn=False) as client:
                clients = client.status().clients
            counts = [(c.files, c.globs) for c in clients if c.role is Role.SERVER and c.connected]
            self.assertEqual(counts, [(1, 0)])
            self.increment_mtime(self.existing_file)
            next(ticker)
            self.assertEqual(notify_mock.call_args[0], (self.existing_file,))

    @mock.patch(NOTIFY)
    @mock.patch(MODULES, return_value=frozenset())
    def test_a_second_reloader_is_told_only_about_its_own_globs(
        self: Any, mocked_modules: mock.Mock, notify_mock: mock.Mock
    ) -> None:
        # A reloader before it in this process, with the same client name, left a registration
        # of another folder: the next one takes it back for the grace period.
        old_file = self.ensure_file(self.tempdir / "old" / "gone.py")
        self.reloader.stop()  # it takes back the next registration left under its name
        first = self.RELOADER_CLS()
        first.watch_dir(old_file.parent, "*.py")
        next(first.tick())
        first.stop()
        self.reloader = self.RELOADER_CLS()
        self.reloader.watch_dir(self.tempdir, "*.py")
        with self.tick_twice():
            self.increment_mtime(old_file)
            self.increment_mtime(self.existing_file)
        self.assertEqual(notify_mock.call_count, 1)
        self.assertCountEqual(notify_mock.call_args[0], [self.existing_file])


class BuiltinDaemonReloaderTests(IntegrationTests, ReloaddTests, ReloaderTestCase):
    """On the daemon's built-in watcher."""

    BACKEND = "builtin"


@pytest.mark.watchman
class WatchmanDaemonReloaderTests(IntegrationTests, ReloaddTests, ReloaderTestCase):
    """On Watchman."""

    BACKEND = "watchman"
