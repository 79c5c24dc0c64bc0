"""Refuse oversized request bodies before they are read into memory.

A plain ASGI middleware (no web framework needed): a body whose Content-Length is
over the limit is answered with 413 at once, unread; a body sent without a length
is counted as it arrives and refused as soon as it passes the limit. The paths in
``exempt`` (file uploads, which have their own limit) pass untouched; they are
matched exactly, below the app's root path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The most bytes one character can take in a JSON body: "\ud83d\ude00" is 12 bytes
# for one emoji when a client escapes non-ASCII text (Python's json does by default).
JSON_BYTES_PER_CHAR = 12


def request_body_limit(texts: int, max_chars: int) -> int:
    """Room for ``texts`` texts of ``max_chars`` characters in the bulkiest JSON encoding, plus 64 KiB."""
    return texts * max_chars * JSON_BYTES_PER_CHAR + 64 * 1024


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:,.2f} MB"


class _TooLarge(BaseException):  # not Exception: frameworks turn those into their own 400s
    pass


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body, except at the ``exempt`` paths."""

    def __init__(self, app, max_bytes: int, exempt: tuple[str, ...] = (), hint: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt
        self.hint = hint

    def _exempt(self, scope: Scope) -> bool:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        return path in self.exempt

    def message(self, size: int | None) -> str:
        limit = _megabytes(self.max_bytes)
        said = (f"The request is {_megabytes(size)}; this server takes requests of up to {limit}." if size is not None
                else f"The request is over {limit}, the most this server takes.")
        return f"{said} {self.hint}".strip()

    async def refuse(self, send: Send, size: int | None) -> None:
        body = json.dumps({"detail": self.message(size)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self.refuse(send, declared)
                    return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self.refuse(send, None)
