"""explain(): sentence spans, and every score it reports checked against the model card's code on the exact text."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reward.insight.explain as explain_module
from reward.config import EXPLAIN_MAX_PARTS
from reward.insight.explain import TRAINED_LENGTH, explain, split_sentences
from tests.conftest import ROOT
from tests.reference import assert_scores_close, card_score

PROMPT = "Why is AI Ethics important?"
ANSWER = ("AI Ethics studies how AI systems affect people. It matters because they decide who gets a loan! "
          "Dr. Smith, e.g. in 2024, said so. Is that fair?\n- Test models on real groups.\n- Explain decisions.\n"
          "1. Privacy\n2. Accountability")
SENTENCE = "The field of AI Ethics delves deeply into the ethical considerations that arise with AI systems. "


@pytest.fixture(scope="module")
def card(tiny_model_dir):
    """The model card's tokenizer and model, loaded apart from the wrapper."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def card_tokens(tokenizer, prompt, response):
    return tokenizer.convert_ids_to_tokens(tokenizer(prompt, response, truncation=True, max_length=512,
                                                     return_token_type_ids=False)["input_ids"])


def pieces(text):
    return [text[s:e] for s, e in split_sentences(text)]


# -- sentences --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("   ", ["   "]),
    ("No punctuation at all", ["No punctuation at all"]),
    ("One. Two! Three? Four", ["One. ", "Two! ", "Three? ", "Four"]),
    ("Dr. Smith went home. He slept.", ["Dr. Smith went home. ", "He slept."]),
    ("Use e.g. Paris, i.e. France. Next one.", ["Use e.g. Paris, i.e. France. ", "Next one."]),
    ("Apples, pears, etc. and more. End.", ["Apples, pears, etc. and more. ", "End."]),
    ("Pi is 3.14 today. Yes.", ["Pi is 3.14 today. ", "Yes."]),
    ("Wait... what? Yes... No.", ["Wait... what? ", "Yes... ", "No."]),
    ("J. K. Rowling wrote it. True.", ["J. K. Rowling wrote it. ", "True."]),
    ('He said "Stop." Then left.', ['He said "Stop." ', "Then left."]),
    ("(It works.) Good…  Done", ["(It works.) ", "Good…  ", "Done"]),
    ("  Hi. There  \n\n", ["  Hi. ", "There  \n\n"]),
    ("Steps:\n- mix\n* bake\n  1. First\n2. Second", ["Steps:\n", "- mix\n", "* bake\n  ", "1. First\n", "2. Second"]),
    ("a\r\nb\rc", ["a\r\n", "b\r", "c"]),
    ("Great 🙂! Next 🚀. 东京。", ["Great 🙂! ", "Next 🚀. ", "东京。"]),
])
def test_split_sentences(text, expected):
    assert pieces(text) == expected


TEXT = st.lists(st.sampled_from(list("ab Z.!?…\"')\n\r\t-*1") + ["\r\n", "- ", "1. ", "e.g. ", "Dr. ", "🙂", "東"]),
                max_size=40).map("".join)


@given(st.one_of(TEXT, st.text()))
def test_sentence_spans_tile_the_text(text):
    spans = split_sentences(text)
    assert "".join(text[s:e] for s, e in spans) == text
    assert [s for s, _ in spans[1:]] == [e for _, e in spans[:-1]]
    assert all(s < e for s, e in spans)
    assert (spans[0][0], spans[-1][1]) == (0, len(text)) if text else spans == []
    for s, _ in spans[1:]:  # a piece starts at a word, right after whitespace
        assert not text[s].isspace() and text[s - 1].isspace()


# -- scores against the card ------------------------------------------------------------------------

def without(response, part):
    """The exact string scored for a part's ``score_without``, rebuilt from its offsets."""
    return response[:part.start] + response[part.end:]


@pytest.mark.parametrize("prompt, response", [
    (PROMPT, ANSWER),
    (PROMPT, "Paris."),                          # one sentence: without it, the empty response
    ("", "An empty prompt. Still two sentences."),
    (PROMPT, "Who cares about AI Ethics? It's just whining"),
])
def test_every_score_is_the_cards_score_of_the_exact_text(tiny_model, card, score_scale, prompt, response):
    tokenizer, model = card
    result = explain(tiny_model, prompt, response)
    assert_scores_close(result.score, card_score(tokenizer, model, prompt, response)[0], scale=score_scale)
    assert_scores_close(result.score, tiny_model.score(prompt, [response])[0].score, scale=score_scale)
    assert result.unit == "sentence" and result.sentence_count == len(split_sentences(response))
    assert "".join(p.text for p in result.parts) == response
    for number, p in enumerate(result.parts, start=1):
        assert p.text == response[p.start:p.end] and p.first == p.last == number
        assert p.effect == result.score - p.score_without  # the same two floats subtracted
    assert_scores_close([p.score_without for p in result.parts],
                        [card_score(tokenizer, model, prompt, without(response, p))[0] for p in result.parts],
                        scale=score_scale)
    assert [p.sentences for p in result.prefixes] == list(range(1, len(result.parts) + 1))
    assert [prefix.end for prefix in result.prefixes] == [part.end for part in result.parts]
    assert_scores_close([prefix.score for prefix in result.prefixes],
                        [card_score(tokenizer, model, prompt, response[:prefix.end])[0] for prefix in result.prefixes],
                        scale=score_scale)
    assert result.prefixes[-1].end == len(response) and result.prefixes[-1].score == result.score


