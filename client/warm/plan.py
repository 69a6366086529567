"""Which commands a template can run, and how: ``python FILE``, ``python -m MOD``, console scripts.

:func:`plan_for` turns a command into a :class:`Plan` — the interpreter and its
options (the template is started with the same ones), and what the forked child runs
— or into :class:`NotWarm`, the one-line reason it starts cold. Pure functions over
the file system: nothing is started here.

* ``python [OPTIONS] FILE ARGS`` and ``python [OPTIONS] -m MOD ARGS``, where
  ``python`` is any program whose name starts with ``python``;
* a script whose first line names such an interpreter (``#!/venv/bin/python``,
  ``#!/usr/bin/env python3``, or pip's ``#!/bin/sh`` + ``'''exec' PYTHON`` form for long
  paths): the console scripts ``uvicorn``, ``flask``, ``gunicorn``, ``django-admin``.
  The kernel runs those as ``PYTHON SCRIPT ARGS``, and so does the forked child.

Anything else (``npm``, ``python -c``, ``python -i``, a folder or zip as ``FILE``) is cold.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

FLAGS_ALONE = frozenset("bBdEIOPqsSuR")
"""Interpreter options, without an argument, that a template can share with the child."""

FLAGS_WITH_ARGUMENT = frozenset("WX")
"""Interpreter options taking an argument (``-W error``, ``-X dev``) a template can share."""

SHEBANG_LIMIT = 1024
"""Bytes of a script read to find its interpreter."""


@dataclass(frozen=True)
class Plan:
    """How a template runs the command: started as ``interpreter *options BOOTSTRAP``, its
    fork runs ``target`` (a file, or a module with ``module``) with ``argv``."""

    interpreter: str
    """The absolute path of the interpreter (as found; not resolved through symbolic links)."""
    options: tuple[str, ...]
    """Interpreter options before the file or ``-m``."""
    target: str
    """The file to run (absolute), or the module's name."""
    module: bool
    """``-m``: ``target`` is a module, run as ``python -m`` runs it."""
    argv: tuple[str, ...]
    """``sys.argv`` as a fresh run has it when the code starts (for ``-m``: ``["-m", *args]``,
    which ``runpy`` completes)."""
    orig_argv: tuple[str, ...]
    """``sys.orig_argv`` of a fresh run."""

    def as_json(self) -> dict[str, object]:
        """For the template's command line."""
        return {
            "interpreter": self.interpreter,
            "options": list(self.options),
            "target": self.target,
            "module": self.module,
            "argv": list(self.argv),
            "orig_argv": list(self.orig_argv),
        }


@dataclass(frozen=True)
class NotWarm:
    """Why a command starts cold, for one line: ``'npm' is not a Python command``."""

    reason: str


def plan_for(command: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Plan | NotWarm:
    """The :class:`Plan` for ``command`` run in ``cwd`` with ``env``, or why there is none."""
    if not command:
        return NotWarm("there is no command")
    program = _which(command[0], env=env, cwd=cwd)
    if program is None:
        return NotWarm(f"{command[0]!r} is not found")
    if _is_python(program):
        return _python_plan(program, list(command[1:]), cwd=cwd, as_written=command[0])
    interpreter = script_interpreter(program, env=env, cwd=cwd)
    if interpreter is None:
        return NotWarm(f"{command[0]!r} is not a Python program or script")
    python, options, as_written = interpreter
    script = str(Path(program).absolute())
    return _python_plan(python, [*options, script, *command[1:]], cwd=cwd, as_written=as_written)


def script_interpreter(
    path: str, *, env: Mapping[str, str], cwd: Path
) -> tuple[str, list[str], str] | None:
    """The interpreter (absolute), its options and its name as written, named by a script's
    first line, if it names a Python; None otherwise."""
    try:
        with open(path, "rb") as file:
            head = file.read(SHEBANG_LIMIT)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.split(b"\n")
    words = lines[0][2:].decode(errors="replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "sh" and len(lines) > 1 and lines[1].startswith(b"'''exec' "):
        # pip's form for an interpreter path too long for a #! line
        exec_words = lines[1].decode(errors="replace").split()
        words = [exec_words[1].strip("'\"")] if len(exec_words) > 1 else []
        if not words:
            return None
    if os.path.basename(words[0]) == "env" and len(words) >= 2:
        words = words[1:]
        if words[0].startswith("-"):
            return None  # env -S and the like: not worth guessing
    if not _is_python(words[0]):
        return None
    found = _which(words[0], env=env, cwd=cwd)
    if found is None:
        return None
    return found, words[1:], words[0]


def _python_plan(python: str, args: list[str], *, cwd: Path, as_written: str) -> Plan | NotWarm:
    options: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-m":
            if index + 1 >= len(args):
                return NotWarm("'-m' names no module")
            module = args[index + 1]
            rest = args[index + 2 :]
            return Plan(python, tuple(options), module, True, ("-m", *rest), (as_written, *args))
        if arg.startswith("-m"):
            split = [*args[:index], "-m", arg[2:], *args[index + 1 :]]
            plan = _python_plan(python, split, cwd=cwd, as_written=as_written)
            if isinstance(plan, Plan):
                plan = replace(plan, orig_argv=(as_written, *args))
            return plan
        if arg == "-" or not arg.startswith("-"):
            break
        letters = arg[1:]
        if letters[:1] in FLAGS_WITH_ARGUMENT:
            value = letters[1:] or (args[index + 1] if index + 1 < len(args) else None)
            if value is None:
                return NotWarm(f"{arg!r} has no argument")
            options += [f"-{letters[0]}", value]
            index += 1 if letters[1:] else 2
            continue
        if not letters or any(letter not in FLAGS_ALONE for letter in letters):
            return NotWarm(f"the Python option {arg!r} is not one a template can share")
        options.append(arg)
        index += 1
    if index >= len(args) or args[index] == "-":
        return NotWarm("Python reads its program from stdin")
    file = Path(args[index])
    absolute = file if file.is_absolute() else cwd / file
    if not absolute.exists():
        return NotWarm(f"{args[index]!r} does not exist")
    if absolute.is_dir() or zipfile.is_zipfile(absolute):
        return NotWarm(f"{args[index]!r} is a folder or a zip archive, not a Python file")
    return Plan(
        python,
        tuple(options),
        os.path.abspath(absolute),
        False,
        (args[index], *args[index + 1 :]),
        (as_written, *args),
    )


def _which(program: str, *, env: Mapping[str, str], cwd: Path) -> str | None:
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else cwd / program
        return str(path) if path.is_file() else None
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    return None if found is None else os.path.abspath(found)


def _is_python(program: str) -> bool:
    name = os.path.basename(program)
    return name.startswith("python") and "-config" not in name
