"""Why A over B on the tiny model: contrast, word-level attribution, what-if and the smallest flip.

Every score these return is checked against the model card's code on the text it names; words against the tokens
they are made of; diffs by rebuilding both texts.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.config import Settings
from reward.insight.attribution import attribute
from reward.insight.contrast import contrast, flip, flip_parts, whatif
from reward.insight.explain import split_sentences
from reward.insight.ranking import sigmoid
from reward.insight.words import changed_share, word_diff, word_spans
from reward.model.requests import InvalidRequest
from reward.service import RewardService
from tests.reference import assert_scores_close, card_score

PROMPT = "Why is AI Ethics important?"
A = ("AI ethics matters because AI systems affect people's lives. It helps prevent harm to people. "
     "Unhappiness is real, anyway. Thanks for asking!")
B = "Who cares? AI is just a tool, nothing more."
LONG = "The field of AI Ethics delves deeply into the ethical considerations that arise with AI systems. " * 50


@pytest.fixture(scope="module")
def card(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def card_of(card, prompt, response):
    return card_score(*card, prompt, response)[0]


def check_words(words, prompt, response, tokens):
    """Words tile their texts, and their values add up to the prompt's and response's tokens' values."""
    for part, text in (("prompt", prompt), ("response", response)):
        own = [w for w in words if w["part"] == part]
        assert "".join(w["word"] for w in own) == text
        assert all(text[w["start"]:w["end"]] == w["word"] for w in own)
        assert [w["start"] for w in own[1:]] == [w["end"] for w in own[:-1]]
        assert sum(w["tokens"] for w in own) == sum(t["part"] == part for t in tokens)
    content = sum(t["value"] for t in tokens if t["part"] != "special")
    assert abs(sum(w["value"] for w in words) - content) <= 1e-6 * max(1.0, sum(abs(t["value"]) for t in tokens))


# -- words ------------------------------------------------------------------------------------------------------

def test_words_tile_and_sum_to_the_tokens(tiny_model):
    result = attribute(tiny_model, PROMPT, A, steps=8).as_dict()
    check_words(result["words"], PROMPT, A, result["tokens"])
    # The ## rule, checked on the token names: each word's tokens spell the word (ASCII text, cased model).
    tokens = iter(t["token"] for t in result["tokens"] if t["part"] != "special")
    for w in result["words"]:
        spelled = "".join(next(tokens).removeprefix("##") for _ in range(w["tokens"]))
        assert spelled == w["word"].strip() or spelled == "[UNK]"


def test_words_past_the_cut_are_listed_unread(tiny_model_dir):
    from reward.model.reward_model import load_reward_model

    short = load_reward_model(tiny_model_dir, device="cpu", max_length=48)
    result = attribute(short, PROMPT, LONG, steps=8).as_dict()
    check_words(result["words"], PROMPT, LONG, result["tokens"])
    unread = [w for w in result["words"] if not w["read"]]
    assert unread and all(w["value"] == 0.0 and w["tokens"] == 0 and w["part"] == "response" for w in unread)
    # Unread words come after every read one.
    response = [w for w in result["words"] if w["part"] == "response"]
    assert [w["read"] for w in response] == sorted((w["read"] for w in response), reverse=True)


def test_word_spans_join_pieces_and_give_whitespace_to_the_word_before():
    text = "  unhappiness is\treal"
    offsets = [(2, 4), (4, 9), (9, 13), (14, 16), (17, 21)]
    names = ["un", "##happi", "##ness", "is", "real"]
    assert word_spans(text, offsets, names) == [[0, 14, 0, 3], [14, 17, 3, 4], [17, 21, 4, 5]]
    assert word_spans("", [], []) == []
    assert word_spans("\u200b", [], []) == [[0, 1, 0, 0]]


# -- diff -------------------------------------------------------------------------------------------------------

@given(st.text(max_size=60), st.text(max_size=60))
def test_the_diff_rebuilds_both_texts(a, b):
    steps = word_diff(a, b)
    assert "".join(s["a"] for s in steps) == a
    assert "".join(s["b"] for s in steps) == b
    for s in steps:
        assert s["op"] in ("equal", "insert", "delete", "replace")
        assert (s["a"] == s["b"]) == (s["op"] == "equal") or not s["a"] and not s["b"]
        assert s["op"] != "insert" or not s["a"]
        assert s["op"] != "delete" or not s["b"]


def test_the_diff_says_what_each_side_has():
    steps = word_diff("The cat sat.", "The black cat sat down.")
    assert [(s["op"], s["a"], s["b"].strip()) for s in steps if s["op"] != "equal"] == [
        ("insert", "", "black"), ("insert", "", "down")]
    assert changed_share(word_diff("same", "same")) == 0.0
    assert changed_share(word_diff("abc", "xyz")) == 1.0


# -- contrast and what-if ---------------------------------------------------------------------------------------

def test_contrast_scores_are_the_cards(tiny_model, card, score_scale):
    result = contrast(tiny_model, PROMPT, A, B, steps=8).as_dict()
    expected = [card_of(card, PROMPT, A), card_of(card, PROMPT, B)]
    assert_scores_close([result["score_a"], result["score_b"]], expected, scale=score_scale)
    assert_scores_close(result["margin"], expected[0] - expected[1], scale=expected)
    assert abs(result["chance_a"] - sigmoid(expected[0] - expected[1])) < 1e-5
    assert "".join(s["a"] for s in result["diff"]) == A and "".join(s["b"] for s in result["diff"]) == B
    for side, response in (("a", A), ("b", B)):
        alone = attribute(tiny_model, PROMPT, response, steps=8).as_dict()
        check_words(result[f"words_{side}"], PROMPT, response, alone["tokens"])
        assert result[f"words_{side}"] == alone["words"]
        assert result[f"completeness_gap_{side}"] == alone["completeness_gap"]


