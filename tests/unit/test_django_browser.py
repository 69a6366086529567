"""``BrowserReloadMiddleware`` called in-process with Django's ``RequestFactory``: no server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django  # type: ignore[import-untyped]
import pytest
from django.conf import settings  # type: ignore[import-untyped]

if not settings.configured:
    settings.configure()
django.setup()

from django.core.exceptions import MiddlewareNotUsed  # type: ignore[import-untyped]  # noqa: E402
from django.http import (  # type: ignore[import-untyped]  # noqa: E402
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.middleware.gzip import GZipMiddleware  # type: ignore[import-untyped]  # noqa: E402
from django.test import RequestFactory  # type: ignore[import-untyped]  # noqa: E402
from django.test.utils import override_settings  # type: ignore[import-untyped]  # noqa: E402

from reloadd.client.browser.hub import process_hub  # noqa: E402
from reloadd.client.django import BrowserReloadMiddleware  # noqa: E402

PAGE = "<html><body>" + "<p>padding for gzip</p>" * 20 + "</body></html>"


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


@pytest.fixture(autouse=True)
def debug() -> Iterator[None]:
    with override_settings(DEBUG=True):
        yield


def middleware(response: Any) -> BrowserReloadMiddleware:
    return BrowserReloadMiddleware(lambda request: response)


def test_it_is_not_used_without_debug() -> None:
    with override_settings(DEBUG=False), pytest.raises(MiddlewareNotUsed):
        middleware(HttpResponse(PAGE))


def test_an_html_page_gets_the_script_and_its_length_fixed() -> None:
    page = HttpResponse(PAGE)
    page["Content-Length"] = str(len(PAGE))
    response = middleware(page)(RequestFactory().get("/"))
    body = response.content.decode()
    assert body.endswith(f'data-boot="{process_hub().boot}" defer></script></body></html>')
    assert response["Content-Length"] == str(len(response.content))


def test_json_and_streams_are_left_alone() -> None:
    assert middleware(JsonResponse({"a": 1}))(RequestFactory().get("/")).content == b'{"a": 1}'
    stream = StreamingHttpResponse(iter([PAGE.encode()]))
    response = middleware(stream)(RequestFactory().get("/"))
    assert b"".join(response.streaming_content) == PAGE.encode()


def test_the_event_stream_is_never_gzipped() -> None:
    app = GZipMiddleware(middleware(HttpResponse(PAGE)))
    request = RequestFactory().get("/__reloadd__/events", HTTP_ACCEPT_ENCODING="gzip")
    response = app(request)
    assert not response.has_header("Content-Encoding")
    assert response["Content-Type"].startswith("text/event-stream")
    assert next(iter(response.streaming_content)).startswith(b"event: hello")
    response.close()
    # ...while the pages still are, once the script is in.
    page = app(RequestFactory().get("/", HTTP_ACCEPT_ENCODING="gzip"))
    assert page["Content-Encoding"] == "gzip"


def test_the_script_is_served() -> None:
    response = middleware(HttpResponse(PAGE))(RequestFactory().get("/__reloadd__/reload.js"))
    assert response["Content-Type"].startswith("text/javascript")
    assert b"EventSource" in response.content


def test_under_asgi_the_event_stream_is_asynchronous() -> None:
    import asyncio

    from django.test import AsyncRequestFactory

    response = middleware(HttpResponse(PAGE))(AsyncRequestFactory().get("/__reloadd__/events"))
    assert response.is_async

    async def first_chunk() -> bytes:
        iterator = response.streaming_content.__aiter__()
        try:
            return bytes(await iterator.__anext__())
        finally:
            await iterator.aclose()

    assert asyncio.run(first_chunk()).startswith(b"event: hello")
