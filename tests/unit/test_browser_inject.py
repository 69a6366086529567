"""Where and whether the refresh script goes into a response (:mod:`reloadd.client.browser.inject`)."""

from __future__ import annotations

import pytest

from reloadd.client.browser.inject import (
    MAX_INJECT_BYTES,
    SCRIPT_PATH,
    csp_verdict,
    decide,
    fixed_headers,
    inject,
    script_tag,
)

TAG = b"<script></script>"


def html(length: int = 100, **more: str) -> list[tuple[str, str]]:
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(length))]
    return headers + [(key.replace("_", "-"), value) for key, value in more.items()]


def test_an_html_page_of_known_length_gets_the_script() -> None:
    assert decide(200, html()).inject


@pytest.mark.parametrize("status", [404, 500, 503])
def test_error_pages_get_it_too(status: int) -> None:
    # Django's debug pages: they reload themselves once the error is fixed.
    assert decide(status, html()).inject


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "text/html-sandboxed", "text/css", "image/png", ""],
)
def test_only_html_gets_it(content_type: str) -> None:
    headers = [("Content-Type", content_type), ("Content-Length", "10")]
    assert not decide(200, headers).inject


def test_content_type_is_read_case_insensitively() -> None:
    assert decide(200, [("content-type", "TEXT/HTML"), ("content-length", "5")]).inject


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "zstd"])
def test_an_encoded_body_is_left_alone(encoding: str) -> None:
    assert not decide(200, html(Content_Encoding=encoding)).inject


def test_identity_encoding_is_no_encoding() -> None:
    assert decide(200, html(Content_Encoding="identity")).inject


def test_a_streamed_response_is_left_alone() -> None:
    no_length = [("Content-Type", "text/html")]
    assert not decide(200, no_length).inject
    assert not decide(200, html(), streaming=True).inject


@pytest.mark.parametrize("status", [101, 204, 205, 304])
def test_responses_without_a_body_are_left_alone(status: int) -> None:
    assert not decide(status, html()).inject


def test_a_page_over_the_limit_is_left_alone() -> None:
    assert decide(200, html(MAX_INJECT_BYTES)).inject
    assert not decide(200, html(MAX_INJECT_BYTES + 1)).inject


def test_a_bad_length_is_left_alone() -> None:
    assert not decide(200, [("Content-Type", "text/html"), ("Content-Length", "ten")]).inject


# -- Content-Security-Policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        "default-src 'self'",
        "script-src 'self'; connect-src 'self'",
        "script-src *; connect-src *",
        "img-src 'none'",  # says nothing of scripts or connections
        "default-src 'none'; script-src 'self'; connect-src 'self'",
        "script-src-elem 'self'; script-src 'none'",
    ],
)
def test_a_policy_that_allows_same_origin_scripts_and_streams_gets_the_script(policy: str) -> None:
    decision = csp_verdict([policy])
    assert decision.inject
    assert decision.nonce == ""


@pytest.mark.parametrize(
    ("policy", "directive"),
    [
        ("default-src 'none'", "script-src"),
        ("script-src 'none'", "script-src"),
        ("script-src https://cdn.example", "script-src"),
        ("script-src 'self' 'strict-dynamic'", "script-src"),
        ("script-src 'sha256-abc='", "script-src"),
        ("script-src 'self'; connect-src 'none'", "connect-src"),
        ("default-src https://cdn.example; script-src 'self'", "connect-src"),
    ],
)
def test_a_policy_that_refuses_it_gets_no_script_and_says_what_to_add(
    policy: str, directive: str
) -> None:
    decision = decide(200, html(Content_Security_Policy=policy))
    assert not decision.inject
    assert f"add 'self' to {directive}" in decision.refused


def test_a_policy_with_a_nonce_gets_the_script_with_that_nonce() -> None:
    decision = csp_verdict(["script-src 'nonce-r4nd0m' 'strict-dynamic'; connect-src 'self'"])
    assert decision.inject
    assert decision.nonce == "r4nd0m"
    assert b'nonce="r4nd0m"' in script_tag(boot="b", nonce=decision.nonce)


def test_every_policy_must_allow_it() -> None:
    assert not csp_verdict(["default-src 'self'", "script-src 'none'"]).inject
    headers = html(Content_Security_Policy="default-src 'self'")
    headers.append(("Content-Security-Policy", "connect-src 'none'"))
    assert not decide(200, headers).inject


def test_a_report_only_policy_refuses_nothing() -> None:
    assert decide(200, html(Content_Security_Policy_Report_Only="default-src 'none'")).inject


# -- where the tag goes ---------------------------------------------------------------------------


def test_the_tag_goes_before_the_last_closing_body() -> None:
    body = b"<html><body><p>x</p><!-- </body> --></BODY ></html>"
    assert inject(body, TAG) == b"<html><body><p>x</p><!-- </body> -->" + TAG + b"</BODY ></html>"


def test_without_a_body_tag_it_goes_before_the_closing_head() -> None:
    body = b"<html><head><title>t</title></head>text"
    assert inject(body, TAG) == b"<html><head><title>t</title>" + TAG + b"</head>text"


def test_without_either_it_goes_at_the_end() -> None:
    assert inject(b"<p>a fragment</p>", TAG) == b"<p>a fragment</p>" + TAG


def test_utf8_text_around_it_is_kept() -> None:
    body = "<body>é ü 漢字</body>".encode()
    assert inject(body, TAG).decode() == "<body>é ü 漢字" + TAG.decode() + "</body>"


def test_the_tag_names_the_script_and_the_server_process() -> None:
    tag = script_tag(boot='a"b<')
    assert f'src="{SCRIPT_PATH}"'.encode() in tag
    assert b'data-boot="a&quot;b&lt;"' in tag


# -- Content-Length -------------------------------------------------------------------------------


def test_content_length_is_fixed_in_place() -> None:
    headers = [("Content-Type", "text/html"), ("content-length", "10"), ("X-A", "1")]
    assert fixed_headers(headers, 27) == [
        ("Content-Type", "text/html"),
        ("content-length", "27"),
        ("X-A", "1"),
    ]


def test_a_repeated_content_length_becomes_one() -> None:
    headers = [("Content-Length", "10"), ("Content-Length", "10")]
    assert fixed_headers(headers, 3) == [("Content-Length", "3")]


def test_a_missing_content_length_is_added() -> None:
    assert fixed_headers([("Content-Type", "text/html")], 3)[-1] == ("Content-Length", "3")
