"""``reloadd service install|uninstall|status``: the project's daemon as a systemd user service.

``install`` writes the template unit (``ExecStart=`` naming the ``reloadd`` that ran
it, its venv included), enables the project's instance and with ``--now`` starts it
and waits until it is active; ``uninstall`` stops and disables it and removes what
install wrote; ``status`` shows the unit and the daemon's own status. The unit
files are described in :mod:`reloadd.client.service_unit`, the user manager is
reached through :mod:`reloadd.client.systemctl`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reloadd.client.cli_root import project_root
from reloadd.client.cli_status import format_status
from reloadd.client.connection import Client
from reloadd.client.daemons import wait_exited
from reloadd.client.service_unit import (
    EXEC_DROP_IN,
    TEMPLATE_NAME,
    WRITTEN_BY,
    exec_drop_in_text,
    exec_start_of,
    exec_words,
    socket_text,
    socket_unit_name,
    template_text,
    this_reloadd,
    unit_name,
    user_unit_dir,
)
from reloadd.client.systemctl import ServiceError, check_manager, show, systemctl
from reloadd.protocol import ReloaddError, Role
from reloadd.protocol.endpoint import endpoint_for

_SHOWN = (
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "MainPID",
    "StatusText",
    "NRestarts",
    "WatchdogUSec",
    "Result",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``service`` command's own commands and options."""
    actions = parser.add_subparsers(dest="service_action", required=True, metavar="ACTION")
    for name, help_text in (
        ("install", "write and enable the project's systemd user unit (reloadd@<root>.service)"),
        ("uninstall", "stop and disable the unit, and remove what install wrote"),
        ("status", "show the unit's state and the daemon's own status"),
    ):
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command_parser=sub)
        sub.add_argument(
            "--root", help="the project root (default: found from the working directory)"
        )
        if name == "install":
            sub.add_argument(
                "--now", action="store_true", help="also start it now, and wait until it is active"
            )
            sub.add_argument(
                "--socket",
                action="store_true",
                help="socket activation: systemd listens, and starts the daemon at the first "
                "connection (reloadd@<root>.socket)",
            )


def service(args: argparse.Namespace) -> int:
    """Run ``reloadd service ACTION``."""
    root = project_root(args.root)
    if args.service_action == "install":
        return install(root, now=args.now, socket=args.socket)
    if args.service_action == "uninstall":
        return uninstall(root)
    return status(root)


def install(root: Path, *, now: bool = False, socket: bool = False) -> int:
    """Write and enable the project's unit (or with ``socket``, its socket unit); with
    ``now``, start it and wait until it is active (listening)."""
    check_manager()  # before writing anything
    unit = unit_name(root)
    socket_unit = socket_unit_name(root)
    unit_dir = user_unit_dir()
    unit_dir.mkdir(parents=True, exist_ok=True)
    command = exec_words(this_reloadd())
    written = _write_units(unit_dir, unit, command)
    socket_file = unit_dir / socket_unit
    if socket:
        socket_file.write_text(socket_text(root, endpoint_for(root).socket_path))
        written += f"; {socket_file}"
    elif _read(socket_file) is not None:
        systemctl("disable", "--now", socket_unit, check=False)  # back to a plain service
        _remove_ours(socket_file)
    systemctl("daemon-reload")
    if socket:
        systemctl("disable", unit, check=False)  # started by the socket, not at login
        systemctl("enable", socket_unit)
        message = f"reloadd: installed {socket_unit} ({written}), listening from login on"
    else:
        systemctl("enable", unit)
        message = f"reloadd: installed {unit} ({written}), enabled at login"
    if not now:
        print(f"{message}; start it with 'reloadd service install --now' or at the next login")
        return 0
    _stop_daemon_outside(root, unit)
    if socket:
        return _start_socket(unit, socket_unit, message)
    systemctl("reset-failed", unit, check=False)
    systemctl("start", unit, check=False)  # returns once the daemon said READY=1, or failed
    state = show(unit, _SHOWN)
    if state["ActiveState"] != "active":
        raise ServiceError(
            f"{unit} did not start ({state['ActiveState']}, {state['Result'] or 'no result'}); "
            f"see 'journalctl --user -u {unit}'"
        )
    print(f"{message}; running (pid {state['MainPID']}): {state['StatusText']}")
    return 0


def _start_socket(unit: str, socket_unit: str, message: str) -> int:
    """Listen on the endpoint; a daemon the service runs now makes way for the socket's."""
    service_runs = show(unit, ("ActiveState",))["ActiveState"] == "active"
    if service_runs and show(socket_unit, ("ActiveState",))["ActiveState"] != "active":
        systemctl("stop", unit)  # its clients register again with the socket's daemon
    systemctl("reset-failed", socket_unit, check=False)
    systemctl("start", socket_unit, check=False)
    state = show(socket_unit, ("ActiveState", "SubState", "Result"))
    if state["ActiveState"] != "active":
        raise ServiceError(
            f"{socket_unit} did not start ({state['ActiveState']}, {state['Result']}); "
            f"see 'journalctl --user -u {socket_unit}'"
        )
    print(f"{message}; listening now: the daemon starts at the first connection")
    return 0


