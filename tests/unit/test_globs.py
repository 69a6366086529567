"""``glob_matches`` agrees with ``pathlib.Path.glob`` on a real tree (trailing ``**`` aside)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reloadd.daemon.glob_scan import ScanBudget, glob_files
from reloadd.protocol import ErrorCode, ProtocolError
from reloadd.protocol.globs import GlobPattern, compile_glob, glob_match, glob_matches, path_below

TREE_FILES = [
    "a.py",
    "b.py",
    "x.py",
    "ab.py",
    ".hidden.py",
    "a b.py",
    "ü.py",
    "[x].py",
    "ab.txt",
    "b1.txt",
    "c.txt",
    "setup.cfg",
    "pkg/__init__.py",
    "pkg/mod.py",
    "pkg/.secret.py",
    "pkg/sub/deep.py",
    "pkg/sub/page.html",
    "pkg/sub/a.txt",
    ".venv/lib/site.py",
    ".venv/lib/LC_MESSAGES/x.mo",
    "t/index.html",
    "t/a/b/c.html",
    "t/a/.h/f.html",
    "t/a/x.txt",
    "t/t/nested.html",
    "templates/base.html",
    "templates/partials/nav.html",
    "templates/.draft.html",
    "templates/t/a.html",
    "locale/fr/LC_MESSAGES/django.mo",
    "locale/fr/LC_MESSAGES/django.po",
    "locale/de/LC_MESSAGES/django.mo",
    "locale/LC_MESSAGES/top.mo",
    "locale/de/LC_MESSAGES/sub/deeper.mo",
]
TREE_DIRS = ["empty", "t/empty"]

# (directory relative to the tree, pattern): several globs per directory.
GLOBS = [
    (".", "*.py"),
    (".", "**/*.py"),
    (".", "**/*.html"),
    (".", "**/*"),
    (".", "*"),
    (".", "t/**/*.html"),
    (".", "**/LC_MESSAGES/*.mo"),
    (".", "[ab]*.txt"),
    (".", "[!ab]*.txt"),
    (".", "?.py"),
    (".", "pkg/*.py"),
    (".", "*/sub/*"),
    (".", "**/.h/*"),
    (".", "**/t/*.html"),
    (".", "./pkg//*.py"),
    (".", "**/*.[pm][yo]"),
    (".", "a b.py"),
    (".", "[[]x].py"),
    ("t", "**/*.html"),
    ("t", "*.html"),
    ("t", "**/*"),
    ("t", "a/*/*.html"),
    ("templates", "**/*"),
    ("templates", "**/*.html"),
    ("templates", "*.html"),
    ("templates", "t/**/*.html"),
    ("locale", "**/LC_MESSAGES/*.mo"),
    ("locale", "*/LC_MESSAGES/*.mo"),
    ("locale", "**/*.mo"),
    ("pkg", "**/*.py"),
    ("pkg", "sub/*"),
]
TRAILING_GLOBS = [(".", "**"), (".", "t/**"), ("t", "**"), ("t", "a/**"), ("locale", "*/**")]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in TREE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    for name in TREE_DIRS:
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def every_path(root: Path) -> set[str]:
    """Every file and folder below ``root`` (not ``root`` itself), as absolute strings."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        found.update(os.path.join(folder, name) for name in [*dirs, *files])
    return found


def matched(directory: Path, pattern: str, paths: set[str]) -> set[str]:
    return {path for path in paths if glob_matches(str(directory), pattern, path)}


def test_the_tree_has_hidden_files_and_nested_folders(tree: Path) -> None:
    paths = every_path(tree)
    assert str(tree / ".venv/lib/site.py") in paths
    assert str(tree / "locale/de/LC_MESSAGES/sub/deeper.mo") in paths


@pytest.mark.parametrize(("folder", "pattern"), GLOBS, ids=[f"{d}:{p}" for d, p in GLOBS])
def test_same_matches_as_path_glob(tree: Path, folder: str, pattern: str) -> None:
    directory = tree / folder
    expected = {str(path) for path in directory.glob(pattern)}
    assert expected, "a glob that matches nothing tests nothing"
    assert matched(directory, pattern, every_path(tree)) == expected


@pytest.mark.parametrize(("folder", "pattern"), GLOBS, ids=[f"{d}:{p}" for d, p in GLOBS])
def test_the_daemons_walk_of_a_glob_folder_finds_what_path_glob_finds(
    tree: Path, folder: str, pattern: str
) -> None:
    directory = tree / folder
    expected = {str(path) for path in directory.glob(pattern)}
    walked = glob_files(str(directory), pattern, ScanBudget(10_000))
    assert {str(directory / relative) for relative in walked} == expected


def test_the_walk_stops_when_its_budget_is_spent(tree: Path) -> None:
    budget = ScanBudget(5)
    assert len(list(glob_files(str(tree), "**", budget))) <= 5
    assert budget.exhausted


def test_the_walk_skips_folders_no_match_can_lie_in(tree: Path) -> None:
    budget = ScanBudget(10_000)
    assert list(glob_files(str(tree), "pkg/sub/*.html", budget)) == ["pkg/sub/page.html"]
    # The top folder, pkg and pkg/sub only: a few dozen entries, not the whole tree.
    assert 10_000 - budget.left < len(every_path(tree)) / 2


@pytest.mark.parametrize(
    ("folder", "pattern"), TRAILING_GLOBS, ids=[f"{d}:{p}" for d, p in TRAILING_GLOBS]
)
def test_a_trailing_double_star_matches_everything_below_what_path_glob_yields(
    tree: Path, folder: str, pattern: str
) -> None:
    directory = tree / folder
    yielded = [str(path) for path in directory.glob(pattern)]
    paths = every_path(tree)
    below = {
        path for path in paths if any(path == top or path.startswith(top + "/") for top in yielded)
    }
    # Path.glob("**") also yields the glob's own directory, which is not "a path below" it.
    assert matched(directory, pattern, paths) == below - {str(directory)}


