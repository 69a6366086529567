"""What a forked child does to itself before the command runs (``client/warm/fresh.py``).

Each test runs a real Python process that loads ``fresh.py`` by its path, as the
template does, and reports what it sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from reloadd.client.warm.handle import TEMPLATE

FRESH = TEMPLATE.with_name("fresh.py")

SCRIPT = """\
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("fresh", {fresh!r})
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)
{body}
"""


def run(body: str) -> Any:
    """Run ``body`` after loading ``fresh.py``; what it printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fresh=str(FRESH), body=body)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_descriptors_are_placed_and_every_other_one_closed() -> None:
    seen = run(
        "kept = os.open('/dev/null', os.O_RDONLY)\n"
        "stray = os.open('/dev/null', os.O_RDONLY)\n"
        "fresh.place_descriptors([0, 1, 2, kept], [0, 1, 2, 7])\n"
        "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"
        "print(json.dumps([fds, os.get_inheritable(7), os.readlink('/proc/self/fd/7')]))\n"
    )
    # 3 is the listing's own descriptor; the stray one is closed, the kept one is 7.
    assert seen == [[0, 1, 2, 3, 7], True, "/dev/null"]


def test_the_command_line_is_the_commands() -> None:
    seen = run(
        "done = fresh.set_command_line(['python', 'app.py', '--port', '1'])\n"
        "raw = open('/proc/self/cmdline', 'rb').read().rstrip(bytes(1))\n"
        "print(json.dumps([done, raw.decode().split(chr(0))]))\n"
    )
    assert seen == [True, ["python", "app.py", "--port", "1"]]


def test_a_command_line_longer_than_the_templates_is_left_alone() -> None:
    seen = run(
        "done = fresh.set_command_line(['x' * 100_000])\n"
        "print(json.dumps([done, open('/proc/self/cmdline', 'rb').read().count(b'x' * 1000)]))\n"
    )
    assert seen == [False, 0]


def test_a_fork_that_cannot_prepare_itself_runs_the_command_afresh() -> None:
    body = (
        "plan = {'interpreter': sys.executable, "
        "'orig_argv': ['python', '-c', 'import os, json; print(json.dumps(os.environ[\"X\"]))']}\n"
        "fresh.exec_cold(plan, {'X': 'from the template'}, 0, OSError('no'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fresh=str(FRESH), body=body)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == "from the template"
    assert "could not be prepared (OSError('no')); starting the command afresh" in done.stderr
