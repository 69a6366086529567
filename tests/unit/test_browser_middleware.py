"""The WSGI and ASGI middlewares, called in memory (no server), and the hub behind them."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from reloadd.client.browser import ASGIMiddleware, WSGIMiddleware, page_events
from reloadd.client.browser.assets import script
from reloadd.client.browser.hub import MAX_STREAMS, Hub, TooManyStreams, process_hub
from reloadd.client.browser.watcher import events_for, static, templates

PAGE = b"<html><head></head><body><p>hi</p></body></html>"


@pytest.fixture(autouse=True)
def exit_signals() -> Iterator[None]:
    """Give back the SIGINT and SIGTERM handlers an event stream wraps (see asgi.py)."""
    import signal

    from reloadd.client.browser import asgi

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    asgi._wrapped_signals.clear()


def html_app(
    body: bytes = PAGE, headers: Iterable[tuple[str, str]] | None = None
) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        given = (
            list(headers)
            if headers is not None
            else [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
        )
        start_response("200 OK", given)
        return [body]

    return app


def call(app: Callable[..., Iterable[bytes]], path: str = "/") -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.update(status=status, headers=dict(headers))
        return lambda data: None

    result = app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], body


# -- WSGI -----------------------------------------------------------------------------------------


def test_wsgi_injects_into_html_and_fixes_the_length() -> None:
    hub = Hub("test", boot="b00t")
    status, headers, body = call(WSGIMiddleware(html_app(), hub=hub))
    assert status == "200 OK"
    assert body.endswith(b'data-boot="b00t" defer></script></body></html>')
    assert headers["Content-Length"] == str(len(body))


def test_wsgi_leaves_json_alone() -> None:
    app = html_app(b"{}", [("Content-Type", "application/json"), ("Content-Length", "2")])
    assert call(WSGIMiddleware(app, hub=Hub("t")))[2] == b"{}"


def test_wsgi_leaves_gzip_alone() -> None:
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "3")]
    assert (
        call(WSGIMiddleware(html_app(b"\x1f\x8b\x08", headers), hub=Hub("t")))[2] == b"\x1f\x8b\x08"
    )


def test_wsgi_leaves_a_stream_alone_and_does_not_read_it_ahead() -> None:
    pulled: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        for n in range(3):
            pulled.append(n)
            yield b"<p>%d</p>" % n

    result = WSGIMiddleware(app, hub=Hub("t"))({"PATH_INFO": "/"}, lambda *a: None)
    iterator = iter(result)
    assert next(iterator) == b"<p>0</p>"
    assert pulled == [0]  # one chunk at a time, as the app gives them
    assert b"".join(iterator) == b"<p>1</p><p>2</p>"


def test_wsgi_a_generator_app_that_starts_late_is_injected() -> None:
    closed = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", "13")])
            yield b"<body>"
            yield b"x</body>"
        finally:
            closed.set()

    _status, headers, body = call(WSGIMiddleware(app, hub=Hub("t", boot="b")))
    assert body.startswith(b"<body>x<script")
    assert body.endswith(b"</body>")
    assert headers["Content-Length"] == str(len(body))
    assert closed.is_set()


def test_wsgi_serves_the_script() -> None:
    status, headers, body = call(WSGIMiddleware(html_app(), hub=Hub("t")), "/__reloadd__/reload.js")
    assert (status, body) == ("200 OK", script())
    assert headers["Content-Type"].startswith("text/javascript")


def test_wsgi_serves_the_event_stream() -> None:
    hub = Hub("srv", boot="b1")
    seen: dict[str, Any] = {}
    result = WSGIMiddleware(html_app(), hub=hub)(
        {"PATH_INFO": "/__reloadd__/events"}, lambda status, headers: seen.update(status=status)
    )
    stream = iter(result)
    assert next(stream) == b'event: hello\ndata: {"boot":"b1","server":"srv"}\n\n'
    hub.publish(page_events.css(["site.css"]))
    assert next(stream) == b'event: css\ndata: {"paths":["site.css"]}\n\n'
    hub.close()
    assert list(stream) == []
    assert seen["status"] == "200 OK"


def test_wsgi_unknown_reloadd_paths_are_404() -> None:
    assert call(WSGIMiddleware(html_app(), hub=Hub("t")), "/__reloadd__/x")[0].startswith("404")


# -- the hub --------------------------------------------------------------------------------------


def test_the_hub_refuses_streams_beyond_its_limit() -> None:
    hub = Hub("t")
    streams = [hub.stream() for _ in range(MAX_STREAMS)]
    with pytest.raises(TooManyStreams):
        hub.stream()
    hub.close()
    assert len(streams) == MAX_STREAMS


def test_a_stream_that_is_dropped_frees_its_place() -> None:
    hub = Hub("t")
    stream = hub.stream()
    next(stream)
    assert hub.streams == 1
    stream.close()  # type: ignore[attr-defined]
    assert hub.streams == 0


def test_a_page_that_falls_behind_is_told_to_reload_not_queued_forever() -> None:
    hub = Hub("t")
    stream = hub.stream()
    for n in range(200):
        hub.publish(page_events.css([f"{n}.css"]))
    chunks = list(stream)  # ends: the page connects again
    assert chunks[1:] == [page_events.reload([]).encode()]
    assert hub.streams == 0


# -- what the pages are told ----------------------------------------------------------------------


def test_a_css_change_in_a_static_folder_is_a_css_event(tmp_path: Path) -> None:
    folders = static([tmp_path / "static"])
    events = events_for(folders, [str(tmp_path / "static" / "css" / "site.css")])
    assert events == [page_events.css(["css/site.css"])]


def test_any_other_change_reloads(tmp_path: Path) -> None:
    folders = [*static([tmp_path / "static"]), *templates([tmp_path / "templates"])]
    changed = [str(tmp_path / "static" / "a.css"), str(tmp_path / "templates" / "a.html")]
    assert [e.kind for e in events_for(folders, changed)] == ["reload"]
    assert events_for(folders, [str(tmp_path / "static" / "app.js")])[0].kind == "reload"


def test_a_change_outside_the_folders_tells_nothing(tmp_path: Path) -> None:
    assert events_for(static([tmp_path / "static"]), [str(tmp_path / "staticx" / "a.css")]) == []


# -- ASGI -----------------------------------------------------------------------------------------


def asgi_html_app(body: bytes, headers: list[tuple[bytes, bytes]], chunks: int = 1) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = max(1, len(body) // chunks)
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        for n, part in enumerate(parts):
            await send(
                {"type": "http.response.body", "body": part, "more_body": n < len(parts) - 1}
            )

    return app


def asgi_call(app: Any, path: str = "/") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path}, receive, send))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return int(start["status"]), dict(start["headers"]), body


def test_asgi_injects_into_a_chunked_html_body_and_fixes_the_length() -> None:
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(PAGE))]
    app = ASGIMiddleware(asgi_html_app(PAGE, headers, chunks=3), hub=Hub("t", boot="b"))
    status, got_headers, body = asgi_call(app)
    assert status == 200
    assert b'data-boot="b" defer></script></body>' in body
    assert got_headers[b"content-length"] == b"%d" % len(body)


def test_asgi_leaves_a_stream_without_length_alone() -> None:
    app = ASGIMiddleware(asgi_html_app(PAGE, [(b"content-type", b"text/html")]), hub=Hub("t"))
    assert asgi_call(app)[2] == PAGE


def test_asgi_serves_the_script() -> None:
    app = ASGIMiddleware(asgi_html_app(PAGE, []), hub=Hub("t"))
    assert asgi_call(app, "/__reloadd__/reload.js")[2] == script()


def test_asgi_event_stream_ends_when_the_hub_closes() -> None:
    hub = Hub("srv", boot="b2")
    app = ASGIMiddleware(asgi_html_app(PAGE, []), hub=hub)
    sent: list[MutableMapping[str, Any]] = []

    async def run() -> None:
        gone = asyncio.Event()

        async def receive() -> MutableMapping[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)
            if message.get("body", b"").startswith(b"event: hello"):
                hub.publish(page_events.reload(["/t/a.html"]))
            elif message.get("body", b"").startswith(b"event: reload"):
                hub.close()

        await asyncio.wait_for(
            app({"type": "http", "path": "/__reloadd__/events"}, receive, send), 10
        )

    asyncio.run(run())
    bodies = [m.get("body", b"") for m in sent[1:]]
    assert bodies[0].startswith(b"event: hello")
    assert bodies[1] == b'event: reload\ndata: {"paths":["/t/a.html"]}\n\n'
    assert sent[-1]["more_body"] is False


def test_a_forked_process_has_its_own_boot_id() -> None:
    parent = process_hub().boot
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads about
        pid = os.fork()
    if pid == 0:  # the child: report its boot id, and leave at once
        os.write(write, process_hub().boot.encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child
    assert child != parent
    assert process_hub().boot == parent
