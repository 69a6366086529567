"""Small helpers shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reloadd.client import Client

QUIET_PERIOD = 1.0
"""How long a test waits to be sure that no (further) notification comes."""

NOTIFY_TIMEOUT = 10.0
"""The longest a test waits for a notification that must come."""


def edit(path: Path, text: str | None = None) -> None:
    """Rewrite a file in place, as an editor's plain save does."""
    path.write_text(text if text is not None else f"# edited at {time.time_ns()}\n")


def wait_until_older(*paths: Path, by: float = 0.0) -> None:
    """Wait until the clock is more than ``by`` seconds past every path's mtime and ctime.

    The signal a test needs before starting something that must see these files as old
    (a process's start time, a client's ``since``), instead of a guessed sleep.
    """
    stamp = max(max(p.stat().st_mtime, p.stat().st_ctime) for p in paths) + by
    deadline = time.monotonic() + NOTIFY_TIMEOUT
    while time.time() <= stamp:
        assert time.monotonic() < deadline, "the clock did not move past the files' times"
        time.sleep(0.001)


def wait_for_file_clock_past(since: float, folder: Path) -> None:
    """Wait until a file written in ``folder`` now gets a time after ``since``.

    File times come from the kernel's coarse clock, which lags ``time.time()`` by up to
    a tick: a write right after ``since = time.time()`` can look older than ``since``,
    and the daemon rightly ignores it. A probe file's ctime is the signal.
    """
    probe = folder / ".clock-probe"
    deadline = time.monotonic() + NOTIFY_TIMEOUT
    while True:
        probe.write_text("")
        if probe.stat().st_ctime > since:
            break
        assert time.monotonic() < deadline, "the file clock did not move past since"
        time.sleep(0.001)
    probe.unlink()


def expect_changes(client: Client, *paths: Path) -> list[Path]:
    """Wait for exactly one notification naming exactly ``paths``, and no second one."""
    changed = client.wait(timeout=NOTIFY_TIMEOUT)
    if not changed:
        pytest.fail(f"no notification within {NOTIFY_TIMEOUT} s for {[str(p) for p in paths]}")
    assert sorted(changed) == sorted(paths)
    assert client.wait(timeout=QUIET_PERIOD) == [], "a second notification followed"
    return changed


def expect_quiet(client: Client) -> None:
    """Assert that no notification arrives within the quiet period."""
    assert client.wait(timeout=QUIET_PERIOD) == []


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    folder, stop, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    written = 0
    while written < limit and not stop.exists():
        (folder / f"w{written}.py").write_text("x = 1\\n")
        written += 1
        time.sleep(0.001)
    print(written)
    """
)


@contextmanager
def files_written_meanwhile(folder: Path, limit: int = 100_000) -> Iterator[list[Path]]:
    """Another process creates ``folder/w0.py``, ``w1.py``... one a millisecond, during the block.

    Yields a list that holds, once the block ends, every file written (at most ``limit``,
    see :func:`written_names`). A separate process, because watchfiles' ``RustNotify``
    holds this process's GIL while it sets up its watches.
    """
    written: list[Path] = []
    stop = folder / "stop.flag"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder), str(stop), str(limit)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while not (folder / "w0.py").exists() and writer.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"the writer wrote nothing within {NOTIFY_TIMEOUT} s")
            time.sleep(0.01)
        yield written
        stop.write_text("")
        out, _ = writer.communicate(timeout=NOTIFY_TIMEOUT)
        assert writer.returncode == 0
        written.extend(folder / name for name in written_names(int(out)))
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def written_names(count: int) -> list[str]:
    """The names of the first ``count`` files :func:`files_written_meanwhile` writes."""
    return [f"w{i}.py" for i in range(count)]


def cli_stop(root: Path) -> None:
    """Run ``reloadd stop --root ROOT`` as a user would; fail the test unless it exits 0."""
    stop = subprocess.run(
        [sys.executable, "-m", "reloadd.client.cli", "stop", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert stop.returncode == 0, stop.stdout + stop.stderr
