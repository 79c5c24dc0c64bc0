"""Share links: a comparison survives the trip through a link exactly, and a bad link is a clear message."""

import base64
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.config import MAX_LINK_CHARS
from ui.compare.share import (
    MAX_TOKEN_CHARS,
    SharedComparison,
    ShareProblem,
    decode,
    encode,
    restored_note,
)

LIMITS = dict(max_responses=16, max_chars=20_000)


def pack(payload) -> str:
    """A link value made by hand, as another program (or a tamperer) would."""
    data = json.dumps(payload).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(data)).decode("ascii").rstrip("=")


def comparison(**changes) -> SharedComparison:
    fields = dict(prompt="What is the capital of Australia?",
                  responses=["Canberra.", "", "Sydney, the largest city."], scores=[1.25, None, -0.5], model="tiny")
    fields.update(changes)
    return SharedComparison(**fields)


@given(prompt=st.text(min_size=1, max_size=300), responses=st.lists(st.text(max_size=200), min_size=1, max_size=16),
       data=st.data())
def test_any_comparison_comes_back_exactly(prompt, responses, data):
    scores = data.draw(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
                                min_size=len(responses), max_size=len(responses)))
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
