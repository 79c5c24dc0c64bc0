"""Share links: a comparison survives the trip through a link exactly, and a bad link is a clear message."""

import base64
import json
import math
import zlib
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.config import MAX_LINK_CHARS, Settings
from reward.model.requests import check_request
from ui.compare.share import (
    MAX_TOKEN_CHARS,
    SharedComparison,
    ShareProblem,
    decode,
    encode,
    opened_link,
    restored_note,
)

LIMITS = dict(max_responses=16, max_chars=20_000)


def pack(payload) -> str:
    """A link value made by hand, as another program (or a tamperer) would."""
    data = json.dumps(payload).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(data)).decode("ascii").rstrip("=")


def pack_text(text: str) -> str:
    """A link value around JSON text written by hand: what json.dumps cannot write (a key twice, NaN, nesting)."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii").rstrip("=")


def comparison(**changes) -> SharedComparison:
    fields = dict(prompt="What is the capital of Australia?",
                  responses=["Canberra.", "", "Sydney, the largest city."], scores=[1.25, None, -0.5], model="tiny")
    fields.update(changes)
    return SharedComparison(**fields)


@given(prompt=st.text(min_size=1, max_size=300), responses=st.lists(st.text(max_size=200), min_size=1, max_size=16),
       data=st.data())
def test_any_comparison_comes_back_exactly(prompt, responses, data):
    # As the page makes them: every box that is not blank may have a score (None when it was not a number).
    scores = [data.draw(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))) if r.strip() else None
              for r in responses]
    shared = comparison(prompt=prompt, responses=responses, scores=scores)
    back = decode(encode(shared), **LIMITS)
    assert back.prompt == prompt and back.responses == responses and back.model == "tiny"
    assert [s is None for s in back.scores] == [s is None for s in scores]
    assert back.scores == scores  # exactly: JSON keeps every digit of a float


def test_the_link_value_is_url_safe_and_compact():
    token = encode(comparison(responses=["The same sentence again. " * 200]))
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token) < len("The same sentence again. " * 200) / 10  # repetitive text compresses


def test_a_comparison_too_long_for_a_link_is_refused_with_what_to_shorten():
    import random

    rng = random.Random(0)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(12_000))
    with pytest.raises(ShareProblem, match=f"under {MAX_LINK_CHARS:,}.*Shorten the prompt or the responses"):
        encode(comparison(responses=[noise]))


def test_ranking_is_by_score_with_blank_boxes_left_out_and_ties_in_box_order():
    shared = comparison(responses=["a", "b", "", "c", "d"], scores=[0.5, 2.0, None, 0.5, -1.0])
    assert shared.ranking() == [1, 0, 3, 4]


@pytest.mark.parametrize("token", [
    "", "%%%not-base64%%%", "QUJD",  # base64 of "ABC": not compressed data
    pack({"v": 1, "p": "x", "r": ["a"], "m": "tiny", "s": [1.0]})[:-6],  # cut short
    pack(["a", "list"]), pack({"v": 2, "p": "x", "r": ["a"], "m": "tiny", "s": [1.0]}),  # not ours / newer
    pack({"v": 1, "p": "x", "r": ["a", "b"], "m": "tiny", "s": [1.0]}),  # scores and responses disagree
    pack({"v": 1, "p": 3, "r": ["a"], "m": "tiny", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": [None], "m": "tiny", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "tiny", "s": [True]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "tiny", "s": [float("nan")]}),
    pack({"v": 1, "p": "x", "r": [], "m": "tiny", "s": []}),
    "A" * (MAX_TOKEN_CHARS + 1),
    # texts no page can show, and model names that could turn the note's Markdown into links or images
    pack({"v": 1, "p": "x\ud800", "r": ["a"], "m": "tiny", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a", "\udfff b"], "m": "tiny", "s": [1.0, 0.5]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "x` [click](https://example.com/) `", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "![img](https://example.com/i.png)", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "two\nlines", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "<img src=x>", "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "m" * 201, "s": [1.0]}),
    pack({"v": 1, "p": "x", "r": ["a"], "m": "", "s": [1.0]}),
])
def test_a_damaged_or_foreign_link_says_so_and_what_to_do(token):
    with pytest.raises(ShareProblem, match="damaged or cut short.*Ask for the link again"):
        decode(token, **LIMITS)


def test_a_small_link_that_expands_hugely_is_stopped_early():
    bomb = base64.urlsafe_b64encode(zlib.compress(b'{"v":1,"p":"' + b"a" * 5_000_000 + b'"}', 9)).decode().rstrip("=")
    assert len(bomb) <= MAX_TOKEN_CHARS
    with pytest.raises(ShareProblem, match="damaged"):
        decode(bomb, **LIMITS)


def test_a_link_over_this_pages_limits_names_the_limit():
    many = encode(comparison(responses=["r"] * 5, scores=[0.0] * 5))
    with pytest.raises(ShareProblem, match="holds 5 responses; this page takes up to 4"):
        decode(many, max_responses=4, max_chars=100)
    long = encode(comparison(prompt="p" * 150))
    with pytest.raises(ShareProblem, match="text of 150 characters; this page takes up to 100"):
        decode(long, max_responses=4, max_chars=100)


def test_the_note_says_whether_the_ranking_is_the_same():
    shared = comparison()
    assert "the same ranking" in restored_note(shared, [0, 2], "tiny")
    note = restored_note(shared, [2, 0], "other")
    assert "ranking differs" in note and "Response 1 > Response 3" in note and "made with `tiny`" in note


@pytest.mark.parametrize("name, shown", [("nicholasKluge/RewardModel", "nicholasKluge/RewardModel"),
                                         ("my model (copy)", "my model -copy-"), ("a`b\nc", "a-b-c")])
def test_any_model_name_makes_a_link_that_opens_with_a_name_safe_to_show(name, shown):
    back = decode(encode(comparison(model=name)), **LIMITS)
    assert back.model == shown
    assert f"`{shown}`" in restored_note(back, back.ranking(), "another")


GOOD = '"v":1,"p":"Why?","r":["Because.","No."],"m":"tiny","s":[1.5,-0.5]'
"""A valid payload's members, for the hand-written damaged ones below to change."""

