"""How far to trust a reward model's verdicts: length bias and calibration on preference pairs.

Reward models are known to favour longer answers; a judge that always picks the
longer answer can look good on some data. These figures put the model's accuracy
beside that baseline, split it by which side is longer, correlate scores with
length, and check whether the model's implied confidence matches how often it is
right. Each is a small function on plain sequences (scores, margins, lengths in
characters), used by :mod:`reward.jobs.evaluate`, the Evaluate and Score-a-file tabs,
and anything else that needs them.

Conventions:

* A pair is *correct* when the chosen response scores strictly above the rejected
  one (margin = score(chosen) - score(rejected) > 0); a tie is not correct.
* Length is ``len(text)``: characters (Unicode code points), not tokens.
* An undefined figure is ``None`` (JSON null): an empty group, too few points, a
  constant side for a correlation, or any NaN score among the values it reads
  (NaN should never come out of the model; if it does, no number is made up around it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from reward.config import SCATTER_MAX_POINTS, SCATTER_SEED
from reward.tables.display import figure

from .ranking import sigmoid

if TYPE_CHECKING:
    import pandas as pd

CALIBRATION_BINS = 10
"""Equal-width confidence bins over [0.5, 1] for the calibration error and the reliability plot."""


class GroupAccuracy(NamedTuple):
    """The model's accuracy on a group of pairs, and the group's size (accuracy None for an empty group)."""

    accuracy: float | None
    n: int


def text_lengths(texts: Sequence[str]) -> list[int]:
    """Length of each text in characters (Unicode code points, as ``len`` counts)."""
    return [len(t) for t in texts]


def _has_nan(values: Sequence[float]) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for v in values)


def longer_baseline_accuracy(chosen_lengths: Sequence[int], rejected_lengths: Sequence[int]) -> float | None:
    """Share of pairs whose chosen response is strictly longer, in characters, than the rejected one.

    That is the accuracy of a judge that always picks the longer answer (counting a
    length tie as a miss, as a score tie is). None for no pairs.
    """
    n = len(chosen_lengths)
    if n == 0:
        return None
    return sum(1 for c, r in zip(chosen_lengths, rejected_lengths) if c > r) / n


def _group_accuracy(margins: Sequence[float], keep: list[bool]) -> GroupAccuracy:
    group = [float(m) for m, k in zip(margins, keep) if k]
    if not group or _has_nan(group):
        return GroupAccuracy(None, len(group))
    return GroupAccuracy(sum(1 for m in group if m > 0) / len(group), len(group))


def accuracy_chosen_longer(margins: Sequence[float], chosen_lengths: Sequence[int],
                           rejected_lengths: Sequence[int]) -> GroupAccuracy:
    """The model's accuracy on the pairs whose chosen response is strictly longer than the rejected one.

    Pairs of equal length belong to neither this group nor :func:`accuracy_chosen_shorter`'s.
    """
    return _group_accuracy(margins, [c > r for c, r in zip(chosen_lengths, rejected_lengths)])


def accuracy_chosen_shorter(margins: Sequence[float], chosen_lengths: Sequence[int],
                            rejected_lengths: Sequence[int]) -> GroupAccuracy:
    """The model's accuracy on the pairs whose chosen response is strictly shorter than the rejected one.

    On these pairs a length-loving model is pulled the wrong way: an accuracy far below
    :func:`accuracy_chosen_longer`'s is a sign of length bias. Equal-length pairs are in neither group.
    """
    return _group_accuracy(margins, [c < r for c, r in zip(chosen_lengths, rejected_lengths)])


def score_length_spearman(scores: Sequence[float], lengths: Sequence[int]) -> float | None:
    """Spearman's rank correlation between scores and lengths (ties get average ranks).

    Pass every scored response (for pairs: chosen and rejected both). None when it is
    undefined: fewer than 2 points, all scores equal, all lengths equal, or a NaN score.
    """
    import numpy as np
    import pandas as pd

    if len(scores) != len(lengths):
        raise ValueError(f"{len(scores)} scores but {len(lengths)} lengths: give one length per score.")
    if len(scores) < 2 or _has_nan([float(s) for s in scores]):
        return None
    x = pd.Series(scores, dtype=float).rank(method="average").to_numpy()
    y = pd.Series(lengths, dtype=float).rank(method="average").to_numpy()
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if denominator == 0:  # a constant side: no ranking to correlate
        return None
    return max(-1.0, min(1.0, float(np.dot(x, y)) / denominator))


def calibration_edges(bins: int = CALIBRATION_BINS) -> list[float]:
    """The ``bins + 1`` bin edges over [0.5, 1]: ``0.5 + i * (0.5 / bins)``, rounded to 12 decimals
    (0.85, not 0.8500000000000001)."""
    width = 0.5 / bins
    return [round(0.5 + i * width, 12) for i in range(bins)] + [1.0]


def confidences(margins: Sequence[float]) -> list[float]:
    """The model-implied confidence in its own pick, sigmoid(|margin|), in [0.5, 1] (0.5 for a tie)."""
    return [sigmoid(abs(float(m))) for m in margins]


def reliability_table(margins: Sequence[float], bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per confidence bin: its edges, how many pairs fall in it, their mean confidence and accuracy.

    Bin ``i`` holds confidences ``low <= c < high``; the last bin also holds ``c == 1.0``
    (a margin so large that sigmoid rounds to 1). A tie has confidence 0.5 (first bin) and
    is not correct. Every bin is listed; an empty one has ``mean_confidence`` and
    ``accuracy`` None. No pairs, or a NaN margin: an empty list.

    Returns:
        ``[{"bin_low", "bin_high", "count", "mean_confidence", "accuracy"}, ...]``, lowest bin first.
    """
    values = [float(m) for m in margins]
    if not values or _has_nan(values):
        return []
    edges = calibration_edges(bins)
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for m, c in zip(values, confidences(values)):
        i = next((j for j in range(bins) if c < edges[j + 1]), bins - 1)
        members[i].append((c, m > 0))
    table = []
    for i, group in enumerate(members):
        count = len(group)
        table.append({"bin_low": edges[i], "bin_high": edges[i + 1], "count": count,
                      "mean_confidence": sum(c for c, _ in group) / count if count else None,
                      "accuracy": sum(1 for _, ok in group if ok) / count if count else None})
    return table


