"""The project root as every command takes it: ``--root``, else found from the working folder."""

from __future__ import annotations

from pathlib import Path

from reloadd.protocol import EndpointError
from reloadd.protocol.endpoint import find_project_root


def project_root(root: str | None) -> Path:
    """The resolved project root; raise :class:`EndpointError` if reloadd cannot use it.

    Paths travel as UTF-8 on the wire (and name the endpoint), so a root whose name
    is not valid UTF-8 is refused here, in one line, rather than deep in the library.
    """
    resolved = find_project_root(root)
    try:
        str(resolved).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(resolved).encode("utf-8", "backslashreplace").decode("utf-8")
        raise EndpointError(
            f"the project root {shown} is not valid UTF-8, which reloadd needs for paths; "
            "rename the folder to a UTF-8 name"
        ) from None
    return resolved
