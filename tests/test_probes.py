"""Probes: each probe's texts built as the README says, every score the card's own on the texts returned, and /probe."""

import json
import random

import pytest
from gradio_client.exceptions import ValidationError

from reward.config import SAME_WITHIN
from reward.insight.explain import split_sentences
from reward.insight.probes import KINDS, ORIGINAL, PLEASANTRY, against, build_probes, probe
from reward.model.requests import InvalidRequest
from reward.service import RewardService
from tests.conftest import ROOT
from tests.reference import assert_scores_close, card_score

PROMPT = "Why is AI Ethics important?"
ANSWER = ("AI Ethics studies how AI systems affect people. It matters because they decide who gets a loan! "
          "Who checks them?\n- audits\n- oversight")
UNRELATED = json.loads((ROOT / "assets" / "unrelated_prompts.json").read_text(encoding="utf-8"))["prompts"]


@pytest.fixture(scope="module")
def card(tiny_model_dir):
    """The model card's tokenizer and model, loaded apart from the wrapper."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def shuffled_by_hand(text, seed=0):
    """The sentences reordered by random.Random(seed), reversed when that keeps the order; gaps stay in place."""
    pieces = [text[s:e] for s, e in split_sentences(text)]
    order = list(range(len(pieces)))
    random.Random(seed).shuffle(order)
    if order == list(range(len(pieces))):
        order = order[::-1]
    out = pieces[0][:len(pieces[0]) - len(pieces[0].lstrip())]
    for slot, k in enumerate(order):
        gap = pieces[slot][len(pieces[slot].rstrip()):]
        out += pieces[k].strip() + gap
    return out


def expected_texts(prompt, response):
    """What each probe scores, written out from the issue's description."""
    other = next(p for p in UNRELATED if p.strip() != prompt.strip())
    return {
        "no prompt": ("", response),
        "unrelated prompt": (other, response),
        "repeated twice": (prompt, response + "\n" + response),
        "pleasantry appended": (prompt, response + " I hope this helps!"),
        "upper-cased": (prompt, response.upper()),
        "lower-cased": (prompt, response.lower()),
    }


def test_each_probe_scores_the_texts_the_issue_describes():
    probes, skipped = build_probes(PROMPT, ANSWER)
    texts = {name: (p, r) for name, p, r in probes}
    want = expected_texts(PROMPT, ANSWER)
    # Five pieces: three sentences and two list items; the first half keeps the first two, as they were written.
    want["first half"] = (PROMPT, ("AI Ethics studies how AI systems affect people. It matters because they decide "
                                  "who gets a loan! "))
    want["sentences shuffled"] = (PROMPT, shuffled_by_hand(ANSWER))
    assert texts == want and skipped == {}
    assert [name for name, _, _ in probes] == list(KINDS)
    mixed = texts["sentences shuffled"][1]
    assert mixed != ANSWER and mixed.count("\n") == ANSWER.count("\n")
    assert sorted(mixed.replace("\n", " ").split(" ")) == sorted(ANSWER.replace("\n", " ").split(" "))
    assert PLEASANTRY == " I hope this helps!"


def test_two_sentences_are_always_swapped_and_halved_to_one():
    probes, _ = build_probes(PROMPT, "First point. Second point.")
    texts = {name: r for name, _, r in probes}
    assert texts["sentences shuffled"] == "Second point. First point."
    assert texts["first half"] == "First point. "


def test_a_one_sentence_response_skips_the_half_and_the_shuffle_and_says_why():
    probes, skipped = build_probes(PROMPT, "Paris is the capital of France.")
    assert {name for name, _, _ in probes} == set(KINDS) - {"first half", "sentences shuffled"}
    assert set(skipped) == {"first half", "sentences shuffled"}
    assert all("one sentence" in why for why in skipped.values())


def test_the_unrelated_prompt_is_never_the_prompt_itself():
    probes, _ = build_probes(UNRELATED[0], "Mix flour and bananas.")
    assert {n: p for n, p, _ in probes}["unrelated prompt"] == UNRELATED[1]
    probes, skipped = build_probes("Only one.", "An answer.", unrelated=["Only one."])
    assert "unrelated prompt" not in {n for n, _, _ in probes} and "unrelated prompt" in skipped


