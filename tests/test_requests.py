"""Request limits: every refusal says what to change."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.config import Settings
from reward.model.requests import InvalidRequest, check_request, check_response, check_steps, json_kind

S = Settings(max_responses=4, max_chars=100)


def test_blank_responses_are_dropped_and_positions_kept():
    req = check_request("Why?", ["", "a", "  \n", "b"], S)
    assert req.responses == ["a", "b"] and req.indices == [1, 3]


@pytest.mark.parametrize(
    "prompt, responses, message",
    [
        ("", ["a"], "prompt is empty"),
        ("  \n\t", ["a"], "prompt is empty"),
        ("Why?", [], "Every response is blank"),
        ("Why?", ["", " "], "Every response is blank"),
        ("Why?", ["a"] * 5, "limit is 4"),
        ("Why?", ["a"] * 50, "limit is 4"),
        ("Why?", ["a", "", "", "", ""], "limit is 4"),
        ("x" * 101, ["a"], "limit is 100"),
        ("Why?", ["a", "y" * 101], "Response 2 is 101 characters"),
        (None, ["a"], "prompt must be text"),
        ("Why?", "just one string", "list of texts"),
        ("Why?", ["a", 3], "Response 2 must be text"),
    ],
)
def test_bad_requests_say_what_to_change(prompt, responses, message):
    with pytest.raises(InvalidRequest, match=message):
        check_request(prompt, responses, S)


def test_blanks_count_against_the_limit_like_every_item_sent():
    """The limit is on what a request carries: README says more than the limit is refused, blank or not."""
    assert len(check_request("Why?", ["a", "", "b", ""], S).responses) == 2  # 4 items: at the limit
    with pytest.raises(InvalidRequest, match="6 responses were sent; the limit is 4 per request, blank ones incl"):
        check_request("Why?", ["a", "", "b", "", "c", "d"], S)
    with pytest.raises(InvalidRequest, match="5 responses were sent"):
        check_request("Why?", ["", "", "", "", ""], S)  # the count comes before "every response is blank"


def test_the_count_is_checked_before_any_item_is_looked_at():
    with pytest.raises(InvalidRequest, match="5 responses were sent") as err:
        check_request("Why?", [None, 3, "y" * 10_000, "\ud800", ""], S)
    assert (err.value.field, err.value.index) == ("responses", None)


@pytest.mark.parametrize(
    "prompt, responses, field, index, where",
    [
        ("a\ud800b", ["ok"], "prompt", None, "The prompt has a broken character at position 2 (U+D800"),
        ("\udfff", ["ok"], "prompt", None, "The prompt has a broken character at position 1 (U+DFFF"),
        ("Why?", ["ok", "", "x\udc00"], "responses", 2, "Response 3 has a broken character at position 2 (U+DC00"),
        ("Why?", ["🙂 fine", "half \ud83d"], "responses", 1, "Response 2 has a broken character at position 6"),
        ("Why?", ["\ude42"], "responses", 0, "Response 1 has a broken character"),
        ("Why?", ["\ude42\ud83d"], "responses", 0, "position 1"),  # a pair in the wrong order is two halves
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field_and_what_to_do(prompt, responses, field, index, where):
    """JSON's "\\ud800" escape arrives as a lone surrogate in a str: half a character no tokenizer can read."""
    with pytest.raises(InvalidRequest) as err:
        check_request(prompt, responses, S)
    message = str(err.value)
    assert where in message and "Delete it" in message
    assert (err.value.field, err.value.index) == (field, index)
    message.encode("utf-8")  # the message itself never carries the broken character back


def test_whole_characters_outside_the_basic_plane_pass():
    """A surrogate PAIR sent as JSON escapes arrives as one whole character; only halves are refused."""
    import json

    prompt, responses = json.loads('["Why \\ud83d\\ude42?", ["\\ud83d\\ude42", "\\u00e9t\\u00e9"]]')
    assert prompt == "Why 🙂?" and responses == ["🙂", "été"]
    assert check_request(prompt, responses, S).responses == ["🙂", "été"]


# Every code point, surrogates included (Hypothesis leaves them out by default); often one of the nasty ones.
ANY_TEXT = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from("\ud800\udbff\udc00\udfff a🙂")),
                   max_size=40)


@given(prompt=ANY_TEXT, responses=st.lists(ANY_TEXT, max_size=6))
def test_whatever_is_accepted_can_be_written_as_utf8(prompt, responses):
    """Any code point, surrogates included: a request is refused with its reason, or all of it is real text."""
    try:
        req = check_request(prompt, responses, S)
    except InvalidRequest as err:
        str(err).encode("utf-8")
        return
    for text in [req.prompt, *req.responses]:
        text.encode("utf-8")


