"""The server's front door: a plain ASGI middleware that reads what a client sends to an event or a tool and
refuses, in one line, what does not fit, before Gradio reads it; and the last word on any request Gradio
still cannot handle.

What it checks is :mod:`ui.protocol` (events and endpoints) and :mod:`ui.mcp_door` (MCP messages). It sits
inside the body limit (:mod:`ui.body_limit`), so a body it reads whole is at most that large. Whatever
escapes Gradio's routes (an unknown component, a stream that ends in an error) is answered with one line
and leaves one line in the log, never a traceback nor the request's texts (its traceback is at DEBUG).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import gradio as gr

from .protocol import BadJson, Refusal, WaitingBounds, find_event, read_json, refuse_event, refuse_names

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("reward.app")

API = "/gradio_api"
EVENT_ROUTES = [(re.compile(rf"{API}/queue/join/?"), "join"), (re.compile(rf"{API}/call/v2/([^/]+)/?"), "v2"),
                (re.compile(rf"{API}/call/([^/]+)/?"), "call"), (re.compile(rf"{API}/(?:run|api)/([^/]+)/?"), "run")]
"""Gradio's routes that run an event, and how each names it (see :func:`ui.protocol.refuse_event`)."""
MCP_POSTS = re.compile(rf"{API}/mcp(/http)?/?")
"""The streamable HTTP transport's POSTs: a request is answered in the POST's own response."""
MCP_SSE_POSTS = re.compile(rf"{API}/mcp/messages/?")
"""The SSE transport's POSTs: their answers go down the event stream, not in the POST's response."""
UNHANDLED = ("The server could not handle this request: it does not fit this app's API. The endpoints and "
             "their inputs are listed at /gradio_api/info.")


class FrontDoor:
    """ASGI middleware: the checks of :mod:`ui.protocol` on ``demo``'s event routes, of ``mcp`` (a
    :class:`ui.mcp_door.McpDoor`, or None where no MCP tools are served) on MCP's POSTs, and one line for
    whatever else fails."""

    def __init__(self, app, demo: gr.Blocks, bounds: WaitingBounds, mcp=None) -> None:
        self.app = app
        self.demo = demo
        self.bounds = bounds
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = message["type"] == "http.response.body" and not message.get("more_body", False)
            await send(message)

        try:
            check = self.check_for(scope)
            if check is not None:
                body, receive = await read_body(receive)
                if body is None:  # the client left before sending it all
                    return
                answer = check(body)
                if answer is not None:
                    await respond(send, *answer)
                    return
            await self.app(scope, receive, tracking_send)
        except Exception as err:  # the last word: one line, whatever Gradio failed on
            log.warning("A %s request to %s that the server could not handle was refused (%s).", scope["method"],
                        _route(scope)[:80], type(err).__name__)
            log.debug("The request's failure", exc_info=True)
            with contextlib.suppress(Exception):  # the client may be gone: nothing more to say then
                if not started:
                    await respond(send, 400, {"detail": UNHANDLED})
                elif not finished:  # the answer is under way: end it, it cannot become a refusal now
                    await send({"type": "http.response.body", "body": b"", "more_body": False})

    def check_for(self, scope: Scope) -> Callable[[bytes], tuple[int, dict | None] | None] | None:
        """The check of a request's body on the route it asks for, or None where nothing is read first."""
        if scope["method"] != "POST":
            return None
        path = _route(scope)
        direct = bool(MCP_POSTS.fullmatch(path))
        if self.mcp is not None and self.mcp.serving() and (direct or MCP_SSE_POSTS.fullmatch(path)):
            return lambda body: self.mcp.answer(body, direct=direct)
        for pattern, route in EVENT_ROUTES:
            found = pattern.fullmatch(path)
            if found:
                api_name = found.group(1) if found.groups() else None
                return lambda body: _as_answer(self.check_event(body, route, api_name))
        return None

    def check_event(self, body: bytes, route: str, api_name: str | None) -> Refusal | None:
        try:
            request = read_json(body)
        except BadJson as err:
            return Refusal(400, str(err))
        if route != "v2":
            return refuse_event(self.demo, request, route, api_name, self.bounds)
        if not isinstance(request, dict):
            return Refusal(422, "The request body must be a JSON object of the endpoint's inputs by name.")
        fn = find_event(self.demo, None, api_name)
        if isinstance(fn, Refusal):
            return fn
        return refuse_names(fn, {k: v for k, v in request.items() if k != "oauth_token"}) or self.bounds.refuse(fn)


def _as_answer(refusal: Refusal | None) -> tuple[int, dict] | None:
    return None if refusal is None else (refusal.status, refusal.body())


def _route(scope: Scope) -> str:
    """The request's path below the app's root path."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


async def read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body (None if the client disconnected), and a ``receive`` that hands it on again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


async def respond(send: Send, status: int, payload: dict | None) -> None:
    """A JSON answer (an empty one for a 202)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
