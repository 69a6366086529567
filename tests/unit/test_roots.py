"""Which folder covers a registered path: never wider than the project, library folders, or a
small folder of an outside file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reloadd.daemon.roots import covering_root, roots_to_add, uncovered
from reloadd.protocol.limits import MAX_OUTSIDE_ROOT_FOLDERS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_inside_the_project_even_under_a_missing_folder(project: Path) -> None:
    assert covering_root(project / "no" / "such" / "x.py", project) == project


def test_library_folder_covers_its_missing_subfolders(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    assert covering_root(site / "pkg" / "missing.py", project) == site


def test_missing_library_folder_covers_nothing(project: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone" / "lib" / "python3.12" / "os.py"
    assert covering_root(gone, project) is None


def test_outside_file_is_covered_by_its_own_folder_only(project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tools"
    folder.mkdir()
    assert covering_root(folder / "tool.py", project) == folder
    assert covering_root(folder / "missing-dir" / "tool.py", project) is None


def test_the_file_system_root_is_never_watched(project: Path) -> None:
    assert covering_root(Path("/nonexistent-dir/x.py"), project) is None
    assert covering_root(Path("/x.py"), project) is None
    assert covering_root(Path("/"), project, is_dir=True) is None


def test_a_folder_with_too_many_folders_is_not_watched(project: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    for index in range(MAX_OUTSIDE_ROOT_FOLDERS + 1):
        (big / str(index)).mkdir(parents=True)
    assert covering_root(big / "x.py", project) is None
    small = tmp_path / "small"
    for index in range(MAX_OUTSIDE_ROOT_FOLDERS):
        (small / str(index)).mkdir(parents=True)
    assert covering_root(small / "x.py", project) == small


def test_refused_paths_are_left_out_and_found_uncovered(project: Path, tmp_path: Path) -> None:
    files = [str(project / "a.py"), "/nonexistent-dir/x.py"]
    roots = roots_to_add(files, [], project, [])
    assert roots == [project]
    assert uncovered(files, [], roots) == ["/nonexistent-dir/x.py"]


def test_one_request_reads_a_bounded_number_of_folders(project: Path, tmp_path: Path) -> None:
    files = []
    for name in ("a", "b", "c"):
        for index in range(MAX_OUTSIDE_ROOT_FOLDERS * 9 // 10):
            (tmp_path / name / str(index)).mkdir(parents=True)
        files.append(str(tmp_path / name / "x.py"))
    roots = roots_to_add(files, [], project, [])
    assert len(roots) == 2  # the third would have been read past the request's budget
    assert len(uncovered(files, [], roots)) == 1
    # A later request finds the first two sized already, and sizes the third.
    assert len(roots_to_add(files, [], project, [])) == 3
