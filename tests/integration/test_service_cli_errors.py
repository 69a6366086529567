"""``reloadd service`` where it cannot work: one line saying what to do, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from reloadd.client.cli import main


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME; the test's private runtime folder has no user manager."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    return config


@pytest.mark.parametrize("action", ["install", "uninstall", "status"])
def test_no_user_manager_is_one_line_with_what_to_do(
    action: str, project: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", action, "--root", str(project)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("reloadd: no systemd user manager answers (Failed to connect to bus")
    assert "loginctl enable-linger" in err
    assert not config_home.exists(), "nothing is written"


def test_no_systemctl_says_to_use_reloadd_start(
    project: Path,
    config_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["service", "install", "--root", str(project), "--now"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "reloadd: systemctl is not installed: the systemd user service needs systemd; "
        "use 'reloadd start' (or let dev servers start the daemon) instead\n"
    )
    assert not config_home.exists()
