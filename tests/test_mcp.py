"""The app as an MCP server: a real MCP client (the `mcp` SDK, streamable HTTP) against `python app.py`.

The public API endpoints are the tools, described by their docstrings, with typed parameters;
page-only events stay out. A tool call gives what `/score` gives through gradio_client, and bad
input gets the same message, leaving no traceback in the server log.
"""

import ast
import asyncio
import json

import pytest
from gradio_client import Client
from gradio_client.exceptions import ValidationError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from reward.config import Settings
from tests.conftest import launch_app
from tests.test_server_log import App, assert_quiet

PROMPT = "Why is AI Ethics important?"
TOOLS = {"score", "explain", "attribute", "probe", "contrast", "whatif", "flip", "score_chat"}
"""The public API: every endpoint made with gr.api, and nothing from the page."""


def mcp_session(url: str, work):
    """Run ``await work(session)`` in an initialised MCP client session on the app at ``url``."""

    async def run():
        async with streamable_http_client(url + "/gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def list_tools(url: str) -> dict:
    async def work(session):
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    return mcp_session(url, work)


def call_tool(url: str, name: str, arguments: dict):
    async def work(session):
        return await session.call_tool(name, arguments)

    return mcp_session(url, work)


def result_value(result):
    """A tool's result arrives as text: Python's repr of the returned value (JSON read too)."""
    [content] = result.content
    try:
        return json.loads(content.text)
    except json.JSONDecodeError:
        return ast.literal_eval(content.text)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    """`python app.py` on the tiny model, settings from the environment (REWARD_MCP unset: on)."""
    with App(tiny_model_dir, tmp_path_factory.mktemp("mcp") / "app.log") as app:
        yield app


def test_the_tools_are_exactly_the_public_api_with_descriptions_and_typed_parameters(server):
    tools = list_tools(server.url)
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert len(tool.description.split()) >= 8, f"{name}: {tool.description!r}"
        schema = tool.inputSchema
        assert schema["type"] == "object" and schema["properties"], name
        assert all("type" in p for p in schema["properties"].values()), (name, schema)
        # Each parameter says what it is (from the docstring's Args section), so an agent knows what to send.
        assert all(len(p.get("description", "").split()) >= 4 for p in schema["properties"].values()), (name, schema)
        assert schema["required"][0] in ("prompt", "messages"), (name, schema)  # a prompt, or a conversation
    assert tools["score"].inputSchema["properties"]["prompt"]["type"] == "string"
    assert tools["score"].inputSchema["properties"]["responses"] == {
        **tools["score"].inputSchema["properties"]["responses"], "type": "array", "items": {"type": "string"}}
    assert tools["attribute"].inputSchema["properties"]["steps"]["type"] == "integer"
    assert_quiet(server.new_lines(), 0)


@pytest.mark.parametrize("responses", [
    ["Who cares about AI Ethics?", "AI Ethics studies how AI systems affect people and society.", "", "Ça va 🙂"],
    ["One answer only."],
    ["tie", "tie"],
])
def test_score_through_mcp_is_score_through_gradio_client(server, responses):
    through_mcp = call_tool(server.url, "score", {"prompt": PROMPT, "responses": responses})
    assert not through_mcp.isError, through_mcp.content
    expected = Client(server.url + "/", verbose=False).predict(PROMPT, responses, api_name="/score")
    got = result_value(through_mcp)
    assert got == expected
    # The records keep each response exactly as sent, at its index; blank ones are skipped.
    assert sorted((r["index"], r["response"]) for r in got) == [(i, t) for i, t in enumerate(responses) if t.strip()]
    assert_quiet(server.new_lines(), 0)


@pytest.mark.parametrize("prompt, responses, field", [
    (PROMPT, ["x" * 20_001], "responses"),           # a response over the character limit
    ("p" * 20_001, ["fine"], "prompt"),              # the prompt over it
    (PROMPT, ["a"] * 33, "responses"),               # too many responses
    ("   ", ["a"], "prompt"),                        # a blank prompt
])
def test_bad_input_through_mcp_gets_the_message_score_gives(server, prompt, responses, field):
    result = call_tool(server.url, "score", {"prompt": prompt, "responses": responses})
    with pytest.raises(ValidationError) as refused:
        Client(server.url + "/", verbose=False).predict(prompt, responses, api_name="/score")
    message = str(refused.value).split(f"- {field}: ", 1)[1].strip()
    assert result.isError
    [content] = result.content
    assert content.text == message  # the same words, in one line
    assert_quiet(server.new_lines(), 0)


def test_explain_through_mcp_is_explain_through_gradio_client(server):
    result = call_tool(server.url, "explain", {"prompt": PROMPT, "response": "It matters. People are affected."})
    assert not result.isError, result.content
    expected = Client(server.url + "/", verbose=False).predict(PROMPT, "It matters. People are affected.",
                                                               api_name="/explain")
    assert result_value(result) == expected
    assert_quiet(server.new_lines(), 0)


def test_mcp_off_serves_no_tools_and_the_api_still_works(tiny_model_dir):
    settings = Settings(model=str(tiny_model_dir), device="cpu", mcp=False)
    demo, url = launch_app(settings)
    try:
        with pytest.raises(Exception):  # noqa: B017 - nothing answers MCP there, whatever the client raises
            list_tools(url)
        ranked = Client(url + "/", verbose=False).predict(PROMPT, ["a", "b"], api_name="/score")
        assert sorted(r["index"] for r in ranked) == [0, 1]
    finally:
        demo.close()


def test_reward_mcp_0_in_the_environment_turns_it_off(tiny_model_dir, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REWARD_MCP", "0")
        app = App(tiny_model_dir, tmp_path / "off.log")
    with app:
        import httpx

        assert httpx.get(f"{app.url}/gradio_api/mcp/", timeout=10).status_code == 404
        assert "MCP" not in app.log.read_text()


def test_without_the_mcp_extra_the_app_starts_and_says_so_in_one_line(tiny_model_dir, monkeypatch, caplog):
    """``import gradio.mcp`` failing, as it does without ``gradio[mcp]``: one warning, the API still works."""
    import sys

    monkeypatch.setitem(sys.modules, "gradio.mcp", None)  # the next import of it raises ImportError
    caplog.set_level("WARNING", logger="reward.app")
    demo, url = launch_app(Settings(model=str(tiny_model_dir), device="cpu"))
    try:
        lines = [r.getMessage() for r in caplog.records if r.name == "reward.app"]
        assert len(lines) == 1 and "\n" not in lines[0], lines
        assert lines[0].startswith("The MCP tools are off: Gradio's MCP server cannot be imported")
        assert 'pip install "gradio[mcp]"' in lines[0] and "REWARD_MCP=0" in lines[0]
        assert not demo.mcp_server
        ranked = Client(url + "/", verbose=False).predict(PROMPT, ["a", "b"], api_name="/score")
        assert sorted(r["index"] for r in ranked) == [0, 1]
    finally:
        demo.close()


# -- what the SDK would word its own way, or choke on: the HTTP API's words, one line, a quiet log ---------------

SECRET = "my passport number is SECRET-0451"
"""A user's text: it may come back to its own sender, never into the log."""


def rpc(url: str, body: str | bytes, path: str = "/gradio_api/mcp/") -> tuple[int, dict | None]:
    """POST one raw JSON-RPC body, as any MCP client may: (status, the JSON-RPC message answered or None)."""
    import httpx

    answer = httpx.post(url + path, content=body, timeout=60,
                        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    if not answer.text.strip():
        return answer.status_code, None
    if answer.headers["content-type"].startswith("text/event-stream"):
        [data] = [line[5:] for line in answer.text.splitlines() if line.startswith("data:") and line[5:].strip()]
        return answer.status_code, json.loads(data)
    return answer.status_code, answer.json()


def tool_call(name: str, arguments_json: str) -> str:
    """A tools/call message with its arguments written as JSON text (NaN and lone surrogates as sent)."""
    return ('{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": ' + json.dumps(name)
            + ', "arguments": ' + arguments_json + "}}")


def refusal_over_mcp(url: str, name: str, arguments_json: str) -> str:
    status, message = rpc(url, tool_call(name, arguments_json))
    assert status == 200 and message["result"]["isError"], message
    [content] = message["result"]["content"]
    return content["text"]


def refusal_over_http(url: str, route: str, body_json: str) -> str:
    import httpx

    answer = httpx.post(f"{url}/gradio_api/{route}", content=body_json, headers={"Content-Type": "application/json"},
                        timeout=30)
    assert answer.status_code in (400, 422), answer.text
    detail = answer.json()["detail"]
    return detail if isinstance(detail, str) else " ".join(v["message"] for v in detail if not v["is_valid"])


SAME_INPUT = [
    # (tool, MCP arguments, the same input on HTTP: route and body); JSON text, so that NaN and halves of
    # characters are sent as a client sends them
    ("score", '{"prompt": "a\\ud800b", "responses": ["fine"]}', "call/score", '{"data": ["a\\ud800b", ["fine"]]}'),
    ("score", '{"prompt": "Why?", "responses": ["fine", "\\udc00"]}', "call/score",
     '{"data": ["Why?", ["fine", "\\udc00"]]}'),
    ("explain", '{"prompt": "Why?", "response": "half \\ud83d"}', "call/explain", '{"data": ["Why?", "half \\ud83d"]}'),
    ("attribute", '{"prompt": "Why?", "response": "Fine.", "steps": NaN}', "call/attribute",
     '{"data": ["Why?", "Fine.", NaN]}'),
    ("attribute", '{"prompt": "Why?", "response": "Fine.", "steps": Infinity}', "call/attribute",
     '{"data": ["Why?", "Fine.", Infinity]}'),
    ("attribute", '{"prompt": "Why?", "response": "Fine.", "steps": -Infinity}', "call/attribute",
     '{"data": ["Why?", "Fine.", -Infinity]}'),
    ("attribute", '{"prompt": "Why?", "response": "Fine.", "steps": 2.5}', "call/attribute",
     '{"data": ["Why?", "Fine.", 2.5]}'),
    ("attribute", '{"prompt": "Why?", "response": "Fine.", "steps": "32"}', "call/attribute",
     '{"data": ["Why?", "Fine.", "32"]}'),
    ("probe", '{"prompt": "Why?", "response": 5}', "call/probe", '{"data": ["Why?", 5]}'),
    ("explain", '{"prompt": null, "response": "Fine."}', "call/explain", '{"data": [null, "Fine."]}'),
    ("score", '{"prompt": "Why?", "responses": "one text"}', "call/score", '{"data": ["Why?", "one text"]}'),
    ("score", json.dumps({"prompt": SECRET}), "call/v2/score", json.dumps({"prompt": SECRET})),
    ("explain", '{"prompt": "Why?", "response": "Fine.", "steps": 3}', "call/v2/explain",
     '{"prompt": "Why?", "response": "Fine.", "steps": 3}'),
]


@pytest.mark.parametrize("tool, arguments, route, body", SAME_INPUT, ids=[f"{c[0]}-{i}" for i, c in enumerate(SAME_INPUT)])
def test_a_tool_call_is_refused_in_the_words_of_the_http_api(server, tool, arguments, route, body):
    """A half of a character, a steps that is not a finite number, a value of the wrong kind, an input
    missing or unknown: the SDK would answer with its encoding error or schema message; the HTTP API's
    refusal of the same input is what the tool says, in one line, and the log stays quiet."""
    server.new_lines()
    over_mcp = refusal_over_mcp(server.url, tool, arguments)
    assert over_mcp == refusal_over_http(server.url, route, body)
    assert over_mcp and "\n" not in over_mcp and "Input validation error" not in over_mcp
    assert SECRET not in over_mcp
    assert_quiet(server.new_lines(), 0)


MALFORMED = [
    ("[" * 100_000 + "]" * 100_000, -32700, "levels deep"),             # nested past any parser's patience
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "score", "arguments": '
     + "[" * 40 + "]" * 40 + "}}", -32700, "levels deep"),
    ('{"jsonrpc": "2.0", "id": 1, "method": ', -32700, "not valid JSON"),
    ('[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]', -32600, "no batches"),
    ('{"id": 1, "method": "tools/list"}', -32600, "JSON-RPC 2.0"),
    (json.dumps(SECRET), -32600, "JSON-RPC 2.0"),
    ('{"jsonrpc": "2.0", "id": 1, "method": "no/such/method"}', -32601, "Method not found"),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "score", "arguments": SECRET}}),
     -32602, "params.arguments"),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}}', -32602, "params.name"),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}', -32602, "params"),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"x": SECRET}}), -32602,
     "Invalid initialize request"),
]


