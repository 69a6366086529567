"""The thin reloadd client: register your process's files with the project's daemon, get told of changes.

Depends on pyzmq and msgpack only; importing it never imports the daemon,
pywatchman or watchfiles.
"""

from reloadd.client.connect import default_name
from reloadd.client.connection import Client
from reloadd.client.modules import files_in_traceback, module_files
from reloadd.client.process import process_start_time
from reloadd.client.results import DaemonInfo, SaveResult, WatchResult
from reloadd.client.states import State
from reloadd.protocol import (
    Crash,
    DaemonError,
    DaemonNotRunning,
    DaemonStartFailed,
    DaemonTimeout,
    EndpointError,
    ReloaddError,
    RequestRejected,
    Role,
    ServerState,
    VersionMismatch,
)

__all__ = [
    "Client",
    "Crash",
    "DaemonError",
    "DaemonInfo",
    "DaemonNotRunning",
    "DaemonStartFailed",
    "DaemonTimeout",
    "EndpointError",
    "ReloaddError",
    "RequestRejected",
    "Role",
    "SaveResult",
    "ServerState",
    "State",
    "VersionMismatch",
    "WatchResult",
    "default_name",
    "files_in_traceback",
    "module_files",
    "process_start_time",
]
