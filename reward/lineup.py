"""Several reward models side by side: one prompt and its responses scored by each, and where they disagree.

A :class:`Lineup` holds one :class:`~reward.service.RewardService` per model: the main one
(``REWARD_MODEL``) first, then each of ``REWARD_COMPARE_MODELS``, loaded with the main settings
but another model id (same loader, same safety rules). It is an allow-list: only these models
ever load, at start; a request never names a model. A model that cannot be loaded keeps its
one-line reason and the others still score.

Agreement between two models is Kendall's tau-b over the responses both scored: for every pair
of responses, concordant when both models order it the same way, discordant when they order it
differently, tied when either scores the two equally; tau-b = (C - D) / sqrt((P - T1)(P - T2)),
with P the number of pairs and T1, T2 the pairs each model ties. A pair of responses is *disputed*
when one model scores the first strictly higher and another scores the second strictly higher (a
tie disputes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

from reward.insight.ranking import RankedResponse
from reward.model.requests import ScoringRequest
from reward.model.sources import HOW_TO_FIX, display_name

from .config import ModelLoadError, Settings
from .service import RewardService

COMPARE_HOW_TO_FIX = "list the folder (one with config.json, model.safetensors and the tokenizer files) in REWARD_COMPARE_MODELS"


@dataclass(frozen=True)
class ModelRanking:
    """One model's verdict on a request: its ranking, or the one-line reason it has none."""

    model: str
    ranked: list[RankedResponse] | None = None
    error: str | None = None

    def scores(self) -> dict[int, float]:
        """Score by the response's index in the caller's list."""
        return {r.index: r.score for r in self.ranked or []}

    def records(self) -> list[dict]:
        """The ``/score_models`` records of this model, best first."""
        if self.ranked is None:
            return [{"model": self.model, "error": self.error}]
        return [{"model": self.model, "rank": r.rank, "index": r.index, "score": r.score, "tokens": r.tokens,
                 "truncated": r.truncated} for r in self.ranked]


@dataclass(frozen=True)
class Agreement:
    """Kendall's tau-b between two models (None when undefined: fewer than two responses, or one model
    scores them all equal, or either failed), and how many response pairs they order differently."""

    first: str
    second: str
    tau: float | None
    discordant: int
    pairs: int


@dataclass(frozen=True)
class Dispute:
    """Two responses (indices in the caller's list, ``first < second``) that the models order differently."""

    first: int
    second: int
    prefer_first: list[str]
    """Models scoring ``first`` strictly higher."""
    prefer_second: list[str]


@dataclass(frozen=True)
class LineupResult:
    rankings: list[ModelRanking]
    agreements: list[Agreement]
    disputes: list[Dispute]

    def records(self) -> list[dict]:
        return [record for ranking in self.rankings for record in ranking.records()]

    def disputed(self) -> set[int]:
        """Indices of every response in at least one dispute."""
        return {i for d in self.disputes for i in (d.first, d.second)}


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


@dataclass(frozen=True)
class PairCounts:
    """How two equally long score lists order each pair of items."""

    concordant: int
    discordant: int
    ties_a: int
    ties_b: int
    pairs: int
    numbers: bool
    """False when a score is not a number (NaN): then no correlation is defined."""


def pair_counts(a: Sequence[float], b: Sequence[float]) -> PairCounts:
    """Count, over every pair of items, the ones both lists order the same way, the ones they order
    differently, and the ones each list ties."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} scores against {len(b)}.")
    concordant = discordant = ties_a = ties_b = 0
    for i, j in combinations(range(len(a)), 2):
        sa, sb = _sign(a[i] - a[j]), _sign(b[i] - b[j])
        ties_a += sa == 0
        ties_b += sb == 0
        concordant += sa * sb > 0
        discordant += sa * sb < 0
    numbers = not any(math.isnan(x) for x in (*a, *b))
    return PairCounts(concordant, discordant, ties_a, ties_b, len(a) * (len(a) - 1) // 2, numbers)


def tau_b(counts: PairCounts) -> float | None:
    """Kendall's tau-b from the pair counts; None when a list ties every pair (or there is no pair), or for NaN."""
    if not counts.numbers:
        return None
    denominator = math.sqrt((counts.pairs - counts.ties_a) * (counts.pairs - counts.ties_b))
    return (counts.concordant - counts.discordant) / denominator if denominator else None