def ece(margins: Sequence[float], bins: int = CALIBRATION_BINS) -> float | None:
    """Expected calibration error of confidence sigmoid(|margin|) against accuracy.

    The sum over the bins of :func:`reliability_table` of (bin count / n) * |bin accuracy -
    bin mean confidence|: 0 for a model exactly as sure as it is right; 1 for one that is
    certain (huge margins) and always wrong. None for no pairs or a NaN margin.
    """
    table = reliability_table(margins, bins)
    n = sum(row["count"] for row in table)
    if n == 0:
        return None
    return sum(row["count"] / n * abs(row["accuracy"] - row["mean_confidence"]) for row in table if row["count"])


def pair_figures(score_chosen: Sequence[float], score_rejected: Sequence[float], chosen: Sequence[str],
                 rejected: Sequence[str]) -> dict:
    """Every figure above for a set of scored pairs, named as :class:`~reward.jobs.evaluate.EvaluationSummary` names
    them."""
    margins = [float(c) - float(r) for c, r in zip(score_chosen, score_rejected)]
    len_c, len_r = text_lengths(chosen), text_lengths(rejected)
    longer = accuracy_chosen_longer(margins, len_c, len_r)
    shorter = accuracy_chosen_shorter(margins, len_c, len_r)
    return {
        "longer_baseline_accuracy": longer_baseline_accuracy(len_c, len_r),
        "accuracy_chosen_longer": longer.accuracy, "n_chosen_longer": longer.n,
        "accuracy_chosen_shorter": shorter.accuracy, "n_chosen_shorter": shorter.n,
        "score_length_spearman": score_length_spearman([*map(float, score_chosen), *map(float, score_rejected)],
                                                       len_c + len_r),
        "ece": ece(margins),
        "reliability": reliability_table(margins),
    }


