"""Request limits: every refusal says what to change."""

import pytest

from reward.config import Settings
from reward.requests import InvalidRequest, check_request

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


def test_blanks_do_not_count_against_the_limit():
    req = check_request("Why?", ["a", "", "b", "", "c", "d"], S)
    assert len(req.responses) == 4


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
    ],
)
def test_a_refusal_names_the_input_at_fault(prompt, responses, field, index):
    """So that the page can put the message on the box to fix."""
    with pytest.raises(InvalidRequest) as err:
        check_request(prompt, responses, S)
    assert (err.value.field, err.value.index) == (field, index)
