"""The small apps the end-to-end measures edit: a FastAPI hello app and a Flask one.

Each project is a folder with a ``pyproject.toml`` (so it is a project root), an
``app.py`` whose ``/`` answers ``MESSAGE pid=N``, and a ``.watchmanconfig``. The bench
rewrites ``app.py`` with a new message and waits for it to be served. The sources are
written as text, so nothing here imports FastAPI or Flask.
"""

from __future__ import annotations

from pathlib import Path

FASTAPI_APP = """\
import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

MESSAGE = {message!r}

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
def index() -> str:
    return f"{{MESSAGE}} pid={{os.getpid()}}"
"""

FLASK_APP = """\
import os

from flask import Flask

MESSAGE = {message!r}

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return f"{{MESSAGE}} pid={{os.getpid()}}"
"""

APPS = {"fastapi": FASTAPI_APP, "flask": FLASK_APP}
"""The app sources by framework."""


def write_app(project: Path, framework: str, message: str) -> None:
    """(Re)write ``project/app.py`` for ``framework`` answering ``message``."""
    (project / "app.py").write_text(APPS[framework].format(message=message))


def make_app_project(base: Path, framework: str) -> Path:
    """A fresh project folder for ``framework`` under ``base``; return it."""
    project = base / f"{framework}-project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(f"[project]\nname = 'bench-{framework}'\n")
    (project / ".watchmanconfig").write_text("{}\n")
    write_app(project, framework, "hello v0")
    return project.resolve()
