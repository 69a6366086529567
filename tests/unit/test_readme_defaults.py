"""The README states the defaults the code has: each is taken from its one constant."""

from __future__ import annotations

import re
from pathlib import Path

from reloadd.client.idle_exit import BACKGROUND_IDLE_EXIT, describe_duration, format_duration
from reloadd.client.run.supervisor import IDLE_EXIT_NOTE
from reloadd.protocol.defaults import DEFAULT_GRACE

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_idle_exit_default_is_the_one_constant() -> None:
    stated = re.findall(r"exits by itself after\s+(\d+ \w+)", README)
    assert stated, "the README no longer says when an idle daemon exits"
    assert set(stated) == {describe_duration(BACKGROUND_IDLE_EXIT)}
    row = next(line for line in README.splitlines() if line.startswith("| `--idle-exit"))
    assert f"Default: `{format_duration(BACKGROUND_IDLE_EXIT)}`" in row
    assert describe_duration(BACKGROUND_IDLE_EXIT) in IDLE_EXIT_NOTE


def test_the_grace_default_is_the_daemons() -> None:
    assert f"(`reloadd serve --grace`, {DEFAULT_GRACE:g} s)" in README


def test_durations_read_as_words() -> None:
    assert describe_duration(1800.0) == "30 minutes"
    assert describe_duration(3600.0) == "1 hour"
    assert describe_duration(90.0) == "90 seconds"
    assert describe_duration(1.0) == "1 second"