def test_one_sentence_response(tiny_model, card, score_scale):
    result = explain(tiny_model, PROMPT, "Paris is the capital.")
    assert len(result.parts) == len(result.prefixes) == 1
    only = result.parts[0]
    assert (without("Paris is the capital.", only), only.start, only.end) == ("", 0, len("Paris is the capital."))
    assert_scores_close(only.score_without, tiny_model.score(PROMPT, [""])[0].score, scale=score_scale)


def test_empty_response_has_no_sentences_and_no_response_part(tiny_model, card, score_scale):
    result = explain(tiny_model, PROMPT, "")
    assert result.parts == [] and result.prefixes == [] and result.sentence_count == 0
    assert [t.token for t in result.tokens] == card_tokens(card[0], PROMPT, "")
    assert {t.part for t in result.tokens} == {"special", "prompt"}
    assert_scores_close(result.score, card_score(*card, PROMPT, "")[0], scale=score_scale)


# -- tokens -----------------------------------------------------------------------------------------

def check_tokens(result, tokenizer, prompt, response):
    tokens = result.tokens
    assert [t.token for t in tokens] == card_tokens(tokenizer, prompt, response)
    assert [t.position for t in tokens] == list(range(len(tokens)))
    kept = {part: sum(t.part == part for t in tokens) for part in ("prompt", "response")}
    assert [t.part for t in tokens] == (["special"] + ["prompt"] * kept["prompt"] + ["special"]
                                        + ["response"] * kept["response"] + ["special"])
    whole = {side: len(tokenizer(text, add_special_tokens=False)["input_ids"])
             for side, text in (("prompt", prompt), ("response", response))}
    assert result.dropped == {side: whole[side] - kept[side] for side in whole}
    assert [t.late for t in tokens] == [t.position >= TRAINED_LENGTH for t in tokens]
    assert result.late_tokens == max(0, len(tokens) - TRAINED_LENGTH)


def test_tokens_of_a_short_pair(tiny_model, card):
    result = explain(tiny_model, PROMPT, ANSWER)
    check_tokens(result, card[0], PROMPT, ANSWER)
    assert result.dropped == {"prompt": 0, "response": 0} and result.late_tokens == 0


def test_tokens_of_a_pair_over_512_tokens(tiny_model, card):
    prompt, response = "Why? " * 300, SENTENCE * 40
    result = explain(tiny_model, prompt, response)
    check_tokens(result, card[0], prompt, response)
    assert len(result.tokens) == 512 and result.dropped["prompt"] > 0 and result.dropped["response"] > 0
    assert result.late_tokens == 512 - TRAINED_LENGTH


def test_a_sep_typed_in_the_prompt_is_prompt_text(tiny_model, card):
    result = explain(tiny_model, "What [SEP] is it?", "Paris.")
    check_tokens(result, card[0], "What [SEP] is it?", "Paris.")
    assert [t.part for t in result.tokens if t.token == "[SEP]"] == ["prompt", "special", "special"]


# -- long texts -------------------------------------------------------------------------------------

def test_texts_of_20000_characters(tiny_model, card, score_scale):
    tokenizer, model = card
    prompt, response = ("Tell me more. " * 1500)[:20_000], (SENTENCE * 250)[:20_000]
    result = explain(tiny_model, prompt, response)
    assert result.sentence_count > 200 and result.dropped["response"] > 0
    check_tokens(result, tokenizer, prompt, response)
    ends = result.parts[:2] + result.parts[-2:]  # the last ones lie far past the cut: no effect
    assert_scores_close([p.score_without for p in ends],
                        [card_score(tokenizer, model, prompt, without(response, p))[0] for p in ends],
                        scale=score_scale)
    assert result.parts[-1].effect == 0 and result.prefixes[-2].score == result.score


