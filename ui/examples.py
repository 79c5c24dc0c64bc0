"""The example sets the page offers with one click, read from ``assets/examples.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from reward.config import ASSETS

EXAMPLES_FILE = ASSETS / "examples.json"


@dataclass(frozen=True)
class ExampleSet:
    title: str
    prompt: str
    responses: list[str]
    source: str = ""
    labels: list[str] = field(default_factory=list)
    """Optional names for the responses (the card's "Good Response" / "Bad Response")."""


def load_example_sets(path: Path = EXAMPLES_FILE) -> list[ExampleSet]:
    """Every example set in the file, in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ExampleSet(**item) for item in data["example_sets"]]