@pytest.mark.parametrize("prompt, response", [
    (PROMPT, ANSWER),
    (PROMPT, "Paris."),                       # one sentence
    (PROMPT, "already all lower case. nothing to change."),  # lower-casing changes nothing
    ("", "An empty prompt. Still two sentences."),           # the no-prompt probe is the original again
])
def test_every_row_is_the_cards_score_of_its_texts_and_sorted_by_change(tiny_model, card, score_scale, prompt,
                                                                         response):
    report = probe(tiny_model, prompt, response)
    rows = report.rows
    assert (rows[0].probe, rows[0].prompt, rows[0].response, rows[0].change) == (ORIGINAL, prompt, response, 0.0)
    probes, skipped = build_probes(prompt, response)
    assert {(r.probe, r.prompt, r.response) for r in rows[1:]} == set(probes) and report.skipped == skipped
    assert_scores_close([row.score for row in rows], [card_score(*card, row.prompt, row.response)[0] for row in rows],
                        scale=score_scale)
    assert [row.change for row in rows] == [row.score - rows[0].score for row in rows]  # the same floats subtracted
    changes = [abs(r.change) for r in rows[1:]]
    assert changes == sorted(changes, reverse=True)
    assert [r.record() for r in rows] == report.records()
    assert set(report.records()[0]) == {"probe", "prompt", "response", "score", "change"}


def test_the_no_prompt_probe_of_an_empty_prompt_changes_nothing(tiny_model, score_scale):
    report = probe(tiny_model, "", "One thing. Another thing.")
    [row] = [r for r in report.rows if r.probe == "no prompt"]
    assert row.prompt == ""
    # The original's own texts, perhaps in another micro-batch of the one call: the same score but for rounding.
    assert_scores_close(row.score, report.rows[0].score, scale=score_scale)


@pytest.mark.parametrize("name, change, flagged", [
    ("unrelated prompt", 0.5, "rose by 0.500"),
    ("unrelated prompt", 0.0, "did not fall"),
    ("unrelated prompt", -3.0, ""),
    ("no prompt", -0.05, "did not fall"),
    ("repeated twice", 0.5, "rose by 0.500"),
    ("repeated twice", -2.0, ""),                  # punishing repetition is what a sound judge may do
    ("pleasantry appended", 0.05, ""),             # within the tolerance
    ("upper-cased", 1.2, "rose by 1.200"),
    ("lower-cased", SAME_WITHIN + 0.5, "moved by +1.500"),
    ("lower-cased", -(SAME_WITHIN + 0.5), "moved by -1.500"),
    ("lower-cased", 0.3, ""),
    ("original", 9.0, ""),
])
def test_a_change_against_a_sound_judge_is_said_in_words(name, change, flagged):
    said = against(name, change)
    assert (flagged in said) if flagged else said == ""


def test_the_service_refuses_what_score_refuses(tiny_settings):
    service = RewardService(tiny_settings)
    with pytest.raises(InvalidRequest, match="prompt is empty"):
        service.probe("  ", "An answer.")
    with pytest.raises(InvalidRequest, match="blank"):
        service.probe(PROMPT, "   ")
    report = service.probe(PROMPT, ANSWER)
    assert report.rows[0].response == ANSWER and len(report.rows) == 1 + len(KINDS)


# -- /probe through gradio_client ----------------------------------------------------------------------------

def test_probe_api_returns_the_cards_scores_of_the_texts_it_returns(client, card, score_scale):
    rows = client.predict(PROMPT, ANSWER, api_name="/probe")
    assert [set(r) for r in rows] == [{"probe", "prompt", "response", "score", "change"}] * len(rows)
    assert (rows[0]["probe"], rows[0]["prompt"], rows[0]["response"], rows[0]["change"]) == (
        "original", PROMPT, ANSWER, 0.0)
    texts = {r["probe"]: (r["prompt"], r["response"]) for r in rows[1:]}
    want = expected_texts(PROMPT, ANSWER)
    assert {k: texts[k] for k in want} == want and set(texts) == set(KINDS)
    assert_scores_close([r["score"] for r in rows], [card_score(*card, r["prompt"], r["response"])[0] for r in rows],
                        scale=score_scale)
    assert [r["change"] for r in rows] == [r["score"] - rows[0]["score"] for r in rows]  # the same floats, via JSON
    changes = [abs(r["change"]) for r in rows[1:]]
    assert changes == sorted(changes, reverse=True)
    scored = client.predict(PROMPT, [ANSWER], api_name="/score")[0]
    assert_scores_close(rows[0]["score"], scored["score"], scale=score_scale)


@pytest.mark.parametrize("args, says", [
    (("", "A response."), "prompt is empty"),
    ((PROMPT, "   "), "blank"),
    ((PROMPT, "x" * 20_001), "20,001"),
    ((PROMPT, ["a list"]), "must be text"),
])
def test_probe_api_refuses_bad_input_with_what_to_change(client, args, says):
    with pytest.raises(ValidationError, match=says):
        client.predict(*args, api_name="/probe")
