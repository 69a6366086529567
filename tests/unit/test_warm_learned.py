"""The module names kept per command (``reloadd.client.warm.learned``) and the project rule."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from reloadd.client.warm.learned import Learned, state_dir, state_file
from reloadd.client.warm.preload import is_project_file, third_party_dirs
from reloadd.client.warm.started import status_of


def test_learned_names_are_kept_in_order_and_saved_only_when_changed(tmp_path: Path) -> None:
    path = state_file(tmp_path, ["python", "app.py"], tmp_path)
    learned = Learned(path, ["python", "app.py"], tmp_path)
    learned.add(["json", "__main__", "decimal", "json", "_reloadd_warm_fresh"])
    learned.leave_out({"slow": "started a thread"})
    learned.save()
    data = json.loads(path.read_text())
    assert data["modules"] == ["json", "decimal"]
    assert data["skip"] == {"slow": "started a thread"}
    again = Learned(path, ["python", "app.py"], tmp_path)
    assert list(again.modules) == ["json", "decimal"]
    assert not again.dirty
    other = Learned(path, ["python", "other.py"], tmp_path)  # another command: not its list
    assert not other.modules


def test_state_folder_follows_xdg_state_home(tmp_path: Path) -> None:
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "reloadd" / "warm"
    first = state_file(tmp_path, ["a"], tmp_path)
    assert first != state_file(tmp_path, ["b"], tmp_path)
    assert first != state_file(tmp_path, ["a"], tmp_path / "sub")


def test_a_virtualenv_inside_the_project_is_third_party(tmp_path: Path) -> None:
    root = tmp_path / "project"
    venv = root / ".venv" / "lib" / "site-packages"
    venv.mkdir(parents=True)
    third_party = [os.path.join(str(venv), "")]
    assert is_project_file(str(root / "app.py"), str(root), third_party)
    assert is_project_file(str(root / "pkg" / "mod.py"), str(root), third_party)
    assert not is_project_file(str(venv / "django" / "__init__.py"), str(root), third_party)
    assert not is_project_file(str(tmp_path / "elsewhere.py"), str(root), third_party)
    assert not is_project_file(str(tmp_path / "project2" / "a.py"), str(root), third_party)


def test_this_interpreters_standard_library_is_third_party() -> None:
    folders = third_party_dirs()
    assert any(os.path.realpath(os.__file__).startswith(folder) for folder in folders)
    assert any(os.path.realpath(sys.prefix) + os.sep == folder for folder in folders)


def test_wait_status_as_subprocess_has_it() -> None:
    assert status_of(3 << 8) == 3
    assert status_of(15) == -15
    assert status_of(0) == 0