def sample_rows(count: int, cap: int, seed: int = SCATTER_SEED) -> list[int] | None:
    """Which of ``count`` rows to draw when there are more than ``cap``: a fixed-seed uniform sample
    without replacement, in row order (the same file gives the same sample); None when all fit."""
    import numpy as np

    if count <= cap:
        return None
    return sorted(int(i) for i in np.random.default_rng(seed).choice(count, size=cap, replace=False))


def pair_points(results: pd.DataFrame, max_points: int = SCATTER_MAX_POINTS) -> tuple[pd.DataFrame, int]:
    """Score against length for both sides of every pair in evaluation results, for a scatter.

    Over ``max_points`` points (two per pair), a fixed-seed sample of pairs is drawn
    (both sides of a drawn pair kept). NaN scores are left out.

    Returns:
        (points with columns ``row``, ``side`` ("chosen"/"rejected"), ``length``, ``score``; the number of pairs
        they came from before sampling).
    """
    import pandas as pd

    keep = sample_rows(len(results), max(1, max_points // 2))
    part = results if keep is None else results.iloc[keep]
    sides = [pd.DataFrame({"row": part["row"].to_numpy(), "side": side,
                           "length": text_lengths(part[side].tolist()),
                           "score": part[f"score_{side}"].to_numpy(dtype=float)})
             for side in ("chosen", "rejected")]
    points = pd.concat(sides, ignore_index=True)
    return points[points["score"].notna()].reset_index(drop=True), len(results)


def response_points(responses: Sequence[str], scores: Sequence[float],
                    max_points: int = SCATTER_MAX_POINTS) -> pd.DataFrame:
    """Score against length for scored rows (rows numbered from 1), sampled like :func:`pair_points`;
    rows whose score is missing or NaN are left out."""
    import pandas as pd

    frame = pd.DataFrame({"row": range(1, len(responses) + 1), "side": "response",
                          "length": text_lengths(responses), "score": pd.Series(scores, dtype=float).to_numpy()})
    frame = frame[frame["score"].notna()].reset_index(drop=True)
    keep = sample_rows(len(frame), max_points)
    return frame if keep is None else frame.iloc[keep].reset_index(drop=True)


def _pairs(count: int) -> str:
    return f"{count:,} pair{'s' * (count != 1)}"


def trust_lines(summary) -> list[str]:
    """The length and calibration figures of an :class:`~reward.jobs.evaluate.EvaluationSummary`, as terminal lines."""
    rho = summary.score_length_spearman
    error = summary.ece
    equal = summary.n - summary.n_chosen_longer - summary.n_chosen_shorter
    def percent(value: float | None) -> str:
        return figure(value, ".1%", "n/a (no such pairs)")

    length = (f"length: always picking the longer answer would score {percent(summary.longer_baseline_accuracy)}; "
              f"accuracy when chosen is longer {percent(summary.accuracy_chosen_longer)} "
              f"({_pairs(summary.n_chosen_longer)}), when chosen is shorter "
              f"{percent(summary.accuracy_chosen_shorter)} ({_pairs(summary.n_chosen_shorter)}); "
              f"{equal:,} of equal length in neither")
    calibration = (f"score-length Spearman {figure(rho, '+.3f')} over {summary.responses or 2 * summary.n:,} "
                   f"responses; calibration error (ECE, {CALIBRATION_BINS} bins of sigmoid(|margin|)) "
                   f"{figure(error, '.3f')}")
    return [length, calibration]
