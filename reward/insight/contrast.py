"""Why A over B: the two responses side by side, an edit of one scored again, and the smallest cut that flips them.

* :func:`contrast` scores A and B, gives the margin and the model-implied chance that A is preferred
  (``sigmoid(score_a - score_b)``, Bradley-Terry, as the win matrix), the word diff of the two texts, and each
  side's integrated-gradients attribution summed into words (:mod:`reward.insight.words`).
* :func:`whatif` scores a response and an edited copy of it, with the change and the word diff.
* :func:`flip` looks for a small set of A's sentences (or words) whose removal turns the verdict between A and B
  (A above B: A's score falls to B's or below; A not above B: A's rises above B's). It is greedy by effect: it
  scores A without each part (its effect), then takes out the parts that move A towards the flip, furthest first,
  scoring the text again after each removal, until the verdict turns. For an answer of more than
  ``FLIP_WORD_CANDIDATES`` words, only that many words are tried: those whose integrated-gradients values (summed
  into the word) push hardest the right way. A flip found is then made smaller: each part taken out is put back,
  in turn, if the verdict stays flipped without its removal. At most ``max_passes`` distinct texts are scored
  (``FLIP_MAX_PASSES``), and the answer says when no flip was found within them.

Every score reported is the score of the text it names, through ``RewardModel.score_pairs`` (and the model's cache
of scored pairs): the model card's code on that text gives the same number.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from reward.config import FLIP_MAX_PARTS, FLIP_MAX_PASSES, FLIP_UNITS, FLIP_WORD_CANDIDATES

from .explain import parts_of, split_sentences
from .ranking import sigmoid
from .words import Word, word_diff

UNITS = FLIP_UNITS


@dataclass(frozen=True)
class Contrast:
    """Two responses to one prompt, compared."""

    score_a: float
    score_b: float
    diff: list[dict]
    words_a: list[Word]
    words_b: list[Word]
    completeness_gap_a: float
    completeness_gap_b: float
    steps_a: int
    steps_b: int

    @property
    def margin(self) -> float:
        return self.score_a - self.score_b

    @property
    def chance_a(self) -> float:
        """The model-implied chance that A is preferred to B: ``sigmoid(score_a - score_b)``."""
        return sigmoid(self.margin)

    def as_dict(self) -> dict:
        """JSON-ready: ``score_a``, ``score_b``, ``margin``, ``chance_a``, ``diff`` ([{op, a, b}]), ``words_a`` and
        ``words_b`` ([{word, part, start, end, value, tokens, read}], the prompt's words marked ``part: "prompt"``),
        ``completeness_gap_a``/``_b`` and the integrated-gradient ``steps_a``/``_b`` they come from."""
        return {"score_a": self.score_a, "score_b": self.score_b, "margin": self.margin, "chance_a": self.chance_a,
                "diff": self.diff, "words_a": [w.as_dict() for w in self.words_a],
                "words_b": [w.as_dict() for w in self.words_b], "completeness_gap_a": self.completeness_gap_a,
                "completeness_gap_b": self.completeness_gap_b, "steps_a": self.steps_a, "steps_b": self.steps_b}


@dataclass(frozen=True)
class WhatIf:
    """A response and an edited copy of it, both scored."""

    score: float
    edited_score: float
    diff: list[dict]

    @property
    def change(self) -> float:
        return self.edited_score - self.score

    def as_dict(self) -> dict:
        """JSON-ready: ``score``, ``edited_score``, ``change`` (edited minus original) and ``diff`` ([{op, a, b}])."""
        return {"score": self.score, "edited_score": self.edited_score, "change": self.change, "diff": self.diff}


@dataclass(frozen=True)
class Removed:
    """A part of A taken out: ``response_a[start:end]``."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Flip:
    """The search for the smallest cut of A that turns the verdict between A and B."""

    flipped: bool
    unit: str
    removed: list[Removed]
    """The parts taken out, in the order they stand in A."""
    text: str
    """A without the removed parts: exactly the text ``score`` belongs to."""
    score: float
    score_a: float
    """A's own score, before any cut."""
    score_b: float
    passes: int
    """Distinct texts this search scored (A and B included): one forward pass each at most."""
    max_passes: int
    parts: int
    """The parts A was split into (sentences or words, or runs of them for a long response: see ``grouped``)."""
    grouped: bool
    reason: str
    """"flipped", "no parts" (fewer than two parts: nothing can go while something stays), "exhausted" (every
    part tried that moves A the right way was taken out) or "budget" (``max_passes`` were spent)."""
    tried: int = 0
    """The parts whose removal was tried (all of them, or for many words the strongest ``FLIP_WORD_CANDIDATES``)."""
    attribution_steps: int = 0
    """The integrated-gradient steps that picked those words (0 when every part was tried)."""

    @property
    def goal(self) -> str:
        """"down" when A starts above B (the flip brings A to B's score or below), "up" otherwise."""
        return "down" if self.score_a > self.score_b else "up"

    def as_dict(self) -> dict:
        """JSON-ready: ``flipped``, ``unit``, ``removed`` ([{text, start, end}]), ``text``, ``score`` (of ``text``),
        ``score_a``, ``score_b``, ``goal``, ``passes``, ``max_passes``, ``parts``, ``grouped``, ``reason``,
        ``tried`` and ``attribution_steps``."""
        out = asdict(self)
        out["removed"] = [asdict(r) for r in self.removed]
        out["goal"] = self.goal
        return out


def contrast(model, prompt: str, response_a: str, response_b: str, steps: int | None = None) -> Contrast:
    """Compare two responses to ``prompt``: scores, margin, chance, word diff and word-level attributions.

    ``steps`` as :func:`reward.insight.attribution.attribute` (None: as few as make the gap small)."""
    from .attribution import attribute

    score_a, score_b = (s.score for s in model.score_pairs([prompt, prompt], [response_a, response_b]))
    at_a, at_b = (attribute(model, prompt, response, steps=steps) for response in (response_a, response_b))
    return Contrast(score_a, score_b, word_diff(response_a, response_b), at_a.words or [], at_b.words or [],
                    at_a.completeness_gap, at_b.completeness_gap, at_a.steps, at_b.steps)


def whatif(model, prompt: str, response: str, edited: str) -> WhatIf:
    """Score ``response`` and its ``edited`` copy to ``prompt``, with the word diff from one to the other."""
    original, changed = (s.score for s in model.score_pairs([prompt, prompt], [response, edited]))
    return WhatIf(original, changed, word_diff(response, edited))


def flip_parts(text: str, unit: str, most: int = FLIP_MAX_PARTS) -> tuple[list[tuple[int, int]], bool]:
    """The spans :func:`flip` may take out of ``text``, tiling it, and whether they are runs of adjacent units
    (a text of more than ``most`` sentences or words)."""
    if unit == "sentence":
        spans = split_sentences(text)
    else:
        spans = [m.span() for m in re.finditer(r"\S+\s*", text)]
        if spans:
            spans[0] = (0, spans[0][1])
    if len(spans) <= most:
        return spans, False
    return [(s, e) for s, e, _, _ in parts_of(spans, most)], True


def flip(model, prompt: str, response_a: str, response_b: str, unit: str = "sentence",
         max_passes: int = FLIP_MAX_PASSES, candidates: int = FLIP_WORD_CANDIDATES) -> Flip:
    """The smallest set of ``unit``\\ s of A this greedy search finds whose removal turns the verdict against B
    (see the module's description). With more than ``candidates`` words, only the ``candidates`` words whose
    integrated-gradients values push A's score hardest towards the flip are tried.

    Raises:
        ValueError: ``unit`` is not one of :data:`UNITS`, or ``max_passes`` is below 2.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if max_passes < 2:
        raise ValueError("a flip needs at least 2 passes: A and B")
    memo: dict[str, float] = {}

    def scores(texts: list[str]) -> list[float]:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if new:
            memo.update(zip(new, (s.score for s in model.score_pairs([prompt] * len(new), new))))
        return [memo[t] for t in texts]

    score_a, score_b = scores([response_a, response_b])
    down = score_a > score_b

    def flipped(score: float) -> bool:
        return score <= score_b if down else score > score_b

    def toward(score: float) -> float:
        """How far a score has moved A towards the flip (bigger is further)."""
        return -score if down else score

    spans, grouped = flip_parts(response_a, unit)
    removed: list[int] = []
    tried = list(range(len(spans)))
    steps = 0
    if unit == "word" and len(spans) > candidates:
        tried, steps = _strongest_words(model, prompt, response_a, spans, candidates, down)

    def without(parts: list[int]) -> str:
        gone = set(parts)
        return "".join(response_a[s:e] for k, (s, e) in enumerate(spans) if k not in gone)

    def result(reason: str) -> Flip:
        text = without(removed)
        return Flip(reason == "flipped", unit, [Removed(response_a[spans[k][0]:spans[k][1]], *spans[k])
                                                for k in sorted(removed)], text, memo[text], score_a, score_b,
                    len(memo), max_passes, len(spans), grouped, reason, len(tried), steps)

    if len(spans) < 2:
        return result("no parts")
    # One round: A without each part tried; the parts that move A towards the flip, furthest first.
    budget = max_passes - len(memo)
    trial = scores([without([k]) for k in tried[:budget]])
    order = [k for s, k in sorted(zip(trial, tried), key=lambda pair: toward(pair[0]), reverse=True)
             if toward(s) > toward(score_a)]
    current = score_a
    # Take them out in that order, A scored again after each removal, until the verdict turns.
    while not flipped(current):
        if not order or len(removed) + 2 > len(spans):
            return result("budget" if len(tried) > budget else "exhausted")
        if len(memo) >= max_passes and without(removed + order[:1]) not in memo:
            return result("budget")
        removed.append(order.pop(0))
        current = scores([without(removed)])[0]
    # Smaller: put back each part taken out, latest first, while the verdict stays flipped without it.
    for k in list(reversed(removed)):
        kept = [r for r in removed if r != k]
        if not kept:
            continue
        text = without(kept)
        if text not in memo and len(memo) >= max_passes:
            break
        if flipped(scores([text])[0]):
            removed = kept
    return result("flipped")


def _strongest_words(model, prompt: str, response: str, spans: list[tuple[int, int]], most: int,
                     down: bool) -> tuple[list[int], int]:
    """The ``most`` word spans whose integrated-gradients values (the response's words' values summed within each
    span) push A's score hardest towards the flip (down: the most positive), and the steps the attribution took."""
    from bisect import bisect_right

    from .attribution import attribute

    attribution = attribute(model, prompt, response)
    starts = [s for s, _ in spans]
    values = [0.0] * len(spans)
    for w in attribution.words or []:
        if w.part == "response" and w.read:
            values[max(0, bisect_right(starts, w.start) - 1)] += w.value
    ranked = sorted(range(len(spans)), key=lambda k: values[k] if down else -values[k], reverse=True)
    return sorted(ranked[:most]), attribution.steps
