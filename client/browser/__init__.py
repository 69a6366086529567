"""Browser refresh: pages reload (or swap their CSS) when their dev server changes.

``WSGIMiddleware(app)`` and ``ASGIMiddleware(app)`` wrap any WSGI or ASGI app (Flask,
Starlette, FastAPI, ...); Django has ``reloadd.client.django.BrowserReloadMiddleware``.
See ``docs/browser.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reloadd.client.browser.asgi import ASGIMiddleware
    from reloadd.client.browser.wsgi import WSGIMiddleware

__all__ = ["ASGIMiddleware", "WSGIMiddleware"]


def __getattr__(name: str) -> Any:
    """The middlewares, imported when first asked for."""
    if name == "WSGIMiddleware":
        from reloadd.client.browser.wsgi import WSGIMiddleware

        return WSGIMiddleware
    if name == "ASGIMiddleware":
        from reloadd.client.browser.asgi import ASGIMiddleware

        return ASGIMiddleware
    raise AttributeError(name)
