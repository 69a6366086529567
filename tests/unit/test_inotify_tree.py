"""The inotify tree's answers to the kernel's refusals (the refusals themselves are faked).

Watch limits and unreadable folders cannot be provoked in a test without changing the
machine's settings (or running as another user), so ``add_watch`` or ``inotify_init1``
is made to fail here; everything else is the real inotify.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import inotify_simple
import pytest

from reloadd.daemon.backends.inotify_backend import InotifyBackend
from reloadd.daemon.backends.inotify_tree import InotifyTree
from reloadd.protocol.errors import BackendError


@pytest.fixture
def tree() -> Iterator[InotifyTree]:
    made = InotifyTree()
    yield made
    made.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("a/one", "a/two", "b", "c/deep/er"):
        (tmp_path / "project" / name).mkdir(parents=True)
    return tmp_path / "project"


def _refuse(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int) -> None:
    """Make ``add_watch`` fail with ``code`` for ``folder`` (and only it)."""
    real = inotify_simple.INotify.add_watch

    def add_watch(self: Any, path: str, mask: int) -> int:
        if path == str(folder):
            raise OSError(code, "refused in this test")
        return int(real(self, path, mask))

    monkeypatch.setattr(inotify_simple.INotify, "add_watch", add_watch)


def test_every_folder_is_watched_and_found(tree: InotifyTree, project: Path) -> None:
    found: set[str] = set()
    tree.watch_tree(str(project), found=found)
    assert tree.folders() == 8
    assert str(project / "c" / "deep" / "er") in found


def test_an_unreadable_folder_is_skipped_with_a_warning(
    tree: InotifyTree,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _refuse(monkeypatch, project / "c", errno.EACCES)
    with caplog.at_level(logging.WARNING, logger="reloadd.daemon.builtin"):
        tree.watch_tree(str(project))
    assert tree.folders() == 5  # c and the two below it are not watched
    assert f"cannot watch {project / 'c'} (permission denied)" in caplog.text


def test_the_watch_limit_is_a_clear_error(
    tree: InotifyTree, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse(monkeypatch, project / "b", errno.ENOSPC)
    with pytest.raises(BackendError, match=r"watch limit is reached.*max_user_watches"):
        tree.watch_tree(str(project))


def test_no_inotify_instance_left_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_instance(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(inotify_simple.INotify, "__init__", no_instance)
    with pytest.raises(BackendError, match=r"no inotify instance left.*max_user_instances"):
        InotifyTree()


def test_a_root_refused_at_the_limit_leaves_no_watch_behind(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    backend = InotifyBackend(lambda batch: None)
    try:
        backend.watch_roots([other], timeout=5)
        reader = backend._reader
        assert reader is not None
        _refuse(monkeypatch, project / "c" / "deep", errno.ENOSPC)
        with pytest.raises(BackendError, match="watch limit"):
            backend.watch_roots([project], timeout=5)
        assert backend.watched_roots() == {other}
        assert reader.tree.folders() == 1
    finally:
        backend.close()
