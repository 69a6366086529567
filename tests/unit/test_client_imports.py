"""Importing the client library loads what a dev server needs, and not ``reloadd run`` or the daemon."""

from __future__ import annotations

import subprocess
import sys

IMPORT_TIMEOUT = 60.0
"""Seconds a fresh interpreter may take to import the client (a busy machine)."""


def modules_after(statement: str) -> set[str]:
    """The ``reloadd`` modules a fresh interpreter has loaded after ``statement``."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.startswith('reloadd')))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT,
        check=True,
    )
    return set(done.stdout.split())


def test_the_client_shares_child_hooks_functions_without_loading_the_supervisor() -> None:
    loaded = modules_after("import reloadd.client")

    assert "reloadd.client.run.child_hook" in loaded  # module_files' helpers live there
    assert "reloadd.client.run.supervisor" not in loaded
    assert not any(name.startswith("reloadd.daemon") for name in loaded)


def test_reloadd_run_s_public_names_still_import_from_the_package() -> None:
    loaded = modules_after(
        "from reloadd.client.run import RunError, RunOptions, Supervisor, listen_sockets, run"
    )

    assert "reloadd.client.run.supervisor" in loaded
