"""The example sets the page offers with one click, read from ``assets/examples.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from reward.config import ASSETS
from reward.model.reward_model import ModelInfo

EXAMPLES_FILE = ASSETS / "examples.json"


@dataclass(frozen=True)
class ExampleSet:
    title: str
    prompt: str
    responses: list[str]
    source: str = ""
    labels: list[str] = field(default_factory=list)
    """Optional names for the responses (the card's "Good Response" / "Bad Response")."""
    card_scores: list[float] = field(default_factory=list)
    """The scores the model card publishes for these responses, in order; empty for sets not from the card."""
    card_source: str = ""
    """Where ``card_scores`` are published."""


CARD_AGREES_WITHIN = 0.01
"""A live score agrees with the card's when it is this close (the card prints three decimals)."""


@dataclass(frozen=True)
class CardRow:
    label: str
    published: float
    live: float

    @property
    def agrees(self) -> bool:
        return abs(self.live - self.published) <= CARD_AGREES_WITHIN


def card_check(info: ModelInfo, example_sets: list[ExampleSet], prompt: str,
               scored: list[tuple[str, float]]) -> list[CardRow]:
    """The card's published scores beside the live ones, one row per card response, when the loaded model is the
    card's (``info.is_card_model``), the prompt is the card example's and every card response was scored
    (``scored``: (response, live score) pairs; others may be there too); otherwise no rows.
    Texts are compared exactly, as they were scored."""
    if not info.is_card_model:
        return []
    live = dict(scored)
    for ex in example_sets:
        if ex.card_scores and ex.prompt == prompt and all(r in live for r in ex.responses):
            labels = ex.labels or [f"Response {i + 1}" for i in range(len(ex.responses))]
            return [CardRow(label, published, live[r])
                    for label, r, published in zip(labels, ex.responses, ex.card_scores)]
    return []


def load_example_sets(path: Path = EXAMPLES_FILE) -> list[ExampleSet]:
    """Every example set in the file, in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ExampleSet(**item) for item in data["example_sets"]]
