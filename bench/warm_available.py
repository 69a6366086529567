"""Whether the warm contenders can run here, and if not, the one-line reason the table gives.

The warm engine (``reloadd.client.warm``, ``reloadd run --warm``) may be missing from the
checkout the bench runs on: its contenders are then reported as not available, with the
reason, instead of failing the run.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys


@functools.cache
def run_warm_missing() -> str | None:
    """Why ``reloadd run --warm`` cannot be measured, or None if it can."""
    try:
        shown = subprocess.run(
            [sys.executable, "-m", "reloadd.client.cli", "run", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"'reloadd run --help' failed: {exc}"
    if "--warm" not in shown.stdout:
        return "this reloadd has no 'reloadd run --warm'"
    return None


@functools.cache
def django_warm_missing() -> str | None:
    """Why ``RELOADD_WARM=1 manage.py runserver`` cannot be measured, or None if it can."""
    for module, what in (
        ("reloadd.client.warm", "the warm engine"),
        ("reloadd.client.django.warm", "the Django warm start"),
    ):
        try:
            found = importlib.util.find_spec(module)
        except ImportError:
            found = None
        if found is None:
            return f"this reloadd lacks {what} ({module})"
    return None