DAMAGED_JSON = {
    "score-too-large-for-a-float": GOOD.replace("1.5", "1" + "0" * 400),
    "score-of-thousands-of-digits": GOOD.replace("1.5", "9" * 5000),
    "score-1e400": GOOD.replace("1.5", "1e400"),
    "score-NaN": GOOD.replace("1.5", "NaN"),
    "score-Infinity": GOOD.replace("1.5", "Infinity"),
    "score--Infinity": GOOD.replace("1.5", "-Infinity"),
    "score-as-text": GOOD.replace("1.5", '"1.5"'),
    "score-as-list": GOOD.replace("1.5", "[1.5]"),
    "scores-as-object": GOOD.replace("[1.5,-0.5]", '{"0":1.5,"1":-0.5}'),
    "score-for-a-blank-box": GOOD.replace('"No."', '"  "'),
    "deeply-nested-arrays": GOOD.replace("[1.5,-0.5]", "[" * 100_000 + "]" * 100_000),
    "deeply-nested-objects": GOOD.replace('"Why?"', '{"a":' * 50_000 + "1" + "}" * 50_000),
    "nested-in-a-response": GOOD.replace('"No."', "[" * 5_000 + '"No."' + "]" * 5_000),
    "key-twice": GOOD + ',"p":"Something else?"',
    "version-twice": GOOD + ',"v":1',
    "extra-key": GOOD + ',"x":"anything"',
    "missing-model": GOOD.replace(',"m":"tiny"', ""),
    "version-true": GOOD.replace('"v":1', '"v":true'),
    "version-1.0": GOOD.replace('"v":1', '"v":1.0'),
    "version-huge": GOOD.replace('"v":1', '"v":' + "1" * 400),
    "version-text": GOOD.replace('"v":1', '"v":"1"'),
    "prompt-as-list": GOOD.replace('"Why?"', '["Why?"]'),
    "prompt-null": GOOD.replace('"Why?"', "null"),
    "responses-as-text": GOOD.replace('["Because.","No."]', '"Because."').replace("[1.5,-0.5]", "[1.5]"),
    "response-as-number": GOOD.replace('"No."', "7"),
    "model-as-number": GOOD.replace('"tiny"', "7"),
    "model-with-a-control-character": GOOD.replace('"tiny"', '"ti\\u0000ny"'),
    "model-with-an-escape-sequence": GOOD.replace('"tiny"', '"\\u001b[31mtiny"'),
}


def wrap(members: str) -> str:
    return pack_text("{" + members + "}")


@pytest.mark.parametrize("members", DAMAGED_JSON.values(), ids=DAMAGED_JSON.keys())
def test_a_tampered_payload_is_refused_as_damaged(members):
    with pytest.raises(ShareProblem, match="damaged or cut short.*Ask for the link again"):
        decode(wrap(members), **LIMITS)


