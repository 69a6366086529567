"""``crash_of``: the exception a dev server reports, and the project line it came from."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reloadd.client.crash import crash_of, in_project
from reloadd.protocol import Crash


def raised(code: str, filename: str) -> BaseException:
    try:
        exec(compile(code, filename, "exec"), {})
    except BaseException as exc:  # noqa: BLE001 - the point is to catch anything
        return exc
    raise AssertionError("the code did not raise")


def test_a_syntax_error_is_reported_at_its_own_file_and_line(tmp_path: Path) -> None:
    exc = raised("x = 1\ndef broken(:\n", str(tmp_path / "views.py"))
    crash = crash_of(exc, tmp_path)
    assert (crash.type, crash.file, crash.line) == ("SyntaxError", str(tmp_path / "views.py"), 2)
    assert crash.message == "invalid syntax"


def test_the_innermost_project_frame_wins_over_a_library_frame(tmp_path: Path) -> None:
    # views.py (project) calls a function defined in a site-packages file, which raises.
    library = tmp_path / ".venv" / "lib" / "site-packages" / "lib.py"
    namespace: dict[str, object] = {}
    exec(compile("def fail():\n    raise KeyError('missing')\n", str(library), "exec"), namespace)
    try:
        exec(compile("\n\nfail()\n", str(tmp_path / "app" / "views.py"), "exec"), namespace)
    except KeyError as exc:
        crash = crash_of(exc, tmp_path)
    assert crash == Crash("KeyError", "'missing'", str(tmp_path / "app" / "views.py"), 3)


def test_without_a_project_frame_the_innermost_frame_is_reported(tmp_path: Path) -> None:
    exc = raised("raise ValueError('bad')\n", "/elsewhere/lib.py")
    assert crash_of(exc, tmp_path) == Crash("ValueError", "bad", "/elsewhere/lib.py", 1)


def test_an_exception_never_raised_has_no_place() -> None:
    assert crash_of(RuntimeError("x"), "/proj") == Crash("RuntimeError", "x")


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("app/views.py", True),
        ("manage.py", True),
        (".venv/lib/python3.11/site-packages/django/urls.py", False),
        ("venv/lib/x.py", False),
        ("lib/site-packages/y.py", False),
    ],
)
def test_in_project(tmp_path: Path, relative: str, expected: bool) -> None:
    assert in_project(str(tmp_path / relative), tmp_path) is expected
    assert not in_project(sys.executable, tmp_path / "nowhere")
