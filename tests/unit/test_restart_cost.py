"""What a dev server's restart costs: no work that grows with the registration when nothing changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reloadd.daemon import registration, roots
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.registry import ClientRecord
from reloadd.daemon.root_watcher import PendingWatch
from reloadd.protocol import Role, Watch


def test_a_client_state_change_does_not_import_logging() -> None:
    # Nothing configured logging while nothing imported it: DEBUG would be dropped anyway,
    # and importing it cost about 5 ms of every dev server's start.
    code = (
        "import sys\n"
        "from reloadd.client.states import State, StateMachine\n"
        "StateMachine('/project').enter(State.REGISTERED, 'welcomed')\n"
        "print('logging' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_client_debug_records_still_reach_a_configured_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from reloadd.client import log

    with caplog.at_level("DEBUG", logger="reloadd.client"):
        log.debug("state %s", "registered")
    assert "state registered" in caplog.text


def _record(files: dict[str, str]) -> ClientRecord:
    return ClientRecord(
        identity=b"c",
        name="web",
        pid=1,
        role=Role.SERVER,
        connected_at=0.0,
        last_seen=0.0,
        files=dict(files),
    )


def _ctx(watched: list[Path], *, dropped: bool = False) -> Any:
    return SimpleNamespace(roots=SimpleNamespace(current=frozenset(watched), ever_dropped=dropped))


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    checked: list[list[str]] = []
    real = roots.uncovered

    def spy(files: Any, glob_dirs: Any, watched: Any) -> list[str]:
        files, glob_dirs = list(files), list(glob_dirs)
        checked.append(files + glob_dirs)
        return real(files, glob_dirs, watched)

    monkeypatch.setattr(registration, "uncovered", spy)
    return checked


def test_an_unchanged_restart_checks_only_paths_uncovered_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {f"/p/m{i}.py": f"/p/m{i}.py" for i in range(1000)}
    files["/elsewhere/x.py"] = "/elsewhere/x.py"
    record = _record({})
    ctx = _ctx([Path("/p")])
    first = PendingWatch(b"c", Watch(id=1, files=tuple(files)), files, {})
    record.files.update(files)
    assert registration._uncovered(ctx, record, first, everything=False) == ["/elsewhere/x.py"]

    checked = _spy(monkeypatch)
    restart = PendingWatch(b"c", Watch(id=2, unchanged=True), {}, {})
    assert registration._uncovered(ctx, record, restart, everything=True) == ["/elsewhere/x.py"]
    assert checked == [["/elsewhere/x.py"]]


def test_after_a_root_was_dropped_an_unchanged_restart_checks_everything_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {f"/p/m{i}.py": f"/p/m{i}.py" for i in range(10)}
    record = _record(files)
    first = PendingWatch(b"c", Watch(id=1, files=tuple(files)), files, {})
    assert registration._uncovered(_ctx([Path("/p")]), record, first, everything=False) == []

    restart = PendingWatch(b"c", Watch(id=2, unchanged=True), {}, {})
    dropped = _ctx([], dropped=True)
    assert registration._uncovered(dropped, record, restart, everything=True) == sorted(files)


class _ItemsCounted(dict[str, str]):
    """A registration that counts how often its (given, real) pairs are walked."""

    walks = 0

    def items(self) -> Any:
        self.walks += 1
        return super().items()


def test_since_with_nothing_changed_walks_no_file() -> None:
    history = ChangeHistory()
    files = _ItemsCounted({f"/p/m{i}.py": f"/p/m{i}.py" for i in range(100)})
    history.track(files, {}, 0.0)
    history.root_watched(Path("/p"), 1.0)
    assert history.track(files, {}, 2.0) == set()
    assert files.walks == 0
