"""The MCP tools' door: a tool call the HTTP API would refuse is refused in the HTTP API's words, in one line.

Gradio serves the API as MCP tools (``/gradio_api/mcp/``) through the ``mcp`` SDK, which has its own ways
with a bad message: a schema message ("5 is not of type 'string'") or a raw encoding error instead of the
endpoint's refusal, a 500 and a traceback for deeply nested JSON, some 90 lines of pydantic warnings in
the log for a malformed request. Here each message is read before the SDK sees it (:meth:`McpDoor.answer`,
on the HTTP transport's POSTs) and each tool call before it runs (:meth:`McpDoor.install`, on any
transport), with the checks of :mod:`ui.protocol`: the endpoint's own validator, the limits and messages
of ``/score``, the waiting bounds.

Needs the ``mcp`` package (``gradio[mcp]``): imported only where the MCP tools are served.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import gradio as gr
from mcp import types
from pydantic import ValidationError

from .protocol import BadJson, WaitingBounds, broken_text, endpoint, first_problem, listing, read_json, refuse_arguments

REQUESTS = {typing.get_args(cls.model_fields["method"].annotation)[0]: cls
            for cls in typing.get_args(types.ClientRequest.model_fields["root"].annotation)}
"""The requests an MCP client may send, by method."""
NO_ID = "server-error"
"""The id the SDK gives an error that answers no request it could read."""


class McpDoor:
    """The checks on what MCP clients send to ``demo``'s tools."""

    def __init__(self, demo: gr.Blocks, bounds: WaitingBounds) -> None:
        self.demo = demo
        self.bounds = bounds

    def serving(self) -> bool:
        """Whether Gradio's MCP server is up (it can fail to start, and then says why in ``demo.mcp_error``)."""
        return getattr(self.demo, "mcp_server_obj", None) is not None

    def tools(self) -> dict[str, str]:
        """Tool name -> API name, as Gradio's MCP server named them (on a Space, with the Space's prefix)."""
        server = getattr(self.demo, "mcp_server_obj", None)
        return {name: path.lstrip("/") for name, path in getattr(server, "tool_to_endpoint", {}).items()}

    def refuse_tool_call(self, name: object, arguments: object) -> str | None:
        """Why a tool call is refused, in the words the HTTP API uses for the same input, or None."""
        tools = self.tools()
        fn = endpoint(self.demo, tools[name]) if isinstance(name, str) and name in tools else None
        if fn is None:
            return f"There is no such tool here; this app's tools are {listing(sorted(tools))}."
        if not isinstance(arguments, dict):
            return "The arguments of a tool call must be an object of its inputs by name."
        refusal = refuse_arguments(fn, arguments) or self.bounds.refuse(fn)
        return refusal.message if refusal is not None else None

    def answer(self, body: bytes, *, direct: bool) -> tuple[int, dict | None] | None:
        """The answer to a POSTed MCP message that must not reach the SDK as it is (status, JSON-RPC body or
        None for an empty 202), or None to let it through.

        ``direct``: the transport answers a request in the POST's own response (streamable HTTP), so a tool
        call refused here is answered here, with its arguments as sent (a NaN is still a NaN: the SDK reads
        it as null). On the SSE transport answers go down the event stream: only what the SDK cannot read is
        answered here, and tool calls are checked by :meth:`install`'s handler.
        """
        try:
            message = read_json(body)
        except BadJson as err:
            return 400, error(NO_ID, types.PARSE_ERROR, str(err))
        if isinstance(message, list):
            return 400, error(NO_ID, types.INVALID_REQUEST, "Send one JSON-RPC message per request: this server "
                                                            "takes no batches.")
        try:
            envelope = types.JSONRPCMessage.model_validate(message).root
        except ValidationError:
            return 400, error(NO_ID, types.INVALID_REQUEST, 'Not a JSON-RPC 2.0 message: it needs "jsonrpc": '
                                                            '"2.0", a "method", and an "id" for a request.')
        if broken_text(echoed(message)):
            if not isinstance(envelope, types.JSONRPCRequest):
                return 202, None
            # The SDK would echo it (an id, a resource's uri) and then fail to encode its own answer.
            return 400, error(NO_ID, types.INVALID_REQUEST, "The message holds half of a UTF-16 surrogate pair, which "
                                                            "is not text: send whole characters.")
        if isinstance(envelope, (types.JSONRPCResponse, types.JSONRPCError, types.JSONRPCNotification)):
            if isinstance(envelope, types.JSONRPCNotification) and _reads(types.ClientNotification, envelope):
                return None
            # This server asks clients nothing, so answers are for no one; a notification gets no reply.
            return 202, None
        kind = REQUESTS.get(envelope.method)
        if kind is None:
            return 200, error(envelope.id, types.METHOD_NOT_FOUND, "Method not found: this is an MCP server "
                                                                   "(tools/list lists its tools, tools/call runs one).")
        try:
            request = kind.model_validate(envelope.model_dump(by_alias=True, mode="json", exclude_none=True))
        except ValidationError as err:
            return 200, error(envelope.id, types.INVALID_PARAMS, f"Invalid {envelope.method} request: "
                                                                 f"{first_problem(err)}.")
        if direct and isinstance(request, types.CallToolRequest):
            refusal = self.refuse_tool_call(request.params.name, message["params"].get("arguments") or {})
            if refusal is not None:
                return 200, {"jsonrpc": "2.0", "id": envelope.id,
                             "result": tool_error(refusal).model_dump(mode="json", exclude_none=True)}
        return None

    def install(self) -> None:
        """Check every tool call before Gradio's handler runs it, and keep its refusals to one line (the
        server must be up: Gradio makes its MCP server at launch)."""
        server = getattr(self.demo, "mcp_server_obj", None)
        if server is None:
            return
        handlers = server.mcp_server.request_handlers
        run = handlers[types.CallToolRequest]
        if getattr(run, "checked", False):
            return

        async def checked(request: types.CallToolRequest) -> types.ServerResult:
            refusal = self.refuse_tool_call(request.params.name, request.params.arguments or {})
            if refusal is not None:
                return types.ServerResult(tool_error(refusal))
            return one_line(await run(request))

        checked.checked = True
        handlers[types.CallToolRequest] = checked


def _reads(model, envelope) -> bool:
    try:
        model.model_validate(envelope.model_dump(by_alias=True, mode="json", exclude_none=True))
    except ValidationError:
        return False
    return True


def echoed(message: dict) -> dict:
    """What of a message an answer may repeat: all of it but a tool call's arguments (their refusals never
    repeat a text, and say where a character is broken)."""
    params = message.get("params")
    if message.get("method") == "tools/call" and isinstance(params, dict):
        return {**message, "params": {**params, "arguments": None}}
    return message


def error(request_id: Any, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], isError=True)


_COUNTED = re.compile(r"^\d+ parameter\(s\) failed validation:$")
_NAMED = re.compile(r"^- [^:\n]+: ")


def one_line(result: types.ServerResult) -> types.ServerResult:
    """A failed tool call's text in one line: gradio_client words a validator's refusal as "1 parameter(s)
    failed validation:" and a line per input; the messages themselves are what the HTTP API says."""
    call = result.root
    if not isinstance(call, types.CallToolResult) or not call.isError:
        return result
    for content in call.content:
        if isinstance(content, types.TextContent) and "\n" in content.text:
            lines = [_NAMED.sub("", line).strip() for line in content.text.splitlines()
                     if line.strip() and not _COUNTED.match(line.strip())]
            content.text = " ".join(lines)
    return result
