"""The checks on the paths and globs a message carries: absolute, no NUL byte, valid patterns.

Run by the messages' ``check()`` on every decode and before every encode, over lists
of up to ``MAX_PATHS_PER_MESSAGE`` paths, so the common case runs in C loops.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

from reloadd.protocol.errors import ErrorCode, ProtocolError, quote
from reloadd.protocol.globs import compile_glob
from reloadd.protocol.limits import MAX_NAME_LENGTH

if TYPE_CHECKING:
    from reloadd.protocol.messages import GlobSpec

_first = itemgetter(0)


def check_absolute(paths: tuple[str, ...], what: str) -> None:
    """Raise ``bad_field`` unless every path is absolute and holds no NUL byte."""
    # The common case in two C loops: every first character is "/", and no NUL anywhere.
    try:
        starts = set(map(_first, paths))
    except IndexError:  # an empty path: the loop below says so
        starts = {""}
    if starts <= {"/"} and "\0" not in "".join(paths):
        return
    for path in paths:
        if not path.startswith("/"):
            raise ProtocolError(
                f"{what} must be absolute paths, got {quote(path)}", code=ErrorCode.BAD_FIELD
            )
        if "\0" in path:
            raise ProtocolError(f"{what} must not contain NUL bytes", code=ErrorCode.BAD_FIELD)


def check_globs(globs: tuple[GlobSpec, ...]) -> None:
    """Raise ``bad_field`` unless every glob has an absolute directory and a valid relative pattern."""
    check_absolute(tuple(glob.directory for glob in globs), "glob directories")
    for glob in globs:
        if not glob.pattern or glob.pattern.startswith("/") or "\0" in glob.pattern:
            raise ProtocolError(
                f"a glob pattern must be a non-empty relative pattern, got {quote(glob.pattern)}",
                code=ErrorCode.BAD_FIELD,
            )
        if len(glob.pattern) > MAX_NAME_LENGTH:
            raise ProtocolError(
                f"a glob pattern must be at most {MAX_NAME_LENGTH} characters",
                code=ErrorCode.BAD_FIELD,
            )
        compile_glob(glob.pattern)  # also refuses patterns that name nothing, such as "."
