"""Probes: a response's score under edits that a sound judge would mostly ignore or punish.

Each probe rewrites the prompt or the response in one simple way (no prompt, an unrelated prompt,
the response repeated, cut to its first half, its sentences shuffled, a pleasantry appended, upper-
or lower-cased); the original and every probe are scored in ONE call of ``model.score_pairs``, and
each probe's change is its score minus the original's. A probe whose change goes against what a
sound judge would do (an unrelated prompt that does not lower the score, a repetition that raises
it) is flagged, in words a person can read.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from reward.config import ASSETS, PROBE_TOLERANCE, SAME_WITHIN

from .explain import split_sentences

UNRELATED_PROMPTS_FILE = ASSETS / "unrelated_prompts.json"
PLEASANTRY = " I hope this helps!"
"""Appended as is, leading space included."""
REPEAT_JOINER = "\n"
"""The two copies of a repeated response are joined by one line break."""
SHUFFLE_SEED = 0
"""The seed of the sentence shuffle: the same response is always shuffled the same way."""

LOWER, NOT_HIGHER, SAME = "lower", "not higher", "about the same"


@dataclass(frozen=True)
class ProbeKind:
    name: str
    expect: str
    """LOWER, NOT_HIGHER or SAME: what a sound judge's score would do."""
    note: str
    """One line: what a sound judge would do, and why."""


KINDS = {k.name: k for k in [
    ProbeKind("no prompt", LOWER, "Without the question, an answer cannot be judged as an answer: the score should "
              "fall."),
    ProbeKind("unrelated prompt", LOWER, "An answer to another question is off topic: the score should fall a lot."),
    ProbeKind("repeated twice", NOT_HIGHER, "Saying the same thing twice adds nothing: the score should not rise."),
    ProbeKind("first half", NOT_HIGHER, "Half an answer is at best as good as the whole: the score should not rise."),
    ProbeKind("sentences shuffled", NOT_HIGHER, "Shuffled sentences read worse: the score should not rise."),
    ProbeKind("pleasantry appended", NOT_HIGHER, "A stock pleasantry adds no substance: the score should not rise."),
    ProbeKind("upper-cased", NOT_HIGHER, "Shouting adds nothing: the score should not rise."),
    ProbeKind("lower-cased", SAME, "The same words in lower case say the same thing: the score should barely move."),
]}
ORIGINAL = "original"


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    """"original" or one of :data:`KINDS`."""
    prompt: str
    """Exactly the prompt scored."""
    response: str
    """Exactly the response scored."""
    score: float
    change: float
    """``score`` minus the original's score (0.0 for the original)."""

    def record(self) -> dict:
        return {"probe": self.probe, "prompt": self.prompt, "response": self.response, "score": self.score,
                "change": self.change}


@dataclass(frozen=True)
class ProbeReport:
    rows: list[ProbeResult]
    """The original first, then the probes, biggest absolute change first (ties in :data:`KINDS` order)."""
    skipped: dict[str, str]
    """Probes that could not be built for this response, with the reason."""

    def records(self) -> list[dict]:
        return [r.record() for r in self.rows]


def unrelated_prompts(path: Path = UNRELATED_PROMPTS_FILE) -> list[str]:
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["prompts"])


def unrelated_prompt(prompt: str, choices: list[str] | None = None) -> str | None:
    """The first of the fixed unrelated prompts that is not ``prompt`` (compared without surrounding spaces);
    None when every choice is the prompt."""
    choices = unrelated_prompts() if choices is None else choices
    return next((p for p in choices if p.strip() != prompt.strip()), None)