def test_hidden_names_match_a_star_as_in_pathlib() -> None:
    assert glob_matches("/p", "*.py", "/p/.hidden.py")
    assert glob_matches("/p", "**/*.html", "/p/.git/x/.a.html")


def test_a_pattern_is_case_sensitive() -> None:
    assert glob_matches("/p", "*.py", "/p/a.py")
    assert not glob_matches("/p", "*.py", "/p/a.PY")


def test_a_star_never_crosses_a_slash() -> None:
    assert not glob_matches("/p", "*.py", "/p/pkg/a.py")
    assert not glob_matches("/p", "pkg*", "/p/pkg/a.py")


def test_several_globs_per_directory_are_independent() -> None:
    globs = [("/p/app", "**/*.html"), ("/p/app", "*.py"), ("/p/app", "locale/**/*.mo")]
    cases = {
        "/p/app/x/y.html": [True, False, False],
        "/p/app/a.py": [False, True, False],
        "/p/app/locale/fr/LC_MESSAGES/d.mo": [False, False, True],
        "/p/app/x/a.py": [False, False, False],
    }
    for path, expected in cases.items():
        assert [glob_matches(d, p, path) for d, p in globs] == expected, path


@pytest.mark.parametrize("directory", ["/p/app", "/p/app/", "/p/app//"])
def test_only_paths_below_the_directory_match(directory: str) -> None:
    assert glob_matches(directory, "**/*", "/p/app/a.py")
    assert not glob_matches(directory, "**/*", "/p/apple/a.py")
    assert not glob_matches(directory, "**/*", "/p/a.py")
    assert not glob_matches(directory, "**/*", "/p/app")


def test_the_root_directory_works() -> None:
    assert glob_matches("/", "etc/*.conf", "/etc/x.conf")
    assert not glob_matches("/", "*.conf", "/etc/x.conf")


def test_double_star_twice_is_the_same_as_once() -> None:
    for path in [("a",), ("a", "b"), ("a", "b", "c.py")]:
        assert GlobPattern("**/**/*.py").matches(path) == GlobPattern("**/*.py").matches(path)
        assert GlobPattern("**/**").matches(path) == GlobPattern("**").matches(path)


@pytest.mark.timeout(10)
def test_hostile_patterns_match_in_polynomial_time() -> None:
    """Backtracking over many ``**`` would take longer than the universe's age here."""
    deep = "/p/" + "/".join(["a"] * 200)
    assert not glob_matches("/p", "/".join(["**"] * 100 + ["b"]), deep)
    assert not glob_matches("/p", "/".join(["**/a"] * 60 + ["b"]), deep)
    assert glob_matches("/p", "/".join(["**/a"] * 60), deep)


@pytest.mark.parametrize("pattern", ["", "/", "/abs/*.py", ".", "./", "//", "./."])
def test_invalid_patterns_raise_protocol_error(pattern: str) -> None:
    for attempt in (
        lambda: GlobPattern(pattern),
        lambda: compile_glob(pattern),
        lambda: glob_matches("/p", pattern, "/p/a.py"),
    ):
        with pytest.raises(ProtocolError) as caught:
            attempt()
        assert caught.value.code is ErrorCode.BAD_FIELD


def test_compile_glob_caches() -> None:
    assert compile_glob("**/*.py") is compile_glob("**/*.py")
    assert repr(compile_glob("**/*.py")) == "GlobPattern('**/*.py')"


COMPONENTS = [
    "**",
    "*",
    "?",
    "t",
    "a",
    "pkg",
    "sub",
    "*.py",
    "*.html",
    "[ab]*",
    ".*",
    "LC_MESSAGES",
]


def expected_matches(directory: Path, pattern: str, paths: set[str]) -> set[str]:
    """What ``glob_matches`` must match, from ``Path.glob`` and the trailing ``**`` rule."""
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    if parts[-1] != "**":
        return {str(path) for path in directory.glob(pattern)}
    while parts and parts[-1] == "**":
        parts.pop()
    tops = {str(path) for path in directory.glob("/".join(parts))} if parts else {str(directory)}
    below = {p for p in paths if any(p == top or p.startswith(top + "/") for top in tops)}
    return below - {str(directory)}


def test_a_trailing_double_star_also_matches_a_file_where_it_starts() -> None:
    assert glob_matches("/p", "*/**", "/p/setup.cfg")
    assert glob_matches("/p", "t/**", "/p/t")
    assert not glob_matches("/p", "t/**", "/p/tt")


@settings(
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    folder=st.sampled_from([".", "t", "pkg", "locale", "templates"]),
    parts=st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4),
)
def test_random_patterns_agree_with_path_glob(tree: Path, folder: str, parts: list[str]) -> None:
    pattern = "/".join(parts)
    directory = tree / folder
    paths = every_path(tree)
    assert matched(directory, pattern, paths) == expected_matches(directory, pattern, paths)


def test_path_below_is_relative_only_below_the_folder() -> None:
    assert path_below("/p/templates/", "/p/templates/a/b.html") == "a/b.html"
    assert path_below("/p/templates", "/p/templates-old/b.html") is None
    assert path_below("/p/templates", "/p/templates") is None


def test_glob_match_gives_the_matched_path_relative_to_the_glob_folder() -> None:
    assert glob_match("/p/templates", "**/*.html", "/p/templates/a/b.html") == "a/b.html"
    assert glob_match("/p/templates", "**/*.html", "/p/templates/a/b.txt") is None
    assert glob_match("/p/templates", "**/*.html", "/p/other/b.html") is None