@pytest.mark.parametrize("body, code, says", MALFORMED, ids=[f"{c[2]}-{i}" for i, c in enumerate(MALFORMED)])
def test_a_malformed_message_gets_one_line_and_the_log_stays_quiet(server, body, code, says):
    """What the SDK answered with a 500 and a traceback, or logged in some 90 lines of pydantic warnings."""
    server.new_lines()
    status, answer = rpc(server.url, body)
    assert status in (200, 400), (status, answer)
    message = answer["error"]["message"]
    assert answer["error"]["code"] == code and says in message, answer
    assert "\n" not in message and SECRET not in message and "pydantic" not in message
    assert_quiet(server.new_lines(), 0)
    assert SECRET not in server.log.read_text()


@pytest.mark.parametrize("body", [
    json.dumps({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "score", "arguments": {"prompt": SECRET}}}),
    json.dumps({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {"x": SECRET}}),
    json.dumps({"jsonrpc": "2.0", "id": 99, "result": {"x": SECRET}}),
])
def test_notifications_and_answers_nobody_asked_for_are_accepted_and_dropped_quietly(server, body):
    server.new_lines()
    assert rpc(server.url, body) == (202, None)
    assert_quiet(server.new_lines(), 0)
    assert SECRET not in server.log.read_text()


@pytest.mark.parametrize("tool", ["explain", "attribute", "probe"])
@pytest.mark.parametrize("response, says", [
    (5, "The response must be text, not a number."),
    (["a list"], "The response must be text, not a list."),
    ("   ", "The response is blank"),
    ("x" * 20_001, "The response is 20,001 characters long; the limit is 20,000. Shorten it."),
], ids=["number", "list", "blank", "too-long"])
def test_single_response_endpoints_speak_of_the_response(server, tool, response, says):
    """/explain, /attribute and /probe take one response: no "Response 1", no "every response"."""
    arguments = {"prompt": PROMPT, "response": response}
    over_mcp = call_tool(server.url, tool, arguments)
    assert over_mcp.isError
    [content] = over_mcp.content
    with pytest.raises(ValidationError) as over_http:
        Client(server.url + "/", verbose=False).predict(PROMPT, response, api_name=f"/{tool}")
    for message in (content.text, str(over_http.value)):
        assert says in message and "Response 1" not in message and "very response" not in message, message
    assert content.text == says if says.endswith(".") else content.text.startswith(says)
    assert_quiet(server.new_lines(), 0)


