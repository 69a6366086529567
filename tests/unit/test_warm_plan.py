"""Which commands a template can run (``reloadd.client.warm.plan``), on real files in ``tmp_path``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from reloadd.client.warm.plan import NotWarm, Plan, plan_for, script_interpreter

PYTHON = sys.executable


def _env(*folders: Path) -> dict[str, str]:
    return {"PATH": os.pathsep.join([*map(str, folders), str(Path(PYTHON).parent)])}


def test_python_file(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    plan = plan_for([PYTHON, "-u", "app.py", "--port", "1"], env=_env(), cwd=tmp_path)
    assert plan == Plan(
        PYTHON,
        ("-u",),
        str(tmp_path / "app.py"),
        False,
        ("app.py", "--port", "1"),
        (PYTHON, "-u", "app.py", "--port", "1"),
    )


def test_python_module_with_options_taking_arguments(tmp_path: Path) -> None:
    plan = plan_for(
        ["python3", "-X", "dev", "-Werror", "-m", "http.server", "0"], env=_env(), cwd=tmp_path
    )
    assert isinstance(plan, Plan)
    assert plan.module
    assert plan.target == "http.server"
    assert plan.options == ("-X", "dev", "-W", "error")
    assert plan.argv == ("-m", "0")
    assert plan.orig_argv == ("python3", "-X", "dev", "-Werror", "-m", "http.server", "0")
    assert os.path.isabs(plan.interpreter)


def test_module_glued_to_its_option(tmp_path: Path) -> None:
    plan = plan_for([PYTHON, "-mhttp.server"], env=_env(), cwd=tmp_path)
    assert isinstance(plan, Plan)
    assert (plan.target, plan.module, plan.orig_argv) == (
        "http.server",
        True,
        (PYTHON, "-mhttp.server"),
    )


def test_console_script_runs_as_its_interpreter_runs_it(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "serve"
    script.parent.mkdir()
    script.write_text(f"#!{PYTHON}\nimport sys\n")
    script.chmod(0o755)
    plan = plan_for(["serve", "app:app"], env=_env(script.parent), cwd=tmp_path)
    assert plan == Plan(
        PYTHON, (), str(script), False, (str(script), "app:app"), (PYTHON, str(script), "app:app")
    )


def test_pips_long_path_form_and_env(tmp_path: Path) -> None:
    long_form = tmp_path / "long"
    long_form.write_text(f"#!/bin/sh\n'''exec' {PYTHON} \"$0\" \"$@\"\n' '''\nimport sys\n")
    assert script_interpreter(str(long_form), env=_env(), cwd=tmp_path) == (PYTHON, [], PYTHON)
    by_env = tmp_path / "by_env"
    by_env.write_text("#!/usr/bin/env python3 -s\n")
    found = script_interpreter(str(by_env), env=_env(), cwd=tmp_path)
    assert found is not None
    assert found[1:] == (["-s"], "python3")


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (["/bin/sh", "-c", "true"], "not a Python program or script"),
        ([PYTHON, "-c", "pass"], "'-c' is not one a template can share"),
        ([PYTHON, "-i", "app.py"], "'-i' is not one a template can share"),
        ([PYTHON], "reads its program from stdin"),
        ([PYTHON, "-"], "reads its program from stdin"),
        ([PYTHON, "missing.py"], "'missing.py' does not exist"),
        ([PYTHON, "."], "a folder or a zip archive"),
        (["no-such-program-here"], "is not found"),
    ],
)
def test_what_starts_cold(tmp_path: Path, command: list[str], why: str) -> None:
    (tmp_path / "app.py").write_text("")
    plan = plan_for(command, env=_env(), cwd=tmp_path)
    assert isinstance(plan, NotWarm)
    assert why in plan.reason


def test_a_shell_script_is_not_python(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\nexec npm start\n")
    script.chmod(0o755)
    plan = plan_for(["./run.sh"], env=_env(), cwd=tmp_path)
    assert plan == NotWarm("'./run.sh' is not a Python program or script")
