"""explain(): sentence spans, and every score it reports checked against the model card's code on the exact text."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reward.insight.explain as explain_module
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

@pytest.mark.parametrize("prompt, response", [
    (PROMPT, ANSWER),
    (PROMPT, "Paris."),                          # one sentence: text_without is the empty response
    ("", "An empty prompt. Still two sentences."),
    (PROMPT, "Who cares about AI Ethics? It's just whining"),
])
def test_every_score_is_the_cards_score_of_the_exact_text(tiny_model, card, score_scale, prompt, response):
    tokenizer, model = card
    result = explain(tiny_model, prompt, response)
    assert_scores_close(result.score, card_score(tokenizer, model, prompt, response)[0], scale=score_scale)
    assert_scores_close(result.score, tiny_model.score(prompt, [response])[0].score, scale=score_scale)
    assert "".join(s.text for s in result.sentences) == response
    for s in result.sentences:
        assert s.text == response[s.start:s.end]
        assert s.text_without == response[:s.start] + response[s.end:]
        assert s.effect == result.score - s.score_without  # the same two floats subtracted
    assert_scores_close([s.score_without for s in result.sentences],
                        [card_score(tokenizer, model, prompt, s.text_without)[0] for s in result.sentences],
                        scale=score_scale)
    assert [p.sentences for p in result.prefixes] == list(range(1, len(result.sentences) + 1))
    assert [p.text for p in result.prefixes] == [response[:s.end] for s in result.sentences]
    assert_scores_close([p.score for p in result.prefixes],
                        [card_score(tokenizer, model, prompt, p.text)[0] for p in result.prefixes], scale=score_scale)
    assert result.prefixes[-1].text == response and result.prefixes[-1].score == result.score


def test_one_sentence_response(tiny_model, card, score_scale):
    result = explain(tiny_model, PROMPT, "Paris is the capital.")
    assert len(result.sentences) == len(result.prefixes) == 1
    only = result.sentences[0]
    assert (only.text_without, only.start, only.end) == ("", 0, len("Paris is the capital."))
    assert_scores_close(only.score_without, tiny_model.score(PROMPT, [""])[0].score, scale=score_scale)


def test_empty_response_has_no_sentences_and_no_response_part(tiny_model, card, score_scale):
    result = explain(tiny_model, PROMPT, "")
    assert result.sentences == [] and result.prefixes == []
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
    assert len(result.sentences) > 200 and result.dropped["response"] > 0
    check_tokens(result, tokenizer, prompt, response)
    ends = result.sentences[:2] + result.sentences[-2:]  # the last ones lie far past the cut: no effect
    assert_scores_close([s.score_without for s in ends],
                        [card_score(tokenizer, model, prompt, s.text_without)[0] for s in ends], scale=score_scale)
    assert result.sentences[-1].effect == 0 and result.prefixes[-2].score == result.score


# Both sides are cut with the longer prompts; the response is the longer side with the first, not the second.
@pytest.mark.parametrize("prompt", ["Short prompt?", "Why? " * 300, "Why? " * 400], ids=["short", "long", "longer"])
def test_skipping_texts_past_the_cut_changes_no_score(tiny_model, score_scale, monkeypatch, prompt):
    response = " ".join(f"Point {i}: plants use sunlight." for i in range(60))
    fast = explain(tiny_model, prompt, response)
    monkeypatch.setattr(explain_module, "_stand_ins", lambda *args: None)  # tokenize and score every text in full
    slow = explain(tiny_model, prompt, response)
    assert_scores_close([s.score_without for s in fast.sentences], [s.score_without for s in slow.sentences],
                        scale=score_scale)
    assert_scores_close([p.score for p in fast.prefixes], [p.score for p in slow.prefixes], scale=score_scale)


# -- one batched call, and the API shape ------------------------------------------------------------

@pytest.mark.parametrize("response", [ANSWER, SENTENCE * 40])
def test_everything_is_scored_in_one_call(tiny_model, monkeypatch, response):
    calls = []
    score_pairs = tiny_model.score_pairs

    def counting(prompts, responses, **kwargs):
        calls.append(len(responses))
        assert len(set(responses)) == len(responses)  # deduplicated
        return score_pairs(prompts, responses, **kwargs)

    monkeypatch.setitem(vars(tiny_model), "score_pairs", counting)  # on this instance only, removed after
    result = explain(tiny_model, PROMPT, response)
    assert len(calls) == 1 and calls[0] <= 2 * len(result.sentences)


def test_as_dict_shape(tiny_model):
    data = explain(tiny_model, PROMPT, ANSWER).as_dict()
    assert set(data) == {"score", "tokens", "dropped", "late_tokens", "sentences", "prefixes"}
    assert set(data["tokens"][0]) == {"token", "part", "position", "late"}
    assert set(data["dropped"]) == {"prompt", "response"}
    assert set(data["sentences"][0]) == {"text", "start", "end", "text_without", "score_without", "effect"}
    assert set(data["prefixes"][0]) == {"sentences", "text", "score"}
    assert json.loads(json.dumps(data)) == data


def test_importing_stays_light():
    code = ("import sys, reward.insight.explain, reward.insight.attribution; "
            "print(sorted(m for m in ('torch', 'captum', 'transformers', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
