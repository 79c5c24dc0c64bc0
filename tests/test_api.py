"""The launched app through gradio_client: the /score endpoint, its errors, and start-up without a model."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError

from reward.config import Settings
from tests.conftest import ROOT, free_port, launch_app
from tests.reference import assert_scores_close, card_score

PROMPT = "Why is AI Ethics important?"
RESPONSES = [
    "The field of AI Ethics delves deeply into the intricate ethical considerations of AI systems.",
    "",
    "Who cares about AI Ethics?",
    "Café 東京 🙂 — unicode is fine.",
    "Long answer. " * 400,
]


def test_score_returns_records_best_first(client, tiny_model):
    records = client.predict(PROMPT, RESPONSES, api_name="/score")
    assert [r["rank"] for r in records] == [1, 2, 3, 4]
    assert sorted(r["index"] for r in records) == [0, 2, 3, 4]  # the blank one is skipped
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    card = [card_score(tiny_model.tokenizer, tiny_model.model, PROMPT, r["response"]) for r in records]
    assert_scores_close([r["score"] for r in records], [score for score, _ in card])
    for r, (_, tokens) in zip(records, card):
        assert set(r) == {"rank", "index", "response", "score", "tokens", "truncated"}
        assert r["response"] == RESPONSES[r["index"]]
        assert r["tokens"] == tokens
        assert r["truncated"] == (r["index"] == 4)


def test_the_api_is_documented_with_typed_parameters(client):
    info = client.view_api(print_info=False, return_format="dict")
    endpoint = info["named_endpoints"]["/score"]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["prompt", "responses"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/explain"]["parameters"]] == ["prompt", "response"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/attribute"]["parameters"]] == [
        "prompt", "response", "steps"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/probe"]["parameters"]] == ["prompt", "response"]
    # UI-only events are not part of the public API; /score_models exists only with REWARD_COMPARE_MODELS.
    assert set(info["named_endpoints"]) == {"/score", "/explain", "/attribute", "/probe", "/contrast", "/whatif", "/flip",
                                            "/score_chat"}


@pytest.mark.parametrize(
    "prompt, responses, message",
    [
        ("", ["a"], "prompt is empty"),
        (PROMPT, ["", "  "], "Every response is blank"),
        (PROMPT, ["a"] * 33, "limit is 32"),
        (PROMPT, ["x" * 20_001], "Response 1 is 20,001 characters"),
    ],
)
def test_bad_input_arrives_as_an_error_with_the_message(client, prompt, responses, message):
    with pytest.raises(ValidationError, match=message):
        client.predict(prompt, responses, api_name="/score")


def test_the_app_keeps_serving_after_an_error(client):
    with pytest.raises(ValidationError):
        client.predict("", ["a"], api_name="/score")
    assert len(client.predict(PROMPT, ["a", "b"], api_name="/score")) == 2


@pytest.mark.parametrize(
    "responses, field, message",
    [
        (["x"] * 5000, "responses", "5,000 responses were sent; the limit is 32"),
        (["y" * 2_000_000], "responses", "Response 1 is 2,000,000 characters long"),
    ],
)
def test_requests_over_the_limits_are_refused_before_they_join_the_queue(app_url, responses, field, message):
    """A refused request is answered by the queue-join call itself (422), so it never waits for a worker;
    a valid one joins the queue and gets an event id."""
    call = f"{app_url}/gradio_api/call/score"
    refused = httpx.post(call, json={"data": ["Too big", responses]}, timeout=30)
    assert refused.status_code == 422
    [verdict] = [v for v in refused.json()["detail"] if not v["is_valid"]]
    assert verdict["parameter_name"] == field and message in verdict["message"]
    accepted = httpx.post(call, json={"data": [PROMPT, ["a", "b"]]}, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["event_id"]


def post_declaring(url: str, path: str, content_length: int) -> tuple[int, str]:
    """POST that declares a body of ``content_length`` bytes but sends none: the answer must come unread."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {content_length}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_an_oversized_request_body_is_refused_unread_with_what_to_change(app_url):
    status, body = post_declaring(app_url, "/gradio_api/queue/join", 500_000_000)
    assert status == 413
    assert "500.00 MB" in body and "20,000 characters" in body


def test_the_largest_valid_request_fits_under_the_body_cap_in_the_bulkiest_encoding(app_url):
    """A prompt and 32 responses of 20,000 emoji each, escaped to ASCII (12 bytes an emoji) as Python's json does."""
    body = json.dumps({"data": ["🙂" * 20_000, ["🙂" * 20_000] * 32]}).encode()
    assert len(body) > 7_500_000
    answer = httpx.post(f"{app_url}/gradio_api/call/score", content=body,
                        headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 200 and answer.json()["event_id"]


def test_no_route_skips_the_queue_and_its_checks(app_url):
    """Gradio's direct-call routes would run the function without the validator and the concurrency limit."""
    direct = httpx.post(f"{app_url}/gradio_api/run/score", json={"data": ["", ["a"]]}, timeout=30)
    assert direct.status_code == 404
    assert "join the queue" in direct.json()["detail"]


def test_an_unloadable_model_gives_its_message_to_every_caller(tmp_path):
    demo, url = launch_app(Settings(model=str(tmp_path / "missing-model")))
    try:
        broken = Client(url, verbose=False)
        for _ in range(2):
            with pytest.raises(AppError, match=r"missing-model.*REWARD_MODEL=/path"):
                broken.predict(PROMPT, ["a"], api_name="/score")
        # Input problems are still reported first, without a load.
        with pytest.raises(ValidationError, match="prompt is empty"):
            broken.predict("", ["a"], api_name="/score")
    finally:
        demo.close()


def test_python_app_py_starts_and_explains_when_the_model_cannot_load(tmp_path):
    """A new user without network runs `python app.py`: it starts, says why in one line, serves the page."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HOME": str(tmp_path / "hf")}
    env.pop("REWARD_MODEL", None)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Running on" in line:
                break
        output = "".join(lines)
        assert "Running on" in output, f"app did not start:\n{output}"
        errors = [ln for ln in lines if ln.startswith("error:")]
        assert len(errors) == 1, output
        assert "nicholasKluge/RewardModel" in errors[0] and "REWARD_MODEL=/path" in errors[0]
        assert "Traceback" not in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
        with pytest.raises(AppError, match="REWARD_MODEL=/path"):
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(PROMPT, ["a"], api_name="/score")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_bad_setting_stops_the_app_with_a_message():
    env = {**os.environ, "REWARD_MAX_LENGTH": "huge"}
    out = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "REWARD_MAX_LENGTH='huge' is not a whole number" in out.stderr
    assert "Traceback" not in out.stderr
