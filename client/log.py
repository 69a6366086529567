"""The thin client's logger (``reloadd.client``), with ``logging`` imported only when used.

A dev server imports the client at every restart, and ``logging`` (with ``traceback``)
would be a fifth of that import; the client logs only on rare events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logging import Logger


def info(message: str, *args: object) -> None:
    """Log ``message % args`` at level INFO."""
    _logger().info(message, *args)


def debug(message: str, *args: object) -> None:
    """Log ``message % args`` at level DEBUG."""
    _logger().debug(message, *args)


def _logger() -> Logger:
    import logging

    return logging.getLogger("reloadd.client")
