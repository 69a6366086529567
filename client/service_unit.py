"""The systemd user unit of a project: its name, where it is written, and its text.

One template, ``reloadd@.service``; each project runs as the instance named by its
root, escaped as ``systemd-escape --path`` does: ``/home/me/my-proj`` runs as
``reloadd@home-me-my\\x2dproj.service``, and ``%f`` in the unit is the root again.
``reloadd service install`` writes the template with ``ExecStart=`` naming the
``reloadd`` that ran it; ``systemd/reloadd@.service`` in the repository is the same
text with the ``pipx`` path. Pure functions: nothing here runs ``systemctl``.
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE_NAME = "reloadd@.service"
"""The template unit's file name."""

WRITTEN_BY = "# Written by 'reloadd service install'; 'reloadd service uninstall' removes it."
"""The first line of every file install writes: uninstall removes only files that start so."""

EXEC_DROP_IN = "reloadd-exec.conf"
"""The drop-in naming another ``reloadd`` for one project, when the template names a first."""

WATCHDOG_SEC = 10
"""The unit's ``WatchdogSec=``: a daemon whose loop stops for this long is restarted."""

_VALID = set(string.ascii_letters + string.digits + ":_.")

_UNIT = """\
{written_by}
# reloadd: one reload daemon per project, as a systemd *user* service (docs/systemd.md).
# The instance is the project's root, escaped: reloadd@$(systemd-escape --path ROOT).service;
# "%f" below is that root again. Install, start, stop and remove it with
#     reloadd service install --now      reloadd service status      reloadd service uninstall

[Unit]
Description=reloadd reload daemon for %f
# Give up after 5 failed starts in a minute instead of restarting forever.
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
# READY=1 once the project's endpoint is bound and the backend watches; STATUS= kept
# current (dev servers, files, last change); STOPPING=1 when it shuts down.
Type=notify
NotifyAccess=main
ExecStart={exec_start} serve --root "%f"
WorkingDirectory=%f
# A crash, or a watchdog timeout, restarts it; dev servers register again at once.
Restart=on-failure
RestartSec=1s
# WATCHDOG=1 comes from the daemon's main loop every {half_watchdog} s: a loop that hangs
# for {watchdog} s gets SIGABRT (its threads' stacks go to the journal), then SIGKILL.
WatchdogSec={watchdog}s
TimeoutAbortSec=5s
TimeoutStartSec=60s
TimeoutStopSec=10s
# Logs go to the journal: journalctl --user -u "reloadd@$(systemd-escape --path "$PWD")"
SyslogIdentifier=reloadd

[Install]
WantedBy=default.target
"""


_SOCKET_UNIT = """\
{written_by}
# Socket activation for one project: systemd listens on the project's endpoint, and
# starts {service} (handing it this socket) when the first client connects.

[Unit]
Description=reloadd endpoint for {root}

[Socket]
ListenStream={path}
SocketMode=0600
DirectoryMode=0700
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
"""


def escape_path(path: str | os.PathLike[str]) -> str:
    """``path`` as ``systemd-escape --path`` writes it (an absolute path, made simple)."""
    text = os.path.normpath(os.fspath(path)).strip("/")
    if not text:
        return "-"
    escaped: list[str] = []
    for index, byte in enumerate(text.encode("utf-8", "surrogateescape")):
        char = chr(byte)
        if char == "/":
            escaped.append("-")
        elif char in _VALID and not (index == 0 and char == "."):
            escaped.append(char)
        else:
            escaped.append(f"\\x{byte:02x}")
    return "".join(escaped)


def unit_name(root: str | os.PathLike[str]) -> str:
    """The project's unit: ``reloadd@<escaped root>.service``."""
    return f"reloadd@{escape_path(root)}.service"


def socket_unit_name(root: str | os.PathLike[str]) -> str:
    """The project's socket unit (``reloadd service install --socket``)."""
    return f"reloadd@{escape_path(root)}.socket"


def socket_text(root: str | os.PathLike[str], socket_path: str | os.PathLike[str]) -> str:
    """The socket unit of one project, listening on its endpoint's ``socket_path``.

    Written per project, not as a template: the endpoint's name is a hash of the root,
    which no unit specifier computes.
    """
    return _SOCKET_UNIT.format(
        written_by=WRITTEN_BY,
        service=unit_name(root),
        root=_specifiers_escaped(os.fspath(root)),
        path=_specifiers_escaped(os.fspath(socket_path)),
    )


def _specifiers_escaped(text: str) -> str:
    return text.replace("%", "%%")


def user_unit_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where user units are written: ``$XDG_CONFIG_HOME/systemd/user``, default ``~/.config``."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def this_reloadd() -> list[str]:
    """The command that runs the ``reloadd`` running now (its venv included)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "reloadd" and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [sys.executable, "-m", "reloadd.client.cli"]


def exec_words(command: Sequence[str]) -> str:
    """A command as ``ExecStart=`` reads it: each word quoted, ``%`` and ``\\`` escaped."""
    return " ".join(
        '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'
        for word in command
    )


REPOSITORY_HEADER = (
    "# What 'reloadd service install' writes, with ExecStart= naming pipx's reloadd: prefer\n"
    "# the command, which names the reloadd you run it with (docs/systemd.md)."
)
"""The first lines of ``systemd/reloadd@.service``, the copy kept in the repository."""


def template_text(exec_start: str, *, header: str = WRITTEN_BY) -> str:
    """The template unit; ``exec_start`` is the command as :func:`exec_words` writes it."""
    return _UNIT.format(
        written_by=header,
        exec_start=exec_start,
        watchdog=WATCHDOG_SEC,
        half_watchdog=f"{WATCHDOG_SEC / 2:g}",
    )


def exec_drop_in_text(exec_start: str) -> str:
    """A drop-in for one instance, running ``exec_start`` (see :func:`exec_words`) instead of
    the template's command."""
    return (
        f"{WRITTEN_BY}\n"
        "# This project runs another reloadd than the template names.\n"
        "[Service]\n"
        "ExecStart=\n"
        f'ExecStart={exec_start} serve --root "%f"\n'
    )


def exec_start_of(text: str) -> str | None:
    """The ``ExecStart=`` line of a unit's text (the last non-empty one), without its name."""
    found = None
    for line in text.splitlines():
        if line.startswith("ExecStart=") and line != "ExecStart=":
            found = line.removeprefix("ExecStart=")
    return found
