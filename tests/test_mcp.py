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
TOOLS = {"score", "explain", "attribute", "probe"}
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
    app = App(tiny_model_dir, tmp_path_factory.mktemp("mcp") / "app.log")
    try:
        app.wait_until_up()
        yield app
    finally:
        app.stop()


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
        assert "prompt" in schema["required"], (name, schema)
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
    assert message in content.text and f"{field}: " in content.text
    assert "Traceback" not in content.text
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
    try:
        app.wait_until_up()
        import httpx

        assert httpx.get(f"{app.url}/gradio_api/mcp/", timeout=10).status_code == 404
        assert "MCP" not in app.log.read_text()
    finally:
        app.stop()


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
