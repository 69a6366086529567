"""``BrowserReloadMiddleware``: Django pages refresh themselves when the dev server changes.

One line in ``MIDDLEWARE`` (``"reloadd.client.django.BrowserReloadMiddleware"``),
active only with ``DEBUG = True``. It

* injects the refresh script into HTML responses (:mod:`reloadd.client.browser.inject`),
* answers ``/__reloadd__/events`` (the page's event stream) and ``/__reloadd__/reload.js``,
* tells the pages to reload when a template changes, right after Django's own
  ``file_changed`` receiver has reset the template loaders (so the reload never meets a
  stale template), and to swap their stylesheets when a ``.css`` file of a static folder
  changes (``STATICFILES_DIRS``, and the ``static`` folders of the project's apps,
  watched without restarting the server).

A ``.py`` change restarts the server as always: the pages' streams end, they connect
again, and the new server's ``hello`` (another boot id) makes them reload. With
``reloadd.client.django`` in ``INSTALLED_APPS`` the listening socket is kept across
restarts, so that connection waits until the new server is ready, and while a server
cannot run the stand-in answers the stream with the crash (the pages show it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from reloadd.client.browser import inject, page_events
from reloadd.client.browser.assets import SCRIPT_HEADERS, script
from reloadd.client.browser.hub import Hub, TooManyStreams, process_hub
from reloadd.client.browser.page_events import STREAM_HEADERS
from reloadd.client.browser.watcher import FolderWatcher, static
from reloadd.client.project_frames import LIBRARY_FOLDERS

log = logging.getLogger("reloadd.client.django")

_watcher: FolderWatcher | None = None


class BrowserReloadMiddleware:
    """Django middleware: the page refreshes on template and ``.py`` changes, swaps changed CSS,
    and shows a crash (see the module's docstring). Raises ``MiddlewareNotUsed`` unless ``DEBUG``."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.conf import settings  # type: ignore[import-untyped]
        from django.core.exceptions import MiddlewareNotUsed  # type: ignore[import-untyped]

        if not settings.DEBUG:
            raise MiddlewareNotUsed("reloadd's browser refresh is for DEBUG only")
        self.get_response = get_response
        self.hub = process_hub()
        self._warned = False
        connect_template_signal()
        start_static_watcher(self.hub)

    def __call__(self, request: Any) -> Any:
        """Answer reloadd's own paths; inject the script into the other HTML responses."""
        path = request.path_info
        if path.startswith(inject.PREFIX):
            if path == inject.EVENTS_PATH:
                # A compressor (GZipMiddleware, listed before this one so that the pages
                # reach it uncompressed) would hold the stream's events in its buffer:
                # this request accepts no encoding.
                request.META.pop("HTTP_ACCEPT_ENCODING", None)
            return self._own(path, asgi=_is_asgi(request))
        response = self.get_response(request)
        try:
            return self._inject(response)
        except Exception:  # never break a page for a refresh script
            log.exception("reloadd could not add its refresh script to %s", path)
            return response

    def _own(self, path: str, *, asgi: bool = False) -> Any:
        from django.http import HttpResponse, StreamingHttpResponse  # type: ignore[import-untyped]

        if path == inject.EVENTS_PATH:
            try:
                # Under ASGI, Django reads a synchronous stream to its end before it sends
                # anything: the stream must be asynchronous there.
                stream = _async_stream(self.hub) if asgi else self.hub.stream()
            except TooManyStreams as exc:
                return HttpResponse(str(exc), status=503, content_type="text/plain")
            response = StreamingHttpResponse(stream)
            for key, value in STREAM_HEADERS:
                response[key] = value
            return response
        if path == inject.SCRIPT_PATH:
            response = HttpResponse(script())
            for key, value in SCRIPT_HEADERS:
                response[key] = value
            return response
        return HttpResponse("no such reloadd path", status=404, content_type="text/plain")

    def _inject(self, response: Any) -> Any:
        if getattr(response, "streaming", False):
            return response
        headers = list(response.items())
        had_length = response.has_header("Content-Length")
        if not had_length:
            headers.append(("Content-Length", str(len(response.content))))
        decision = inject.decide(response.status_code, headers)
        if decision.refused and not self._warned:
            self._warned = True
            log.warning("reloadd: %s", decision.refused)
        if not decision.inject:
            return response
        tag = inject.script_tag(boot=self.hub.boot, nonce=decision.nonce)
        response.content = inject.inject(response.content, tag)
        if had_length:
            response["Content-Length"] = str(len(response.content))
        return response


def _is_asgi(request: Any) -> bool:
    from django.core.handlers.asgi import ASGIRequest  # type: ignore[import-untyped]

    return isinstance(request, ASGIRequest)


async def _async_stream(hub: Hub) -> AsyncIterator[bytes]:
    """The page's stream for Django under ASGI, made in the event loop's thread when read."""
    from reloadd.client.browser.asgi import end_streams_on_exit_signals

    try:
        stream = hub.astream()
    except TooManyStreams:
        return
    end_streams_on_exit_signals(hub)
    async for chunk in stream:
        yield chunk


# -- templates: after Django's loaders are reset ------------------------------------------------


def connect_template_signal() -> None:
    """Have ``file_changed`` tell the pages of a template change (once per process).

    Connected after Django's ``template_changed`` receiver (imported first), so it runs
    after the loaders are reset: receivers run in the order they were connected.
    """
    import django.template.autoreload  # type: ignore[import-untyped]  # noqa: F401
    from django.utils.autoreload import file_changed  # type: ignore[import-untyped]

    file_changed.connect(template_changed, weak=False, dispatch_uid="reloadd_browser_reload")


def template_changed(sender: object, file_path: Path, **kwargs: object) -> None:
    """``file_changed`` receiver: a template or a ``.mo`` file changed → the pages reload.

    Returns None: Django's own receivers decide whether the server restarts.
    """
    from django.template.autoreload import get_template_directories

    if file_path.suffix == ".py":
        return
    if file_path.suffix == ".mo" or any(d in file_path.parents for d in get_template_directories()):
        process_hub().publish(page_events.reload([str(file_path)]))


# -- static files: watched without a restart ----------------------------------------------------


def static_folders() -> list[Path]:
    """``STATICFILES_DIRS``, and the ``static`` folders of installed apps that are not libraries."""
    from django.apps import apps  # type: ignore[import-untyped]
    from django.conf import settings

    folders: list[Path] = []
    for entry in getattr(settings, "STATICFILES_DIRS", ()):
        folder = entry[1] if isinstance(entry, (tuple, list)) else entry
        folders.append(Path(folder).resolve())
    for config in apps.get_app_configs():
        folder = Path(config.path) / "static"
        if folder.is_dir() and LIBRARY_FOLDERS.isdisjoint(folder.parts):
            folders.append(folder.resolve())
    return folders


def _forget_watcher() -> None:
    """In a forked child: the watcher's thread stayed in the parent."""
    global _watcher
    _watcher = None


os.register_at_fork(after_in_child=_forget_watcher)


def start_static_watcher(hub: Hub) -> None:
    """Watch the static folders for this process's pages (once per process)."""
    global _watcher
    if _watcher is None:
        _watcher = FolderWatcher(hub, static(static_folders()))
        _watcher.start()
