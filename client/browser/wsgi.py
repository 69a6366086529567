"""``WSGIMiddleware(app)``: the browser refresh for any WSGI app (Flask, Bottle, Pyramid, plain WSGI).

Answers ``/__reloadd__/events`` and ``/__reloadd__/reload.js`` itself, injects the
script into the app's HTML responses (:mod:`reloadd.client.browser.inject`), and
watches the app's template and static folders (a Flask app's, and its blueprints',
are found by themselves; others are given) so that a template change reloads the
pages and a stylesheet change is swapped in place. A restart of the server (a ``.py``
change, by werkzeug's reloader or ``reloadd run``) reloads the pages once the new
server process says ``hello``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reloadd.client.browser import inject
from reloadd.client.browser.assets import SCRIPT_HEADERS, script
from reloadd.client.browser.hub import Hub, TooManyStreams, process_hub
from reloadd.client.browser.page_events import STREAM_HEADERS
from reloadd.client.browser.watcher import Folder, FolderWatcher, folders_of, static, templates

log = logging.getLogger("reloadd.client.browser")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
"""A WSGI application."""


def app_folders(app: object) -> list[Folder]:
    """The template and static folders of a Flask app (or a Flask app's ``wsgi_app``) and of
    its blueprints; none for any other app."""
    owner = getattr(app, "__self__", app)  # app.wsgi_app is a bound method of the Flask app
    if not (hasattr(owner, "jinja_loader") and hasattr(owner, "iter_blueprints")):
        return []
    found: list[Folder] = []
    for part in [owner, *owner.iter_blueprints()]:
        root = getattr(part, "root_path", None)
        template_folder = getattr(part, "template_folder", None)
        if root and template_folder:
            found += templates([os.path.join(root, template_folder)])
        static_folder = getattr(part, "static_folder", None)
        if static_folder:
            found += static([static_folder])
    return found


class WSGIMiddleware:
    """Wrap ``app`` so that its pages refresh themselves; see ``docs/browser.md``.

    ``templates`` and ``static`` name folders to watch besides those found in a Flask
    app: a change in a template folder reloads the pages, a ``.css`` change in a static
    folder swaps that stylesheet. Wrap the app only in development.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        templates: Iterable[str | os.PathLike[str]] = (),
        static: Iterable[str | os.PathLike[str]] = (),
        hub: Hub | None = None,
    ) -> None:
        self.app = app
        self.folders = [*folders_of(templates, static), *app_folders(app)]
        self._hub = hub
        self._watcher: FolderWatcher | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def hub(self) -> Hub:
        """Where this server process's pages are told what changed."""
        if self._hub is None:
            self._hub = process_hub()
        return self._hub

    def start(self) -> None:
        """Watch the folders (done at the first request: never in a reloader's parent process)."""
        with self._lock:
            if self._watcher is None:
                self._watcher = FolderWatcher(self.hub, self.folders)
                self._watcher.start()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve reloadd's own paths, or the app's response with the script injected."""
        if self._watcher is None:
            self.start()
        path = environ.get("PATH_INFO", "")
        if path.startswith(inject.PREFIX):
            return self._own(path, start_response)
        return self._wrapped(environ, start_response)

    def _own(self, path: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if path == inject.EVENTS_PATH:
            try:
                stream = self.hub.stream()
            except TooManyStreams as exc:
                return _plain(start_response, "503 Service Unavailable", str(exc))
            start_response("200 OK", list(STREAM_HEADERS))
            return stream
        if path == inject.SCRIPT_PATH:
            body = script()
            start_response("200 OK", [*SCRIPT_HEADERS, ("Content-Length", str(len(body)))])
            return [body]
        return _plain(start_response, "404 Not Found", "no such reloadd path")

    def _wrapped(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        held: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held.clear()
            decision = inject.decide(_code(status), headers)
            if decision.refused and not self._warned:
                self._warned = True
                log.warning("reloadd: %s", decision.refused)
            if not decision.inject:
                held["passed"] = True
                return start_response(status, headers, exc_info)
            held.update(status=status, headers=headers, exc_info=exc_info, decision=decision)
            return written.append

        result = self.app(environ, capture)
        rest: Iterable[bytes] = result
        first: list[bytes] = []
        if not held:  # a generator calls start_response when its first chunk is asked for
            iterator = rest = iter(result)
            for chunk in iterator:
                first.append(chunk)
                if held:
                    break
        if "decision" not in held:
            return _Prepended(first, rest, result) if first else result
        try:
            body = b"".join([*written, *first, *rest])
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        tag = inject.script_tag(boot=self.hub.boot, nonce=held["decision"].nonce)
        body = inject.inject(body, tag)
        headers = inject.fixed_headers(held["headers"], len(body))
        start_response(held["status"], headers, held["exc_info"])
        return [body]


class _Prepended:
    """The chunks read already, then the rest of ``result``; closes ``result``."""

    def __init__(self, first: list[bytes], rest: Iterable[bytes], result: Iterable[bytes]) -> None:
        self.first = first
        self.result = result
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        yield from self.first
        yield from self._rest

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


def _code(status: str) -> int:
    head = status.split(" ", 1)[0]
    return int(head) if head.isdigit() else 0


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
