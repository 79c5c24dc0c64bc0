"""/explain and /attribute through gradio_client, and `python -m reward explain`: the same numbers as /score."""

import json

import httpx
import pytest
from gradio_client.exceptions import ValidationError

from reward.cli import EXIT_BAD_INPUT, main
from tests.reference import assert_scores_close

PROMPT = "Why is AI Ethics important?"
RESPONSE = ("AI systems affect people. They decide who gets loans! Some of them are wrong.\n"
            "- They need oversight\n- They need audits")


def test_explain_matches_score_and_tiles_the_response(client, score_scale):
    explained = client.predict(PROMPT, RESPONSE, api_name="/explain")
    scored = client.predict(PROMPT, [RESPONSE], api_name="/score")[0]
    assert_scores_close(explained["score"], scored["score"], scale=score_scale)  # other batch mates, same pair
    assert len(explained["tokens"]) == scored["tokens"]
    sentences = explained["parts"]
    assert explained["unit"] == "sentence" and explained["sentence_count"] == len(sentences)
    assert len(sentences) >= 4 and "".join(s["text"] for s in sentences) == RESPONSE
    assert [s["start"] for s in sentences[1:]] == [s["end"] for s in sentences[:-1]]
    for s in sentences:
        assert s["text"] == RESPONSE[s["start"]:s["end"]]
        assert s["effect"] == explained["score"] - s["score_without"]  # the same two floats, through JSON
    # Each scored text, rebuilt from its offsets and scored again through /score, gives the same number.
    without_second = RESPONSE[:sentences[1]["start"]] + RESPONSE[sentences[1]["end"]:]
    first_prefix = RESPONSE[:explained["prefixes"][0]["end"]]
    again = client.predict(PROMPT, [without_second, first_prefix], api_name="/score")
    by_index = {r["index"]: r["score"] for r in again}
    assert_scores_close([by_index[0], by_index[1]], [sentences[1]["score_without"], explained["prefixes"][0]["score"]],
                        scale=score_scale)
    assert explained["prefixes"][-1]["end"] == len(RESPONSE)
    assert explained["prefixes"][-1]["score"] == explained["score"]  # the whole response is scored once


def test_explain_of_a_long_answer_is_bounded(client):
    """A valid 20,000-character answer of many short lines: segments, and an answer the size of the response (it
    was 452 MB when every text without each sentence came back in full)."""
    response = "".join(f"Step {i} done.\n" for i in range(2000))[:20_000]
    explained = client.predict(PROMPT, response, api_name="/explain")
    assert explained["unit"] == "segment" and explained["sentence_count"] > 1000
    assert "".join(p["text"] for p in explained["parts"]) == response
    assert len(json.dumps(explained)) < 3 * len(response) + 200_000


def test_attribute_reports_the_completeness_gap(client, score_scale):
    result = client.predict(PROMPT, "It matters to everyone.", 16, api_name="/attribute")
    assert result["steps"] == 16
    values = [t["value"] for t in result["tokens"]]
    # The server sums the same floats in the same order.
    assert result["completeness_gap"] == abs(sum(values) - (result["score"] - result["baseline_score"]))
    explained = client.predict(PROMPT, "It matters to everyone.", api_name="/explain")
    assert_scores_close(result["score"], explained["score"], scale=score_scale)
    assert [t["token"] for t in result["tokens"]] == [t["token"] for t in explained["tokens"]]


@pytest.mark.parametrize("args, says", [
    (("", "A response."), "prompt"),
    ((PROMPT, "   "), "blank"),
    ((PROMPT, "x" * 20_001), "20,001"),
])
def test_explain_refuses_bad_input_before_the_queue(client, args, says):
    with pytest.raises(ValidationError, match=says):
        client.predict(*args, api_name="/explain")


def test_a_response_that_is_not_text_is_refused_before_the_queue(client):
    with pytest.raises(ValidationError, match="must be text"):
        client.predict(PROMPT, ["a list"], api_name="/explain")


@pytest.mark.parametrize("endpoint", ["explain", "attribute"])
def test_a_lone_surrogate_is_refused_before_the_queue(app_url, endpoint):
    # As a browser sends it: a JSON escape (gradio_client's httpx cannot encode one at all).
    body = '{"data": ["Why?", "a\\ud800b"' + (", 8]}" if endpoint == "attribute" else "]}")
    refused = httpx.post(f"{app_url}/gradio_api/call/{endpoint}", content=body,
                         headers={"content-type": "application/json"}, timeout=30)
    assert refused.status_code == 422
    [verdict] = [v for v in refused.json()["detail"] if not v["is_valid"]]
    assert verdict["parameter_name"] == "response" and "surrogate" in verdict["message"]


@pytest.mark.parametrize("steps", [0, 10_000])
def test_attribute_refuses_steps_out_of_range(client, steps):
    with pytest.raises(ValidationError, match="steps"):
        client.predict(PROMPT, "Fine.", steps, api_name="/attribute")


def test_explain_on_the_command_line(tiny_model_dir, capsys):
    code = main(["explain", "--prompt", PROMPT, "--response", RESPONSE, "--model", str(tiny_model_dir), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and "".join(s["text"] for s in data["parts"]) == RESPONSE
    code = main(["explain", "--prompt", PROMPT, "--response", RESPONSE, "--model", str(tiny_model_dir)])
    text = capsys.readouterr().out
    assert code == 0 and f"score {data['score']:+.3f}" in text and "sentences (effect" in text
    assert f"{data['parts'][0]['effect']:+8.3f}" in text


def test_explain_on_the_command_line_refuses_an_empty_prompt(tiny_model_dir, capsys):
    code = main(["explain", "--prompt", " ", "--response", "Fine.", "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.startswith("error: The prompt is empty")
