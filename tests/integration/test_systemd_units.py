"""``systemd-analyze verify`` accepts the units ``reloadd service install`` writes.

Written by the same function install uses, for a real project folder, with
``ExecStart=`` naming this test's own Python (verify checks it is executable).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from reloadd.client.cli_service import _write_units
from reloadd.client.service_unit import (
    EXEC_DROP_IN,
    TEMPLATE_NAME,
    exec_words,
    template_text,
    this_reloadd,
    unit_name,
)


def verify(unit_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit_path)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_the_template_install_writes_verifies(tmp_path: Path, project: Path) -> None:
    unit = unit_name(project)
    _write_units(tmp_path, unit, exec_words(this_reloadd()))
    assert (tmp_path / TEMPLATE_NAME).exists()
    assert not (tmp_path / f"{unit}.d").exists()
    verify(tmp_path / unit)


def test_another_projects_reloadd_gets_a_drop_in_that_verifies(
    tmp_path: Path, project: Path
) -> None:
    other = "reloadd@srv-other.service"
    (tmp_path / TEMPLATE_NAME).write_text(template_text(exec_words(["/usr/bin/true"])))
    (tmp_path / "default.target.wants").mkdir()
    (tmp_path / "default.target.wants" / other).symlink_to(tmp_path / TEMPLATE_NAME)
    unit = unit_name(project)
    _write_units(tmp_path, unit, exec_words(this_reloadd()))
    assert "/usr/bin/true" in (tmp_path / TEMPLATE_NAME).read_text(), "the other's is kept"
    assert (tmp_path / f"{unit}.d" / EXEC_DROP_IN).exists()
    verify(tmp_path / unit)
