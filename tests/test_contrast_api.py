"""/contrast, /whatif and /flip through gradio_client and as MCP tools, and `python -m reward contrast`: the same
numbers as /score on the texts they name, and /score's refusals."""

import io
import json

import pytest
from gradio_client.exceptions import ValidationError

from reward.cli import EXIT_BAD_INPUT, main
from tests.reference import assert_scores_close

PROMPT = "Why is AI Ethics important?"
A = ("AI ethics matters because AI systems affect people's lives. It helps prevent harm to people. "
     "Unhappiness is real, anyway.")
B = "Who cares? AI is just a tool, nothing more."


def scores(client, prompt, texts):
    ranked = client.predict(prompt, texts, api_name="/score")
    return [next(r["score"] for r in ranked if r["index"] == i) for i in range(len(texts))]


def test_contrast_is_score_with_words_and_a_diff(client, score_scale):
    result = client.predict(PROMPT, A, B, api_name="/contrast")
    assert_scores_close([result["score_a"], result["score_b"]], scores(client, PROMPT, [A, B]), scale=score_scale)
    assert result["margin"] == result["score_a"] - result["score_b"]
    assert "".join(s["a"] for s in result["diff"]) == A and "".join(s["b"] for s in result["diff"]) == B
    for side, text in (("a", A), ("b", B)):
        words = result[f"words_{side}"]
        response = [w for w in words if w["part"] == "response"]
        assert "".join(w["word"] for w in response) == text
        assert all(text[w["start"]:w["end"]] == w["word"] for w in response)
        assert "".join(w["word"] for w in words if w["part"] == "prompt") == PROMPT
        assert result[f"completeness_gap_{side}"] >= 0
    # The words are /attribute's words for the same pair, which sum to its tokens.
    alone = client.predict(PROMPT, A, 8, api_name="/attribute")
    token_sum = sum(t["value"] for t in alone["tokens"])
    assert abs(sum(w["value"] for w in alone["words"]) - token_sum) <= 1e-6 * max(
        1.0, sum(abs(t["value"]) for t in alone["tokens"]))


def test_whatif_is_score_of_both(client, score_scale):
    edited = A.replace(" anyway", "")
    result = client.predict(PROMPT, A, edited, api_name="/whatif")
    assert_scores_close([result["score"], result["edited_score"]], scores(client, PROMPT, [A, edited]),
                        scale=score_scale)
    assert result["change"] == result["edited_score"] - result["score"]
    assert [s for s in result["diff"] if s["op"] != "equal"] == [{"op": "delete", "a": " anyway", "b": ""}]


@pytest.mark.parametrize("unit", ["sentence", "word"])
def test_flip_scores_the_text_it_returns(client, score_scale, unit):
    for first, second in ((A, B), (B, A)):
        result = client.predict(PROMPT, first, second, unit, api_name="/flip")
        now, score_b = scores(client, PROMPT, [result["text"], second])
        assert_scores_close([result["score"], result["score_b"]], [now, score_b], scale=score_scale)
        assert result["unit"] == unit and result["passes"] <= result["max_passes"]
        if result["flipped"]:
            slack = 1e-5 * max(abs(now), abs(score_b), score_scale)
            assert now <= score_b + slack if result["goal"] == "down" else now > score_b - slack


REFUSED = [
    ("", A, B), (PROMPT, "x" * 20_001, B), (PROMPT, A, ["not", "text"]), (PROMPT, A, 5), (None, A, B),
]


def refusal(client, *args, api_name):
    """The messages of a refused call, without the names of the inputs they are on (each endpoint names its own)."""
    with pytest.raises(ValidationError) as err:
        client.predict(*args, api_name=api_name)
    lines = [line.split(": ", 1)[1] for line in str(err.value).splitlines() if line.startswith("- ")]
    assert lines, str(err.value)[:300]
    return "\n".join(lines)


@pytest.mark.parametrize("prompt, a, b", REFUSED, ids=["empty prompt", "too long", "a list", "a number",
                                                       "no prompt"])
def test_refusals_are_the_score_ones(client, prompt, a, b):
    score = refusal(client, prompt, [a, b], api_name="/score")
    named = score.replace("Response 1", "Response A").replace("Response 2", "Response B")
    assert refusal(client, prompt, a, b, api_name="/contrast") == named
    assert refusal(client, prompt, a, b, "sentence", api_name="/flip") == named
    edited = score.replace("Response 1", "The response").replace("Response 2", "The edited response")
    assert refusal(client, prompt, a, b, api_name="/whatif") == edited


def test_a_blank_side_and_a_bad_unit_are_refused(client):
    assert "Response B is blank" in refusal(client, PROMPT, A, "  ", api_name="/contrast")
    assert "unit must be" in refusal(client, PROMPT, A, B, "paragraph", api_name="/flip")


def test_contrast_on_the_command_line(tiny_model_dir, client, score_scale):
    out = io.StringIO()
    code = main(["contrast", "--prompt", PROMPT, "--a", A, "--b", B, "--json", "--flip", "word", "--model",
                 str(tiny_model_dir), "--device", "cpu"], out=out, err=io.StringIO())
    assert code == 0
    data = json.loads(out.getvalue())
    assert_scores_close([data["score_a"], data["score_b"]], scores(client, PROMPT, [A, B]), scale=score_scale)
    assert_scores_close(data["flip"]["score"], scores(client, PROMPT, [data["flip"]["text"]]), scale=score_scale)
    text = io.StringIO()
    assert main(["contrast", "--prompt", PROMPT, "--a", A, "--b", B, "--model", str(tiny_model_dir),
                 "--device", "cpu"], out=text, err=io.StringIO()) == 0
    assert f"margin {data['margin']:+.3f}" in text.getvalue() and "only in A" in text.getvalue()
    err = io.StringIO()
    assert main(["contrast", "--prompt", PROMPT, "--a", "", "--b", B, "--model", str(tiny_model_dir)],
                out=io.StringIO(), err=err) == EXIT_BAD_INPUT
    assert err.getvalue() == "error: Response A is blank: write the text to compare.\n"