def _write_units(unit_dir: Path, unit: str, command: str) -> str:
    """Write the template, or if it runs another ``reloadd`` for other projects, a drop-in."""
    template = unit_dir / TEMPLATE_NAME
    drop_in = unit_dir / f"{unit}.d" / EXEC_DROP_IN
    existing = _read(template)
    ours = existing is None or existing.startswith(WRITTEN_BY)
    same_command = existing is not None and exec_start_of(existing) == _exec_line(command)
    if ours and (same_command or not _other_instances(unit_dir, unit)):
        template.write_text(template_text(command))
        _remove_ours(drop_in)
        return f"{template}, running {command}"
    drop_in.parent.mkdir(exist_ok=True)
    drop_in.write_text(exec_drop_in_text(command))
    return f"{drop_in}, running {command}"


def _exec_line(command: str) -> str:
    return f'{command} serve --root "%f"'


def _other_instances(unit_dir: Path, unit: str) -> list[str]:
    """Other projects' enabled instances of the template."""
    wants = unit_dir / "default.target.wants"
    return sorted(path.name for path in wants.glob("reloadd@*.service") if path.name != unit)


def _stop_daemon_outside(root: Path, unit: str) -> None:
    """Stop a daemon that serves the project outside the unit: the unit's would find it and exit."""
    main_pid = show(unit, ("MainPID",))["MainPID"]
    try:
        with Client(root, name="reloadd service", role=Role.TOOL, spawn=False) as client:
            pid = client.daemon.pid
            if str(pid) == main_pid:
                return
            client.stop_daemon()
    except ReloaddError:
        return  # none answers
    if wait_exited([pid]):
        raise ServiceError(
            f"the daemon that serves {root} outside systemd (pid {pid}) does not stop; "
            f"end it with 'kill {pid}', then run 'reloadd service install --now' again"
        )
    print(
        f"reloadd: stopped the daemon started outside systemd (pid {pid}); "
        "its dev servers register again with the service's"
    )


def uninstall(root: Path) -> int:
    """Stop and disable the project's unit, and remove the files install wrote."""
    check_manager()
    unit = unit_name(root)
    unit_dir = user_unit_dir()
    socket_unit = socket_unit_name(root)
    if show(socket_unit, ("LoadState",))["LoadState"] == "loaded":
        systemctl("disable", "--now", socket_unit)
    loaded = show(unit, ("LoadState",))["LoadState"] == "loaded"
    if loaded:
        systemctl("disable", "--now", unit)
    drop_in = unit_dir / f"{unit}.d" / EXEC_DROP_IN
    removed = [str(path) for path in (unit_dir / socket_unit, drop_in) if _remove_ours(path)]
    template = unit_dir / TEMPLATE_NAME
    if not _other_instances(unit_dir, unit) and _remove_ours(template):
        removed.append(str(template))
    systemctl("daemon-reload")
    systemctl("reset-failed", unit, check=False)
    state = show(unit, ("ActiveState",))["ActiveState"]
    if state not in ("inactive", ""):
        raise ServiceError(f"{unit} is still {state}; stop it with 'systemctl --user stop {unit}'")
    if not loaded and not removed:
        print(f"reloadd: {unit} is not installed; nothing to remove")
        return 0
    what = f"; removed {', '.join(removed)}" if removed else ""
    print(f"reloadd: stopped and disabled {unit}{what}")
    return 0


def status(root: Path) -> int:
    """Print the unit's state, then (if it runs) the daemon's own status."""
    check_manager()
    unit = unit_name(root)
    state = show(unit, _SHOWN)
    if state["LoadState"] != "loaded":
        print(f"reloadd: {unit} is not installed; 'reloadd service install --now' installs it")
        return 0
    watchdog = state["WatchdogUSec"]
    lines = [
        f"unit      {unit}: {state['ActiveState']} ({state['SubState']}), "
        f"{state['UnitFileState'] or 'not enabled'}",
    ]
    if state["MainPID"] not in ("", "0"):
        lines.append(f"daemon    pid {state['MainPID']}, restarted {state['NRestarts'] or 0} times")
    if state["StatusText"]:
        lines.append(f"status    {state['StatusText']}")
    lines.append(f"watchdog  {watchdog if watchdog not in ('', '0') else 'none'}")
    socket_unit = socket_unit_name(root)
    socket_state = show(socket_unit, ("LoadState", "ActiveState", "SubState"))
    if socket_state["LoadState"] == "loaded":
        lines.append(
            f"socket    {socket_unit}: {socket_state['ActiveState']} ({socket_state['SubState']})"
        )
    print("\n".join(lines))
    if state["ActiveState"] == "active":
        try:
            with Client(root, name="reloadd service status", role=Role.TOOL, spawn=False) as c:
                print()
                print(format_status(c.status()))
        except ReloaddError as exc:
            print(f"\nreloadd: the unit is active but its daemon does not answer: {exc}")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _remove_ours(path: Path) -> bool:
    """Remove ``path`` (and its folder, if a drop-in folder left empty) if install wrote it."""
    text = _read(path)
    if text is None or not text.startswith(WRITTEN_BY):
        return False
    path.unlink()
    if path.parent.name.endswith(".service.d") and not any(path.parent.iterdir()):
        path.parent.rmdir()
    return True
