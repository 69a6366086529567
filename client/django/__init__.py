"""Django integration: ``runserver`` reloads through the project's reloadd daemon.

Add ``"reloadd.client.django"`` to ``INSTALLED_APPS``; ``RELOADD_DJANGO=0`` turns
it off. See ``docs/django.md``. This is the only part of ``reloadd.client`` that
imports Django.
"""

from typing import TYPE_CHECKING, Any

from reloadd.client.django.hook import ENV_VAR, enabled, get_reloader, install, uninstall
from reloadd.client.django.reloader import DaemonReloader, DaemonUnavailable, WatchClient

if TYPE_CHECKING:
    from reloadd.client.django.browser import BrowserReloadMiddleware

__all__ = [
    "ENV_VAR",
    "BrowserReloadMiddleware",
    "DaemonReloader",
    "DaemonUnavailable",
    "WatchClient",
    "enabled",
    "get_reloader",
    "install",
    "uninstall",
]


def __getattr__(name: str) -> Any:
    """``BrowserReloadMiddleware``, imported when Django loads ``MIDDLEWARE``."""
    if name == "BrowserReloadMiddleware":
        from reloadd.client.django.browser import BrowserReloadMiddleware

        return BrowserReloadMiddleware
    raise AttributeError(name)