def kendall_tau_b(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b of two equally long score lists (ties counted as tau-b counts them); None when
    undefined (fewer than two items, a list with every value equal, or a value that is not a number)."""
    return tau_b(pair_counts(a, b))


def disputes(rankings: Sequence[ModelRanking]) -> list[Dispute]:
    """Every pair of responses that one model scores strictly one way and another strictly the other way."""
    scored = [(r.model, r.scores()) for r in rankings if r.ranked is not None]
    if not scored:
        return []
    indices = sorted(scored[0][1])
    found = []
    for i, j in combinations(indices, 2):
        first = [model for model, s in scored if s[i] > s[j]]
        second = [model for model, s in scored if s[j] > s[i]]
        if first and second:
            found.append(Dispute(i, j, first, second))
    return found


def agreements(rankings: Sequence[ModelRanking]) -> list[Agreement]:
    """Kendall's tau-b and the discordant pairs for each pair of models, in lineup order."""
    found = []
    for x, y in combinations(rankings, 2):
        if x.ranked is None or y.ranked is None:
            found.append(Agreement(x.model, y.model, None, 0, 0))
            continue
        sx, sy = x.scores(), y.scores()
        order = sorted(sx)
        a, b = [sx[i] for i in order], [sy[i] for i in order]
        counts = pair_counts(a, b)
        found.append(Agreement(x.model, y.model, tau_b(counts), counts.discordant, counts.pairs))
    return found


def unique_names(sources: Sequence[str]) -> list[str]:
    """How the lineup names its models: as pages name a model, with " (2)", " (3)" after a repeated name
    (two folders with the same last part)."""
    names: list[str] = []
    for source in sources:
        name = base = display_name(source)
        n = 1
        while name in names:
            n += 1
            name = f"{base} ({n})"
        names.append(name)
    return names


class Lineup:
    """The main model's service and one more per ``settings.compare_models``, each loaded once."""

    def __init__(self, main: RewardService) -> None:
        settings = main.settings
        self.main = main
        others = [RewardService(replace(settings, model=model, revision=None, compare_models=()))
                  for model in settings.compare_models]
        self.services = [main, *others]
        self.names = unique_names([s.settings.model for s in self.services])
        self.failed: dict[str, str] = {}
        """Compared models that failed to load at start, with the reason: they are not tried again (each model
        loads once, on start; a compared model is never downloaded during a request)."""

    @property
    def settings(self) -> Settings:
        return self.main.settings

    def load(self) -> dict[str, str]:
        """Load every model now (at start); returns each failed model's one-line reason, by name."""
        failed = {}
        for name, service in zip(self.names, self.services):
            try:
                service.model()
            except ModelLoadError as err:
                failed[name] = self.reason(service, err)
        self.failed = {name: reason for name, reason in failed.items() if name != self.names[0]}
        return failed

    def reason(self, service: RewardService, err: ModelLoadError) -> str:
        """A load failure's one line; for a compared model the fix names REWARD_COMPARE_MODELS."""
        if service is self.main:
            return str(err)
        return (str(err).replace(HOW_TO_FIX, COMPARE_HOW_TO_FIX).replace("Point REWARD_MODEL at",
                                                                         "List in REWARD_COMPARE_MODELS only")
                + " Compared models load once, at start: restart the app once it is fixed.")

    def check(self, prompt: object, responses: object) -> ScoringRequest:
        """The limits of ``/score`` (the main settings), before any model runs."""
        return self.main.check(prompt, responses)

    def rank(self, prompt: object, responses: object) -> LineupResult:
        """Score one request with every model; a model that cannot be loaded gives its reason instead.

        Raises:
            InvalidRequest: the input breaks a documented limit (checked once, before any model runs).
        """
        self.check(prompt, responses)
        rankings = []
        for name, service in zip(self.names, self.services):
            if name in self.failed:
                rankings.append(ModelRanking(name, error=self.failed[name]))
                continue
            try:
                rankings.append(ModelRanking(name, ranked=service.rank(prompt, responses).ranked))
            except ModelLoadError as err:
                rankings.append(ModelRanking(name, error=self.reason(service, err)))
        return LineupResult(rankings, agreements(rankings), disputes(rankings))