@pytest.mark.parametrize("count", [EXPLAIN_MAX_PARTS + 1, 1400])
def test_a_long_answer_is_explained_in_segments_of_adjacent_sentences(tiny_model, card, score_scale, count):
    """More sentences than EXPLAIN_MAX_PARTS: that many segments, as equal as can be, tiling the answer in order;
    each score still the card's score of the exact text its offsets name."""
    tokenizer, model = card
    response = "".join(f"Point {i} is short. " for i in range(count))
    result = explain(tiny_model, PROMPT, response)
    spans = split_sentences(response)
    assert result.unit == "segment" and result.sentence_count == len(spans) == count
    assert len(result.parts) == len(result.prefixes) == EXPLAIN_MAX_PARTS
    assert "".join(p.text for p in result.parts) == response
    sizes = [p.last - p.first + 1 for p in result.parts]
    assert sum(sizes) == count and max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert [p.first for p in result.parts] == [1] + [p.last + 1 for p in result.parts[:-1]]
    for p in result.parts:
        assert (p.start, p.end) == (spans[p.first - 1][0], spans[p.last - 1][1])
    assert_scores_close([p.score_without for p in result.parts[:3]],
                        [card_score(tokenizer, model, PROMPT, without(response, p))[0] for p in result.parts[:3]],
                        scale=score_scale)
    assert [x.sentences for x in result.prefixes] == [p.last for p in result.parts]
    assert_scores_close(result.prefixes[0].score,
                        card_score(tokenizer, model, PROMPT, response[:result.prefixes[0].end])[0], scale=score_scale)


def test_the_answer_grows_with_the_response_not_its_square(tiny_model):
    """A 20,000-character answer of many short lines: the JSON answer stays within a small multiple of the
    response's own size (it used to hold every text without each sentence, in full)."""
    response = "".join(f"Line {i} ok.\n" for i in range(1800))[:20_000]
    data = explain(tiny_model, "Why?", response).as_dict()
    size = len(json.dumps(data))
    assert data["unit"] == "segment" and size < 3 * len(response) + 200_000, size


# Both sides are cut with the longer prompts; the response is the longer side with the first, not the second.
@pytest.mark.parametrize("prompt", ["Short prompt?", "Why? " * 300, "Why? " * 400], ids=["short", "long", "longer"])
def test_skipping_texts_past_the_cut_changes_no_score(tiny_model, score_scale, monkeypatch, prompt):
    response = " ".join(f"Point {i}: plants use sunlight." for i in range(60))
    fast = explain(tiny_model, prompt, response)
    monkeypatch.setattr(explain_module, "_stand_ins", lambda *args: None)  # tokenize and score every text in full
    tiny_model.scores.clear()  # and score them again, not from the cache
    slow = explain(tiny_model, prompt, response)
    assert_scores_close([p.score_without for p in fast.parts], [p.score_without for p in slow.parts],
                        scale=score_scale)
    assert_scores_close([p.score for p in fast.prefixes], [p.score for p in slow.prefixes], scale=score_scale)


# -- steps, scoring calls, and the API shape --------------------------------------------------------

@pytest.mark.parametrize("response", [ANSWER, SENTENCE * 40])
def test_each_step_scores_its_texts_in_one_deduplicated_call(tiny_model, monkeypatch, response):
    calls = []
    score_pairs = tiny_model.score_pairs

    def counting(prompts, responses, **kwargs):
        calls.append(len(responses))
        assert len(set(responses)) == len(responses)  # deduplicated
        return score_pairs(prompts, responses, **kwargs)

    monkeypatch.setitem(vars(tiny_model), "score_pairs", counting)  # on this instance only, removed after
    steps = list(explain_module.explain_steps(tiny_model, PROMPT, response))
    # one call a step at most (none where every text reads as one already scored: past the cut, the whole response)
    assert len(steps) == 3 and calls[0] == 1 and len(calls) <= 3 and sum(calls[1:]) <= 2 * len(steps[-1].parts) - 1
    first, parted, done = steps
    assert first.parts is None and first.prefixes is None and first.score == done.score
    assert parted.parts == done.parts and parted.prefixes is None and done.prefixes is not None
    assert done == explain(tiny_model, PROMPT, response)


def test_a_second_explanation_scores_nothing_again(tiny_model, monkeypatch):
    """Every text an explanation scores stays in the model's cache: explaining again runs no forward pass."""
    explain(tiny_model, PROMPT, ANSWER + " Once more.")
    passes = []
    forward = tiny_model._forward
    monkeypatch.setitem(vars(tiny_model), "_forward", lambda *a: passes.append(1) or forward(*a))
    again = explain(tiny_model, PROMPT, ANSWER + " Once more.")
    assert passes == [] and len(again.parts) > 1


def test_as_dict_shape(tiny_model):
    data = explain(tiny_model, PROMPT, ANSWER).as_dict()
    assert set(data) == {"score", "tokens", "dropped", "late_tokens", "sentence_count", "unit", "parts", "prefixes"}
    assert set(data["tokens"][0]) == {"token", "part", "position", "late"}
    assert set(data["dropped"]) == {"prompt", "response"}
    assert set(data["parts"][0]) == {"text", "start", "end", "first", "last", "score_without", "effect"}
    assert set(data["prefixes"][0]) == {"sentences", "end", "score"}
    assert json.loads(json.dumps(data)) == data


def test_importing_stays_light():
    code = ("import sys, reward.insight.explain, reward.insight.attribution; "
            "print(sorted(m for m in ('torch', 'captum', 'transformers', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