def test_whatif_scores_both_texts(tiny_model, card, score_scale):
    edited = A.replace("prevent harm to people", "prevent harm")
    result = whatif(tiny_model, PROMPT, A, edited).as_dict()
    expected = [card_of(card, PROMPT, A), card_of(card, PROMPT, edited)]
    assert_scores_close([result["score"], result["edited_score"]], expected, scale=score_scale)
    assert result["change"] == result["edited_score"] - result["score"]
    assert [(s["op"], s["a"], s["b"]) for s in result["diff"] if s["op"] != "equal"] == [("delete", " to people", "")]


# -- the smallest flip ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["sentence", "word"])
@pytest.mark.parametrize("first,second", [(A, B), (B, A)])
def test_a_flip_really_flips(tiny_model, card, score_scale, unit, first, second):
    result = flip(tiny_model, PROMPT, first, second, unit).as_dict()
    score_a, score_b = card_of(card, PROMPT, first), card_of(card, PROMPT, second)
    assert_scores_close([result["score_a"], result["score_b"], result["score"]],
                        [score_a, score_b, card_of(card, PROMPT, result["text"])], scale=score_scale)
    # The text is A without the parts removed, and the parts are A's own.
    kept, at = [], 0
    for r in result["removed"]:
        assert first[r["start"]:r["end"]] == r["text"] and r["start"] >= at
        kept.append(first[at:r["start"]])
        at = r["end"]
    assert "".join(kept) + first[at:] == result["text"]
    assert result["passes"] <= result["max_passes"]
    assert result["goal"] == ("down" if score_a > score_b else "up")
    if result["flipped"]:
        assert result["removed"] and result["reason"] == "flipped"
        now = card_of(card, PROMPT, result["text"])
        margin = 1e-5 * max(abs(now), abs(score_b), score_scale)
        assert now <= score_b + margin if result["goal"] == "down" else now > score_b - margin
    else:
        assert result["reason"] in ("exhausted", "budget", "no parts")


def test_some_flip_is_found_here(tiny_model):
    """The pair above is one the search can turn, one way or the other (else the test above proves little)."""
    results = [flip(tiny_model, PROMPT, a, b, unit) for a, b in ((A, B), (B, A)) for unit in ("sentence", "word")]
    assert any(r.flipped for r in results)


def test_the_flip_keeps_to_its_budget(tiny_model):
    result = flip(tiny_model, PROMPT, LONG[:2000], B, "word", max_passes=12)
    assert result.passes <= 12
    assert result.flipped or result.reason in ("budget", "exhausted")
    one = flip(tiny_model, PROMPT, "Just one sentence here.", B)
    assert not one.flipped and one.reason == "no parts" and one.text == "Just one sentence here."


def test_flip_parts_tile_and_group_a_long_text():
    spans, grouped = flip_parts(A, "sentence")
    assert spans == split_sentences(A) and not grouped
    words, _ = flip_parts("  two words ", "word")
    assert words == [(0, 6), (6, 12)]
    many, grouped = flip_parts(LONG, "word", most=10)
    assert grouped and len(many) == 10 and "".join(LONG[s:e] for s, e in many) == LONG


# -- requests ---------------------------------------------------------------------------------------------------

def test_refusals_are_the_score_ones(tiny_settings):
    settings = Settings(**{**tiny_settings.__dict__, "max_chars": 50})
    service = RewardService(settings)

    def message(call):
        with pytest.raises(InvalidRequest) as err:
            call()
        return str(err.value), err.value.field

    too_long = "x" * 51
    for prompt, a, b in ((" ", "a", "b"), (3, "a", "b"), (too_long, "a", "b"), ("p", too_long, "b"),
                         ("p", "a", "\ud800"), ("p", "a", None), ("p", ["a"], "b")):
        score = message(lambda: service.rank(prompt, [a, b]))
        for call in (lambda: service.contrast(prompt, a, b), lambda: service.flip(prompt, a, b)):
            got = message(call)
            assert got == (score[0].replace("Response 1", "Response A").replace("Response 2", "Response B"),
                           score[1])
        got = message(lambda: service.whatif(prompt, a, b))
        assert got == (score[0].replace("Response 1", "The response").replace("Response 2", "The edited response"),
                       score[1])
    assert "blank" in message(lambda: service.contrast("p", "a", "  "))[0]
    assert message(lambda: service.flip("p", "a", "b", "paragraph"))[1] == "unit"


def test_many_words_are_picked_by_integrated_gradients(tiny_model, card, score_scale):
    from reward.config import FLIP_WORD_CANDIDATES

    many = " ".join([A] * 3)  # more words than are tried one by one
    result = flip(tiny_model, PROMPT, many, B, "word")
    assert result.parts > FLIP_WORD_CANDIDATES and result.tried == FLIP_WORD_CANDIDATES
    assert result.attribution_steps > 0 and result.passes <= result.max_passes
    assert_scores_close(result.score, card_of(card, PROMPT, result.text), scale=score_scale)
    few = flip(tiny_model, PROMPT, B, A, "word")
    assert few.tried == few.parts and few.attribution_steps == 0