@pytest.mark.parametrize(
    "prompt, responses, field, index",
    [
        ("", ["a"], "prompt", None),
        ("x" * 101, ["a"], "prompt", None),
        (None, ["a"], "prompt", None),
        ("Why?", ["a", "y" * 101], "responses", 1),
        ("Why?", ["", "", 3], "responses", 2),
        ("Why?", ["a"] * 5, "responses", None),
        ("Why?", ["", " "], "responses", None),
        ("Why?", ["", "", "", "", ""], "responses", None),
        ("a\ud800", ["a"], "prompt", None),
        ("Why?", ["a", "b\ud800"], "responses", 1),
    ],
)
def test_a_refusal_names_the_input_at_fault(prompt, responses, field, index):
    """So that the page can put the message on the box to fix."""
    with pytest.raises(InvalidRequest) as err:
        check_request(prompt, responses, S)
    assert (err.value.field, err.value.index) == (field, index)


@pytest.mark.parametrize("steps", [1, 32, 256, 64.0])
def test_attribution_steps_in_range_pass(steps):
    assert check_steps(steps) == int(steps)


@pytest.mark.parametrize("steps", [0, -1, 257, 2.5, float("nan"), True, "32", None, "\ud800"])
def test_attribution_steps_out_of_range_say_the_range(steps):
    with pytest.raises(InvalidRequest, match="whole number from 1 to 256") as err:
        check_steps(steps)
    assert err.value.field == "steps"
    str(err.value).encode("utf-8")


# -- one response (/explain, /attribute, /probe): the same limits, in words for the one response -------------

@pytest.mark.parametrize(
    "prompt, response, field, message",
    [
        ("Why?", 5, "responses", "The response must be text, not a number."),
        ("Why?", None, "responses", "The response must be text, not null."),
        ("Why?", ["a"], "responses", "The response must be text, not a list."),
        ("Why?", {"text": "a"}, "responses", "The response must be text, not an object."),
        ("Why?", True, "responses", "The response must be text, not true."),
        ("Why?", "", "responses", "The response is blank: send the text of the response to look into."),
        ("Why?", " \n\t", "responses", "The response is blank"),
        ("Why?", "y" * 101, "responses", "The response is 101 characters long; the limit is 100. Shorten it."),
        ("Why?", "half \ud83d", "responses", "The response has a broken character at position 6 (U+D83D"),
        ("", "fine", "prompt", "The prompt is empty"),
        (3.5, "fine", "prompt", "The prompt must be text, not a number."),
    ],
)
def test_a_single_response_is_refused_as_the_response(prompt, response, field, message):
    with pytest.raises(InvalidRequest) as err:
        check_response(prompt, response, S)
    said = str(err.value)
    assert said.startswith(message)
    assert "Response 1" not in said and "very response" not in said and "0x" not in said
    assert err.value.field == field and err.value.index == (None if field == "prompt" else 0)


def test_a_single_response_passes_as_the_requests_do():
    assert check_response("Why?", "Because. 🙂", S) == check_request("Why?", ["Because. 🙂"], S)


@given(prompt=ANY_TEXT, response=ANY_TEXT)
def test_one_response_is_refused_exactly_when_a_list_of_it_is(prompt, response):
    """Only the words differ: the limits of check_request, for a list of one, on the same input."""
    refused = []
    for check in (lambda: check_response(prompt, response, S), lambda: check_request(prompt, [response], S)):
        try:
            check()
            refused.append(None)
        except InvalidRequest as err:
            refused.append(err.field)
    assert refused[0] == refused[1]


@pytest.mark.parametrize("steps, shown", [(float("nan"), "not NaN"), (float("inf"), "not Infinity"),
                                          (float("-inf"), "not -Infinity"), (2.5, "not 2.5"), (0, "not 0"),
                                          ("32", "not text"), (None, "not null"), (False, "not false"),
                                          (10 ** 40, "not a number that large"), ([1], "not a list")])
def test_steps_refusals_name_the_value_as_json_would(steps, shown):
    with pytest.raises(InvalidRequest) as err:
        check_steps(steps)
    assert f"from 1 to 256, {shown}:" in str(err.value)


@pytest.mark.parametrize("value, kind", [(None, "null"), (True, "true"), (0, "a number"), (1.5, "a number"),
                                         ("x", "text"), ([], "a list"), ((1,), "a list"), ({}, "an object"),
                                         (object(), "a value of another kind")])
def test_json_kind_never_shows_a_repr(value, kind):
    assert json_kind(value) == kind
