"""Check a scoring request against the documented limits before any work is done.

Every message says what to change. The page shows it as an error and keeps what
was typed; the API returns it as the error text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reward.config import FLIP_UNITS, Settings


class InvalidRequest(ValueError):
    """The request breaks a rule; ``str(err)`` tells the user what to change.

    ``field`` names the input at fault, "prompt" or "responses", and ``index`` the
    response's position in the caller's list when one response is at fault, so that
    a page can show the message next to the box to fix.
    """

    def __init__(self, message: str, field: str = "responses", index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.index = index


@dataclass(frozen=True)
class ScoringRequest:
    """A prompt and its non-blank responses, with each one's place in the caller's list."""

    prompt: str
    responses: list[str]
    indices: list[int]


def check_request(prompt: object, responses: object, settings: Settings) -> ScoringRequest:
    """Validate a prompt and its candidate responses; blank responses are dropped.

    Every item sent counts against ``settings.max_responses``, blank ones too: the
    limit is on what a request carries, not on what is left to score.

    Raises:
        InvalidRequest: with a message that names the problem and what to change.
    """
    check_prompt(prompt, settings)
    if isinstance(responses, str) or not isinstance(responses, Sequence):
        raise InvalidRequest(f"The responses must be a list of texts, one per candidate response, not "
                             f"{json_kind(responses)}.")
    if len(responses) > settings.max_responses:
        # Counted before looking at any item, so an absurd list costs nothing more.
        raise InvalidRequest(f"{len(responses):,} responses were sent; the limit is {settings.max_responses} per "
                             "request, blank ones included. Remove some, or split them into several requests.")
    kept: list[str] = []
    indices: list[int] = []
    for i, text in enumerate(responses):
        _check_response_text(text, f"Response {i + 1}", i, settings)
        if text.strip():
            kept.append(text)
            indices.append(i)
    if not kept:
        raise InvalidRequest("Every response is blank: write at least one candidate response to score.")
    return ScoringRequest(prompt=prompt, responses=kept, indices=indices)


def check_response(prompt: object, response: object, settings: Settings) -> ScoringRequest:
    """Validate a prompt and the one response an endpoint looks into (``/explain``, ``/attribute``, ``/probe``).

    The limits of :func:`check_request`, in words for one response ("The response ..."), which is
    refused when blank: there is nothing to look into.

    Raises:
        InvalidRequest: with a message that names the problem and what to change.
    """
    check_prompt(prompt, settings)
    _check_response_text(response, "The response", 0, settings)
    if not response.strip():
        raise InvalidRequest("The response is blank: send the text of the response to look into.", index=0)
    return ScoringRequest(prompt=prompt, responses=[response], indices=[0])


def check_two(prompt: object, first: object, second: object, settings: Settings,
              names: tuple[str, str] = ("Response A", "Response B")) -> ScoringRequest:
    """Validate a prompt and the two responses an endpoint compares (``/contrast``, ``/whatif``, ``/flip``).

    The limits of :func:`check_request`, in its words with each response called by its ``names``; neither
    may be blank (there would be nothing to compare). ``index`` is 0 or 1.

    Raises:
        InvalidRequest: with a message that names the problem and what to change.
    """
    check_prompt(prompt, settings)
    for i, (text, name) in enumerate(zip((first, second), names)):
        _check_response_text(text, name, i, settings)
    for i, (text, name) in enumerate(zip((first, second), names)):
        if not text.strip():
            raise InvalidRequest(f"{name} is blank: write the text to compare.", index=i)
    return ScoringRequest(prompt=prompt, responses=[first, second], indices=[0, 1])


def check_unit(unit: object) -> str:
    """The unit a flip search takes out (:data:`reward.config.FLIP_UNITS`).

    Raises:
        InvalidRequest: on the ``unit`` field, saying which units there are.
    """
    if not isinstance(unit, str) or unit not in FLIP_UNITS:
        raise InvalidRequest(f"The unit must be {' or '.join(map(repr, FLIP_UNITS))} (what the search takes out of "
                             "A).", "unit")
    return unit


def check_prompt(prompt: object, settings: Settings) -> None:
    """The prompt's share of the limits: text, not blank, not too long, whole characters."""
    if not isinstance(prompt, str):
        raise InvalidRequest(f"The prompt must be text, not {json_kind(prompt)}.", "prompt")
    if not prompt.strip():
        raise InvalidRequest("The prompt is empty: type the question or instruction the responses answer.",
                             "prompt")
    if len(prompt) > settings.max_chars:
        raise InvalidRequest(f"The prompt is {len(prompt):,} characters long; the limit is {settings.max_chars:,}. "
                             "Shorten it (the model reads only the first "
                             f"{settings.max_length} tokens of a pair anyway).", "prompt")
    check_characters(prompt, "The prompt", "prompt")


def _check_response_text(text: object, what: str, index: int, settings: Settings) -> None:
    """One response's share of the limits; ``what`` names it in messages ("Response 2", "The response")."""
    if not isinstance(text, str):
        raise InvalidRequest(f"{what} must be text, not {json_kind(text)}.", index=index)
    if len(text) > settings.max_chars:
        raise InvalidRequest(f"{what} is {len(text):,} characters long; the limit is {settings.max_chars:,}. "
                             "Shorten it.", index=index)
    check_characters(text, what, "responses", index)


def json_kind(value: object) -> str:
    """What a value is, in the words of JSON (what every caller sends), never its repr: "a number", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def check_characters(text: str, what: str, field: str, index: int | None = None) -> None:
    """Refuse text that is not valid Unicode: a lone UTF-16 surrogate (U+D800 to U+DFFF).

    JSON lets a request carry one (``"\\ud800"``) and Python keeps it in a str, but it
    is half of a character: no tokenizer can read it and it cannot be written out
    as UTF-8. The message names the position and never repeats the text itself.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidRequest(
            f"{what} has a broken character at position {err.start + 1:,} (U+{ord(text[err.start]):04X}, half of "
            "a UTF-16 surrogate pair, which is not text on its own). Delete it, or paste the text again from its "
            "source; it usually comes from an emoji or other character cut in half.", field, index) from None


def check_steps(steps: object) -> int:
    """Integrated-gradient steps for one attribution: a whole number from 1 to ``MAX_ATTRIBUTION_STEPS``.

    Raises:
        InvalidRequest: with the range to pick from.
    """
    from reward.config import MAX_ATTRIBUTION_STEPS  # only the attribution feature needs it

    whole = isinstance(steps, int) or (isinstance(steps, float) and steps.is_integer())
    if isinstance(steps, bool) or not whole or not 1 <= steps <= MAX_ATTRIBUTION_STEPS:
        raise InvalidRequest(f"The steps must be a whole number from 1 to {MAX_ATTRIBUTION_STEPS}, not "
                             f"{_number_or_kind(steps)}: each step is a forward and a backward pass.", "steps")
    return int(steps)


def _number_or_kind(value: object) -> str:
    """A number as JSON writes it (NaN and Infinity as JavaScript spells them), anything else by its kind."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json_kind(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return shown if len(shown) <= 20 else "a number that large"