def test_the_sse_transport_refuses_in_the_same_words(server):
    """Gradio also serves MCP over SSE, where answers go down the event stream: the tool calls are checked there
    too, before Gradio runs them."""
    from mcp.client.sse import sse_client

    calls = [("score", {"prompt": PROMPT}), ("explain", {"prompt": PROMPT, "response": 5}),
             ("score", {"prompt": PROMPT, "responses": ["a"] * 33}), ("no_such_tool", {})]

    async def run():
        async with sse_client(server.url + "/gradio_api/mcp/sse") as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            refused = [await session.call_tool(name, arguments) for name, arguments in calls]
            return refused, await session.call_tool("score", {"prompt": PROMPT, "responses": ["a", "b"]})

    server.new_lines()
    refused, scored = asyncio.run(run())
    texts = [result.content[0].text for result in refused]
    assert all(result.isError for result in refused) and not scored.isError
    assert texts[0] == "Missing input: responses. /score takes prompt and responses."
    assert texts[1] == "The response must be text, not a number."
    assert texts[2].startswith("33 responses were sent; the limit is 32")
    assert texts[3].startswith("There is no such tool here; this app's tools are attribute, contrast, explain, flip, probe, score, score_chat and whatif")
    assert all("\n" not in text for text in texts)
    assert sorted(r["index"] for r in result_value(scored)) == [0, 1]
    assert_quiet(server.new_lines(), 0)
