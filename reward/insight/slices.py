"""Accuracy and its bootstrap interval, overall and by slice (a category, a subset, a source of the data).

One overall accuracy hides where a model fails: a length-only judge can be perfect on one subset and at chance on
another. These functions name each row's slice and compute, per slice, the same figures the whole file gets, from
plain sequences (one entry per judged unit: a pair, or a best-of-N set), for :mod:`reward.jobs.evaluate` and
:mod:`reward.jobs.sets`.

A slice record (``slice_records``) holds:

* ``slice``: the slice's name (:func:`slice_name`: the value as text; :data:`~reward.config.MISSING_SLICE` for
  missing values);
* ``n``: units in it (pairs, or sets for a best-of-N file), ``accuracy`` and its 95% bootstrap interval
  ``ci_low``, ``ci_high`` (same resamples and seed as the whole file's);
* ``longer_baseline_accuracy``: the accuracy of a judge that always picks the longer answer (a pair: chosen strictly
  longer than rejected; a set: every chosen answer strictly longer than every rejected one);
* ``mean_margin``: the mean margin (a pair: chosen minus rejected; a set: the lowest chosen score minus the highest
  rejected one, so a set is correct exactly when its margin is above 0);
* ``ece``: the calibration error of sigmoid(|margin|) over the slice's pairs (None for sets: one sigmoid is not the
  chance that an answer beats several others);
* ``pairs`` and ``pairwise_accuracy``: the (chosen, rejected) pairs in the slice and the share the chosen one won
  (for a pair file the same as ``n`` and ``accuracy``).

Undefined figures are None (a NaN score from a run that stopped part-way, say).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reward.config import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MISSING_SLICE
from reward.tables.columns import is_missing, is_not_text
from reward.tables.writing import json_text

from .trust import ece

if TYPE_CHECKING:
    import numpy as np

SLICE_KEYS = ("slice", "n", "accuracy", "ci_low", "ci_high", "longer_baseline_accuracy", "mean_margin", "ece",
              "pairs", "pairwise_accuracy")
"""The keys of every slice record, in this order, for pair files and best-of-N files alike."""


def bootstrap_accuracy_interval(correct: np.ndarray | Sequence[bool], *, resamples: int = BOOTSTRAP_RESAMPLES,
                                seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of 0/1 outcomes.

    Resampling n outcomes with replacement and counting the correct ones is
    exactly a Binomial(n, accuracy) draw, so each resample costs one draw instead
    of n, and memory stays flat for any n.
    """
    import numpy as np

    n = len(correct)
    if n == 0:
        return float("nan"), float("nan")
    accuracy = float(np.mean(np.asarray(correct, dtype=float)))
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, accuracy, size=resamples) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def slice_name(value: object) -> str:
    """The name of the slice a cell puts its row in: text as it is, numbers and other values as their text
    (``3`` -> ``"3"``, ``True`` -> ``"True"``, a list as JSON text), and :data:`~reward.config.MISSING_SLICE` for a
    missing value (null, NaN, an absent key) or an empty or white-space-only text."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value if value.strip() else MISSING_SLICE
    if is_not_text(value):
        return json_text(value)
    if is_missing(value):
        return MISSING_SLICE
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # np.int64(3) -> "3", not "np.int64(3)"
        value = value.item()
    return str(value)


def slice_names(values: Sequence[object]) -> list[str]:
    """:func:`slice_name` of each value, in order."""
    return [slice_name(v) for v in values]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def slice_records(names: Sequence[str], correct: Sequence[bool], margins: Sequence[float], longer: Sequence[bool], *,
                  pair_wins: Sequence[int] | None = None, pair_counts: Sequence[int] | None = None,
                  with_ece: bool = True, resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = BOOTSTRAP_SEED) -> list[dict]:
    """The figures of each slice (keys :data:`SLICE_KEYS`), the largest slice first (then by name).

    Args:
        names: each unit's slice name (:func:`slice_names`).
        correct: whether the model got each unit right.
        margins: each unit's margin (see the module docstring).
        longer: whether the always-pick-the-longer judge gets each unit right.
        pair_wins, pair_counts: for sets, each set's (chosen, rejected) pairs won and in all; None for a pair file
            (one pair a unit, won when it is correct).
        with_ece: compute the calibration error from the margins (pairs); False gives None (sets).
        resamples, seed: for the bootstrap interval.
    """
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    records = []
    for name, members in groups.items():
        n = len(members)
        outcomes = [bool(correct[i]) for i in members]
        low, high = bootstrap_accuracy_interval(outcomes, resamples=resamples, seed=seed)
        slice_margins = [float(margins[i]) for i in members]
        pairs = n if pair_counts is None else sum(int(pair_counts[i]) for i in members)
        wins = sum(outcomes) if pair_wins is None else sum(int(pair_wins[i]) for i in members)
        records.append({
            "slice": name, "n": n, "accuracy": sum(outcomes) / n, "ci_low": _finite(low), "ci_high": _finite(high),
            "longer_baseline_accuracy": sum(1 for i in members if longer[i]) / n,
            "mean_margin": _finite(sum(slice_margins) / n),
            "ece": ece(slice_margins) if with_ece else None,
            "pairs": pairs, "pairwise_accuracy": wins / pairs if pairs else None,
        })
    records.sort(key=lambda r: (-r["n"], r["slice"]))
    return records


def breakdown_lines(summary) -> list[str]:
    """The best-of-N figures and the slices of an :class:`~reward.jobs.evaluate.EvaluationSummary`, as terminal
    lines (none for a pair file without a slice column)."""
    from reward.tables.display import figure, shorten

    lines = []
    if summary.sets is not None:
        lines.append(f"best-of-N: {figure(summary.best_of_n_accuracy, '.2%')} of {summary.sets:,} sets had the chosen "
                     f"answer scored strictly above every rejected one, 95% CI "
                     f"{figure(summary.best_of_n_ci_low, '.2%')} to {figure(summary.best_of_n_ci_high, '.2%')} "
                     f"(bootstrap over sets); pairwise accuracy {figure(summary.pairwise_accuracy, '.2%')} over "
                     f"{summary.n:,} (chosen, rejected) pairs")
    if summary.slices is not None:
        unit = "sets" if summary.sets is not None else "pairs"
        lines.append(f"by {summary.slice_column} ({len(summary.slices):,} slices, largest first; n counts {unit}):")
        lines.append(f"  {'slice':<24} {'n':>6}  {'accuracy':>8}  {'95% CI':<15}  {'longer':>7}  {'margin':>8}  "
                     f"{'ECE':>5}")
        for r in summary.slices:
            interval = f"{figure(r['ci_low'], '.1%')}-{figure(r['ci_high'], '.1%')}"
            lines.append(f"  {shorten(r['slice'], 24):<24} {r['n']:>6,}  {figure(r['accuracy'], '.1%'):>8}  "
                         f"{interval:<15}  {figure(r['longer_baseline_accuracy'], '.1%'):>7}  "
                         f"{figure(r['mean_margin'], '+.3f'):>8}  {figure(r['ece'], '.3f'):>5}")
    return lines