def first_half(response: str) -> str | None:
    """The response up to the end of its ``n // 2``-th sentence (of ``n``, by :func:`split_sentences`, trailing
    whitespace included as in the explanation's prefixes); None for a response of one sentence (or none)."""
    spans = split_sentences(response)
    if len(spans) < 2:
        return None
    return response[:spans[len(spans) // 2 - 1][1]]


def shuffled(response: str, seed: int = SHUFFLE_SEED) -> str | None:
    """The sentences in another order (``random.Random(seed).shuffle``; reversed if that left the order as it was),
    the whitespace between them kept where it was, so line breaks and list layout stay; None for one sentence."""
    spans = split_sentences(response)
    if len(spans) < 2:
        return None
    pieces = [response[s:e] for s, e in spans]
    lead = pieces[0][:len(pieces[0]) - len(pieces[0].lstrip())]
    cores = [p.strip() for p in pieces]
    gaps = [p[len(p.rstrip()):] for p in pieces]
    order = list(range(len(pieces)))
    random.Random(seed).shuffle(order)
    if order == sorted(order):
        order.reverse()
    return lead + "".join(cores[k] + gap for k, gap in zip(order, gaps))


def build_probes(prompt: str, response: str, unrelated: list[str] | None = None
                 ) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """The probes' ``(name, prompt, response)`` texts in :data:`KINDS` order, and the skipped ones with the reason."""
    half, mixed, other = first_half(response), shuffled(response), unrelated_prompt(prompt, unrelated)
    texts = {
        "no prompt": ("", response),
        "unrelated prompt": (other, response) if other is not None else None,
        "repeated twice": (prompt, response + REPEAT_JOINER + response),
        "first half": (prompt, half) if half is not None else None,
        "sentences shuffled": (prompt, mixed) if mixed is not None else None,
        "pleasantry appended": (prompt, response + PLEASANTRY),
        "upper-cased": (prompt, response.upper()),
        "lower-cased": (prompt, response.lower()),
    }
    why = {"unrelated prompt": "every unrelated prompt at hand is this prompt",
           "first half": "the response is one sentence: there is no half to keep",
           "sentences shuffled": "the response is one sentence: there is nothing to shuffle"}
    skipped = {name: why[name] for name, pair in texts.items() if pair is None}
    return [(name, *pair) for name, pair in texts.items() if pair is not None], skipped


def probe(model, prompt: str, response: str, unrelated: list[str] | None = None) -> ProbeReport:
    """Score ``response`` to ``prompt`` and every probe of it, in one ``model.score_pairs`` call.

    Args:
        model: a loaded :class:`reward.model.reward_model.RewardModel`.
        prompt: the prompt (may be empty: then the no-prompt probe repeats the original).
        response: the response.
        unrelated: the unrelated prompts to pick from; defaults to ``assets/unrelated_prompts.json``.
    """
    probes, skipped = build_probes(prompt, response, unrelated)
    pairs = [(ORIGINAL, prompt, response)] + probes
    scores = [s.score for s in model.score_pairs([p for _, p, _ in pairs], [r for _, _, r in pairs])]
    original = ProbeResult(ORIGINAL, prompt, response, scores[0], 0.0)
    rows = [ProbeResult(name, p, r, s, s - scores[0]) for (name, p, r), s in zip(probes, scores[1:])]
    rows.sort(key=lambda row: -abs(row.change))  # stable: ties keep KINDS order
    return ProbeReport([original, *rows], skipped)


def against(name: str, change: float) -> str:
    """In plain words, how ``change`` goes against what a sound judge would do for probe ``name``; "" when it
    does not (and for the original)."""
    kind = KINDS.get(name)
    if kind is None:
        return ""
    if kind.expect == LOWER and change > -PROBE_TOLERANCE:
        return (f"the score rose by {change:.3f}" if change > PROBE_TOLERANCE
                else f"the score did not fall (it moved by {change:+.3f})")
    if kind.expect == NOT_HIGHER and change > PROBE_TOLERANCE:
        return f"the score rose by {change:.3f}"
    if kind.expect == SAME and abs(change) > SAME_WITHIN:
        return f"the score moved by {change:+.3f}"
    return ""
