"""The request-body cap, on its own: a plain ASGI app behind it, driven in-process by httpx."""

import asyncio
import json

import httpx
import pytest

from ui.body_limit import BodyLimit, request_body_limit

LIMIT = 2_000_000


def run(app, method: str, path: str, content, root_path: str = "") -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.request(method, path, content=content)

    return asyncio.run(go())


class Echo:
    """Reads the whole body and answers with its length; counts how often it was reached."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


@pytest.fixture
def echo():
    return Echo()


@pytest.fixture
def guarded(echo):
    return BodyLimit(echo, max_bytes=LIMIT, exempt=("/upload",), hint="Send less.")


def test_a_body_within_the_limit_passes_whole(guarded, echo):
    answer = run(guarded, "POST", "/gradio_api/queue/join", b"x" * LIMIT)
    assert answer.status_code == 200 and answer.text == str(LIMIT)


def test_a_declared_oversized_body_is_refused_without_reaching_the_app(guarded, echo):
    answer = run(guarded, "POST", "/gradio_api/queue/join", b"x" * (LIMIT + 500_000))
    assert answer.status_code == 413
    assert echo.calls == 0
    assert answer.json()["detail"] == ("The request is 2.50 MB; this server takes requests of up to 2.00 MB. "
                                       "Send less.")


def test_a_streamed_body_without_a_length_is_refused_once_it_passes_the_limit(guarded, echo):
    async def chunks():
        for _ in range(50):
            yield b"y" * 100_000

    answer = run(guarded, "POST", "/gradio_api/queue/join", chunks())
    assert answer.status_code == 413
    assert answer.json()["detail"] == "The request is over 2.00 MB, the most this server takes. Send less."


def test_exempt_paths_keep_their_own_limits(guarded, echo):
    answer = run(guarded, "POST", "/upload", b"z" * (LIMIT * 5))
    assert answer.status_code == 200 and answer.text == str(LIMIT * 5)
    behind_a_proxy = run(guarded, "POST", "/space/upload", b"z" * (LIMIT * 5), root_path="/space")
    assert behind_a_proxy.status_code == 200


@pytest.mark.parametrize("path", ["/x/upload", "/upload/x", "/uploads", "/gradio_api/call/upload"])
def test_only_the_exact_exempt_path_is_exempt(guarded, echo, path):
    assert run(guarded, "POST", path, b"z" * (LIMIT + 1)).status_code == 413
    assert echo.calls == 0


def test_the_limit_holds_the_largest_valid_request_in_the_bulkiest_encoding():
    """33 texts of 2,000 emoji, escaped to ASCII as Python's json does: 12 bytes a character."""
    texts, chars = 33, 2_000
    body = json.dumps({"data": ["🙂" * chars, ["🙂" * chars] * (texts - 1)], "event_data": None, "fn_index": 12,
                       "trigger_id": 34, "session_hash": "a" * 11}).encode()
    assert len(body) <= request_body_limit(texts, chars)
    assert request_body_limit(texts, chars) < 2 * len(body)  # and is not a cap in name only
