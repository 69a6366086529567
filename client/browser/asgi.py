"""``ASGIMiddleware(app)``: the browser refresh for any ASGI app (Starlette, FastAPI, Quart, ...).

The same as :class:`~reloadd.client.browser.wsgi.WSGIMiddleware`, for an event loop:
``/__reloadd__/events`` and ``/__reloadd__/reload.js`` are answered here, the script
goes into HTML responses of known length, and the given template and static folders
are watched. A server that waits for open responses before it exits (uvicorn does, on
SIGTERM and Ctrl-C) would wait for the pages' streams forever: at the first stream, the
process's SIGTERM and SIGINT handlers are wrapped to end the streams first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from types import FrameType
from typing import Any

from reloadd.client.browser import inject
from reloadd.client.browser.assets import SCRIPT_HEADERS, script
from reloadd.client.browser.hub import Hub, TooManyStreams, process_hub
from reloadd.client.browser.page_events import STREAM_HEADERS
from reloadd.client.browser.watcher import Folder, FolderWatcher, folders_of

log = logging.getLogger("reloadd.client.browser")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application."""

_wrapped_signals: set[signal.Signals] = set()


class ASGIMiddleware:
    """Wrap ``app`` so that its pages refresh themselves; see ``docs/browser.md``.

    ``templates``: folders whose changes reload the pages; ``static``: folders whose
    ``.css`` changes are swapped in place (other changes reload). Wrap only in development.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: Iterable[str | os.PathLike[str]] = (),
        static: Iterable[str | os.PathLike[str]] = (),
        hub: Hub | None = None,
    ) -> None:
        self.app = app
        self.folders: list[Folder] = [*folders_of(templates, static)]
        self._hub = hub
        self._watcher: FolderWatcher | None = None
        self._warned = False

    @property
    def hub(self) -> Hub:
        """Where this server process's pages are told what changed."""
        if self._hub is None:
            self._hub = process_hub()
        return self._hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve reloadd's own paths, or the app's response with the script injected."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._watcher is None:
            self._watcher = FolderWatcher(self.hub, self.folders)
            self._watcher.start()
        path = str(scope.get("path", ""))
        if path.startswith(inject.PREFIX):
            await self._own(path, receive, send)
            return
        await self._wrapped(scope, receive, send)

    async def _own(self, path: str, receive: Receive, send: Send) -> None:
        if path == inject.EVENTS_PATH:
            try:
                stream = self.hub.astream()
            except TooManyStreams as exc:
                await _plain(send, 503, str(exc))
                return
            end_streams_on_exit_signals(self.hub)
            await _serve_stream(stream, receive, send)
            return
        if path == inject.SCRIPT_PATH:
            body = script()
            headers = [*SCRIPT_HEADERS, ("Content-Length", str(len(body)))]
            await send({"type": "http.response.start", "status": 200, "headers": _raw(headers)})
            await send({"type": "http.response.body", "body": body})
            return
        await _plain(send, 404, "no such reloadd path")

    async def _wrapped(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: dict[str, Any] = {}

        async def capture(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                headers = [
                    (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
                decision = inject.decide(int(message["status"]), headers)
                if decision.refused and not self._warned:
                    self._warned = True
                    log.warning("reloadd: %s", decision.refused)
                if decision.inject:
                    held.update(start=message, headers=headers, decision=decision, body=[])
                    return
            elif kind == "http.response.body" and "start" in held:
                held["body"].append(bytes(message.get("body", b"")))
                if message.get("more_body", False):
                    return
                tag = inject.script_tag(boot=self.hub.boot, nonce=held["decision"].nonce)
                body = inject.inject(b"".join(held.pop("body")), tag)
                headers = inject.fixed_headers(held["headers"], len(body))
                await send({**held.pop("start"), "headers": _raw(headers)})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, capture)


async def _serve_stream(stream: AsyncIterator[bytes], receive: Receive, send: Send) -> None:
    """Send ``stream`` until it ends or the page goes away."""
    await send({"type": "http.response.start", "status": 200, "headers": _raw(STREAM_HEADERS)})

    async def pump() -> None:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = {asyncio.ensure_future(pump()), asyncio.ensure_future(gone())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    with contextlib.suppress(OSError, RuntimeError):  # the page is gone: nothing to end
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def end_streams_on_exit_signals(hub: Hub) -> None:
    """Wrap this process's SIGTERM and SIGINT handlers to end ``hub``'s streams first (once).

    Only handlers set with ``signal.signal`` (uvicorn's) are wrapped, from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if sig in _wrapped_signals:
            continue
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue
        _wrapped_signals.add(sig)

        def handler(
            signum: int,
            frame: FrameType | None,
            previous: Callable[[int, FrameType | None], Any] = previous,
        ) -> Any:
            with contextlib.suppress(RuntimeError):  # the loop is closed: no stream is left
                loop.call_soon_threadsafe(hub.close)
            return previous(signum, frame)

        signal.signal(sig, handler)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    await send({"type": "http.response.start", "status": status, "headers": _raw(headers)})
    await send({"type": "http.response.body", "body": body})


def _raw(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
