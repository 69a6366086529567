"""Where the daemon's log goes: the journal with structured fields, or plain lines on stderr.

* Under systemd (``$JOURNAL_STREAM`` names the daemon's stderr) with the
  ``reloadd[systemd]`` extra: each record goes to the journal through
  systemd-python's ``JournalHandler``, with its priority, ``CODE_FILE``,
  ``CODE_LINE``, ``CODE_FUNC``, ``LOGGER``, ``THREAD_NAME``, and the daemon's own
  fields (:func:`fields`: ``RELOADD_CLIENT``, ``RELOADD_PATH``), so that
  ``journalctl --user -u UNIT RELOADD_CLIENT=...`` finds one dev server's lines.
* Under systemd without the extra: plain lines on stderr, each prefixed with its
  syslog priority (``<4>``), which the journal reads as the line's priority.
* Anywhere else: plain lines on stderr with a time stamp, as always.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping

SYSLOG_IDENTIFIER = "reloadd"
"""The journal's ``SYSLOG_IDENTIFIER`` for the daemon's records."""

_FIELD = re.compile(r"[A-Z0-9][A-Z0-9_]*\Z").match
_PLAIN_FORMAT = "%(asctime)s reloadd[%(process)d] %(levelname)s %(message)s"
_SYSLOG_PRIORITIES = (
    (logging.DEBUG, 7),
    (logging.INFO, 6),
    (logging.WARNING, 4),
    (logging.ERROR, 3),
)


def fields(*, client: str | None = None, path: str | None = None) -> dict[str, str]:
    """The daemon's journal fields for a log call's ``extra=`` (ignored on stderr)."""
    found: dict[str, str] = {}
    if client is not None:
        found["RELOADD_CLIENT"] = client
    if path is not None:
        found["RELOADD_PATH"] = path
    return found


def stderr_is_journal(environ: Mapping[str, str] | None = None) -> bool:
    """Whether stderr is systemd's stream to the journal (``$JOURNAL_STREAM`` is its dev:inode)."""
    env = os.environ if environ is None else environ
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(sys.stderr.fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (OSError, ValueError, AttributeError):
        return False


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level (DEBUG 7, INFO 6, WARNING 4, ERROR and above 3)."""
    for level, priority in _SYSLOG_PRIORITIES:
        if levelno <= level:
            return priority
    return 2  # CRITICAL


class PriorityFormatter(logging.Formatter):
    """``<N>message``: the prefix the journal reads a stderr line's priority from."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's message, each line prefixed with its syslog priority."""
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def journal_handler() -> logging.Handler | None:
    """systemd-python's ``JournalHandler`` (the ``reloadd[systemd]`` extra), if installed."""
    try:
        import systemd.journal as journal
    except ImportError:
        return None

    def send(text: str, /, **values: object) -> None:
        # JournalHandler passes every LogRecord attribute too (msg, args, created...): only
        # journal field names (upper case) are sent, as journald would keep no other.
        journal.send(text, **{name: value for name, value in values.items() if _FIELD(name)})

    handler: logging.Handler = journal.JournalHandler(
        sender_function=send, SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER
    )
    return handler


def configure_logging(level: str) -> str:
    """Send the daemon's log where it belongs (see the module); return where, for the log."""
    handler: logging.Handler | None = None
    where = "stderr"
    if stderr_is_journal():
        handler = journal_handler()
        if handler is not None:
            handler.setFormatter(logging.Formatter("%(message)s"))
            where = "the journal (structured fields, systemd-python)"
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(PriorityFormatter("%(message)s"))
            where = "the journal (through stderr; install reloadd[systemd] for structured fields)"
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_PLAIN_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    return where
