"""The thin client's logger (``reloadd.client``), with ``logging`` imported only when used.

A dev server imports the client at every restart, and ``logging`` (with ``traceback``)
would be a fifth of that import; the client logs only on rare events. Until something
imports ``logging`` nothing can have configured it, so an INFO or DEBUG record would be
dropped: it is, without importing ``logging`` (the state machine logs every transition,
which would otherwise import it, about 5 ms, inside every dev server's start).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logging import Logger


def info(message: str, *args: object) -> None:
    """Log ``message % args`` at level INFO."""
    logger = _configurable_logger()
    if logger is not None:
        logger.info(message, *args)


def debug(message: str, *args: object) -> None:
    """Log ``message % args`` at level DEBUG."""
    logger = _configurable_logger()
    if logger is not None:
        logger.debug(message, *args)


def _configurable_logger() -> Logger | None:
    """The logger, or None while ``logging`` is not imported (so not configured either)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return None
    logger: Logger = logging.getLogger("reloadd.client")
    return logger
