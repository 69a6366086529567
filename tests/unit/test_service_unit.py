"""The project's unit: its name as ``systemd-escape --path`` makes it, and the text install writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reloadd.client.service_unit import (
    REPOSITORY_HEADER,
    escape_path,
    exec_start_of,
    exec_words,
    template_text,
    unit_name,
    user_unit_dir,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path",
    [
        "/home/me/my-proj",
        "/",
        "/srv//x/./y/",
        "/home/me/.hidden/a.b_c:d",
        "/tmp/with space/ünï",
        "/tmp/back\\slash",
    ],
)
def test_the_instance_name_is_what_systemd_escape_makes(path: str) -> None:
    expected = subprocess.run(
        ["systemd-escape", "--path", path], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert escape_path(path) == expected
    assert unit_name(path) == f"reloadd@{expected}.service"


def test_the_unit_folder_follows_xdg_config_home(tmp_path: Path) -> None:
    assert user_unit_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "systemd" / "user"
    assert user_unit_dir({}) == Path.home() / ".config" / "systemd" / "user"


def test_exec_start_quotes_each_word_and_escapes_percent() -> None:
    words = exec_words(["/opt/my env/bin/python", "-m", "100%", 'say "hi"'])
    assert words == '"/opt/my env/bin/python" "-m" "100%%" "say \\"hi\\""'
    assert exec_start_of(template_text(words)) == f'{words} serve --root "%f"'


def test_the_repository_copy_is_what_install_writes() -> None:
    repository = (ROOT / "systemd" / "reloadd@.service").read_text()
    assert repository == template_text("%h/.local/bin/reloadd", header=REPOSITORY_HEADER)