NOT_AN_OBJECT = {"null": "null", "true": "true", "number": "7", "text": '"text"', "list": "[]", "empty-object": "{}",
                 "deep-unclosed-list": "[" * 100_000, "deep-list": "[" * 100_000 + "]" * 100_000,
                 "huge-integer": "1" * 5000, "NaN": "NaN", "two-values": "{} {}"}


@pytest.mark.parametrize("text", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_json_that_is_not_an_object_is_refused_as_damaged(text):
    with pytest.raises(ShareProblem, match="damaged or cut short"):
        decode(pack_text(text), **LIMITS)


def test_the_valid_payload_the_damaged_ones_change_opens():
    """The damaged payloads above differ from this one only by their damage."""
    shared = decode(wrap(GOOD), **LIMITS)
    assert shared == SharedComparison("Why?", ["Because.", "No."], [1.5, -0.5], "tiny")


def test_whole_numbers_and_unscored_boxes_are_scores_another_program_may_write():
    shared = decode(wrap(GOOD.replace("[1.5,-0.5]", "[2,null]")), **LIMITS)
    assert shared.scores == [2.0, None] and type(shared.scores[0]) is float


def test_control_characters_typed_in_the_texts_come_back_exactly():
    texts = ["tab\there", "nul\x00and escape \x1b[31m", "line\u2028separator \x7f"]
    shared = comparison(prompt="bell\x07?", responses=texts, scores=[0.5, 0.25, -1.0])
    back = decode(encode(shared), **LIMITS)
    assert back.prompt == shared.prompt and back.responses == texts


def test_too_many_responses_says_the_limit_even_for_a_huge_list():
    blank = encode(comparison(responses=[""] * 20_000, scores=[None] * 20_000))
    with pytest.raises(ShareProblem, match="holds 20000 responses; this page takes up to 16"):
        decode(blank, **LIMITS)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("vprmsx"), inner, max_size=6),
    max_leaves=20)


def opens_or_says_damaged(token: str) -> SharedComparison | None:
    """decode's only outcomes: a comparison a page can show and score again, or a ShareProblem."""
    try:
        shared = decode(token, **LIMITS)
    except ShareProblem:
        return None
    assert isinstance(shared.prompt, str) and all(isinstance(r, str) for r in shared.responses)
    assert len(shared.scores) == len(shared.responses) <= LIMITS["max_responses"]
    assert all(s is None or (type(s) is float and math.isfinite(s)) for s in shared.scores)
    restored_note(shared, shared.ranking(), "tiny")
    return shared


@given(payload=JSON_VALUES)
def test_any_json_value_opens_or_is_refused(payload):
    opens_or_says_damaged(pack(payload))


@given(key=st.sampled_from("vprms"), value=JSON_VALUES)
def test_a_valid_payload_with_any_member_replaced_opens_or_is_refused(key, value):
    payload = {"v": 1, "p": "Why?", "r": ["Because.", "No."], "m": "tiny", "s": [1.5, -0.5], key: value}
    opens_or_says_damaged(pack(payload))


@given(token=st.text(max_size=200))
def test_any_text_as_a_link_value_opens_or_is_refused(token):
    opens_or_says_damaged(token)


def opening(token: str | None):
    """What the page does with an address carrying ``token`` (the page's own validator, default limits)."""
    request = SimpleNamespace(query_params={} if token is None else {"c": token})
    return opened_link(request, 16, 20_000, lambda p, r: check_request(p, r, Settings()))


@pytest.mark.parametrize("payload, reason", [
    ({"p": ""}, "The prompt is empty"),
    ({"p": " \n\t"}, "The prompt is empty"),
    ({"r": ["", "   "], "s": [None, None]}, "Every response is blank"),
], ids=["empty-prompt", "blank-prompt", "blank-responses"])
def test_a_link_the_page_could_not_score_is_not_opened_and_says_why(payload, reason):
    shared, note = opening(pack({"v": 1, "p": "Why?", "r": ["Because.", "No."], "m": "tiny", "s": [1.5, -0.5],
                                 **payload}))
    assert shared is None
    assert note.startswith("**The shared link could not be opened.**") and reason in note
    assert "Ask for the link again" in note


def test_a_good_link_opens_and_no_link_is_no_note():
    shared = comparison()
    assert opening(encode(shared)) == (shared, "")
    assert opening(None) == (None, "")
    assert opening("QUJD")[0] is None and "could not be opened" in opening("QUJD")[1]
