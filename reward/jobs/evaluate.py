"""Check a reward model on preference pairs: how often does it score the chosen response above the rejected one?

The model card reports 52.61% accuracy on WebGPT comparisons; this measures the
same thing on anyone's pairs (read by :mod:`reward.jobs.pairs`). The app's Evaluate
tab, ``python -m reward evaluate`` and the tests all call :func:`evaluate_file`.

A pair is *correct* when the chosen response scores strictly above the rejected
one; a *tie* is exactly equal scores (identical texts always tie: each distinct
text is scored once). The 95% interval is a percentile bootstrap of the accuracy.
Beside it, the summary carries :mod:`reward.insight.trust`'s length-bias and calibration figures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CHUNK_ROWS, MAX_FILE_BYTES, MAX_ROWS
from reward.insight.trust import pair_figures
from reward.tables.outputs import ResultRescued, check_output_path, save_or_rescue

from .pairs import PairSet, prepare_pairs, read_pairs
from .scoring import (
    ModelSource,
    ProgressCallback,
    ScoringInterrupted,
    per_second,
    resolve_model,
    stopped,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from reward.model.reward_model import RewardModel

RESAMPLES = BOOTSTRAP_RESAMPLES
SEED = BOOTSTRAP_SEED

RESULT_COLUMNS = ["row", "prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin", "correct",
                  "tie", "tokens_chosen", "tokens_rejected", "truncated"]


@dataclass(frozen=True)
class EvaluationSummary:
    """The verdict on a set of pairs."""

    n: int
    correct: int
    accuracy: float
    """Share of pairs whose chosen response scored strictly above the rejected one."""
    ties: int
    ci_low: float
    ci_high: float
    """The 95% percentile-bootstrap interval of the accuracy."""
    mean_margin: float
    """Mean of score(chosen) - score(rejected)."""
    truncated: int
    """Pairs where either side was longer than ``max_length`` tokens and was cut."""
    seconds: float
    resamples: int
    seed: int
    layout: str
    empty: int = 0
    """Pairs whose chosen or rejected response is empty or white space only (scored as the card's code does)."""
    # How far to trust it (reward.insight.trust; None where undefined): lengths are in characters.
    longer_baseline_accuracy: float | None = None
    """Share of pairs whose chosen response is strictly longer: the accuracy of always picking the longer answer."""
    accuracy_chosen_longer: float | None = None
    accuracy_chosen_shorter: float | None = None
    """Accuracy on the pairs whose chosen response is strictly longer / shorter (equal lengths are in neither)."""
    n_chosen_longer: int = 0
    n_chosen_shorter: int = 0
    score_length_spearman: float | None = None
    """Spearman's rank correlation of score and length over all 2n responses."""
    ece: float | None = None
    """Expected calibration error of sigmoid(|margin|) against accuracy, 10 bins over [0.5, 1]."""
    reliability: list[dict] = field(default_factory=list)
    """The calibration bins: ``bin_low``, ``bin_high``, ``count``, ``mean_confidence``, ``accuracy``."""

    @property
    def pairs_per_second(self) -> float:
        return per_second(self.n, self.seconds)

    def as_dict(self) -> dict:
        """Plain JSON-ready values (NaN becomes None)."""
        data = asdict(self)
        data["pairs_per_second"] = self.pairs_per_second
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


@dataclass(frozen=True)
class Evaluation:
    results: pd.DataFrame
    """One row per pair, in file order, with :data:`RESULT_COLUMNS`."""
    summary: EvaluationSummary


# -- scoring and the verdict ---------------------------------------------------------------------


def bootstrap_accuracy_interval(correct: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED,
                                level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of 0/1 outcomes.

    Resampling n outcomes with replacement and counting the correct ones is
    exactly a Binomial(n, accuracy) draw, so each resample costs one draw instead
    of n, and memory stays flat for any n.
    """
    import numpy as np

    n = len(correct)
    if n == 0:
        return float("nan"), float("nan")
    accuracy = float(np.mean(correct))
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, accuracy, size=resamples) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def evaluate_pairs(model: RewardModel, pairs: PairSet | pd.DataFrame, *, progress: ProgressCallback | None = None,
                   resamples: int = RESAMPLES, seed: int = SEED, chunk_rows: int = CHUNK_ROWS) -> Evaluation:
    """Score both sides of every pair and judge the model.

    Pairs are scored in file order, ``chunk_rows // 2`` pairs at a time (both sides
    of a chunk together, sorted by length inside :meth:`RewardModel.score_pairs`);
    a text that occurs twice in a chunk (e.g. chosen == rejected) is scored once.

    Args:
        model: a loaded reward model.
        pairs: from :func:`read_pairs` / :func:`prepare_pairs`, or a DataFrame with ``prompt``,
            ``chosen`` and ``rejected`` text columns.
        progress: called as ``progress(pairs_done, pairs_total)``.
        resamples, seed: for the bootstrap interval (same seed, same interval).
        chunk_rows: texts scored together (two per pair).

    Returns:
        An :class:`Evaluation` with per-pair results and the summary.

    Raises:
        ScoringInterrupted: scoring stopped part-way (its ``cause``); its ``partial`` holds the
            per-pair results of the pairs scored so far. Nothing is written here.
    """
    import numpy as np

    if not isinstance(pairs, PairSet):
        pairs = prepare_pairs(pairs)
    frame = pairs.frame
    n = len(frame)
    prompts, chosen, rejected = frame["prompt"].tolist(), frame["chosen"].tolist(), frame["rejected"].tolist()
    score_c = np.full(n, np.nan)
    score_r = np.full(n, np.nan)
    tokens_c = np.zeros(n, dtype=np.int64)
    tokens_r = np.zeros(n, dtype=np.int64)
    cut = np.zeros(n, dtype=bool)
    step = max(1, chunk_rows // 2)
    done = 0
    start_time = time.perf_counter()
    try:
        for start in range(0, n, step):
            stop = min(start + step, n)
            keys = list(zip(prompts[start:stop], chosen[start:stop])) + list(zip(prompts[start:stop],
                                                                                 rejected[start:stop]))
            unique = list(dict.fromkeys(keys))  # each distinct (prompt, response) once: equal texts tie exactly

            def chunk_progress(d: int, t: int, offset: int = start, size: int = stop - start) -> None:
                if progress is not None:
                    progress(offset + d * size // t, n)

            scored = model.score_pairs([p for p, _ in unique], [r for _, r in unique], progress=chunk_progress)
            by_key = dict(zip(unique, scored))
            for i, key_c, key_r in zip(range(start, stop), keys[: stop - start], keys[stop - start:]):
                sc, sr = by_key[key_c], by_key[key_r]
                score_c[i], score_r[i] = sc.score, sr.score
                tokens_c[i], tokens_r[i] = sc.tokens, sr.tokens
                cut[i] = sc.truncated or sr.truncated
            done = stop
    except BaseException as err:
        results = _results_frame(frame.iloc[:done], score_c[:done], score_r[:done], tokens_c[:done],
                                 tokens_r[:done], cut[:done])
        raise stopped(err, done, n, "pairs", results, None) from err
    seconds = time.perf_counter() - start_time
    results = _results_frame(frame, score_c, score_r, tokens_c, tokens_r, cut)
    margin = results["margin"].to_numpy()
    correct = results["correct"].to_numpy()
    low, high = bootstrap_accuracy_interval(correct, resamples=resamples, seed=seed)
    summary = EvaluationSummary(
        n=n, correct=int(correct.sum()), accuracy=float(correct.mean()), ties=int(results["tie"].sum()),
        ci_low=low, ci_high=high, mean_margin=float(np.mean(margin)), truncated=int(cut.sum()), seconds=seconds,
        resamples=resamples, seed=seed, layout=pairs.layout,
        empty=sum(1 for c, r in zip(chosen, rejected) if not c.strip() or not r.strip()),
        **pair_figures(score_c, score_r, chosen, rejected))
    return Evaluation(results, summary)


def _results_frame(frame: pd.DataFrame, score_c, score_r, tokens_c, tokens_r, cut) -> pd.DataFrame:
    import pandas as pd

    margin = score_c - score_r
    return pd.DataFrame({
        "row": frame["row"].to_numpy(),
        "prompt": frame["prompt"].tolist(),
        "chosen": frame["chosen"].tolist(),
        "rejected": frame["rejected"].tolist(),
        "score_chosen": score_c,
        "score_rejected": score_r,
        "margin": margin,
        "correct": margin > 0,  # strictly above: a tie is not a win (NaN compares False too)
        "tie": margin == 0,
        "tokens_chosen": tokens_c,
        "tokens_rejected": tokens_r,
        "truncated": cut,
    }, columns=RESULT_COLUMNS)


def worst_pairs(results: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` pairs the model judged worst: most negative margin (chosen far below rejected) first.

    Equal margins keep file order.
    """
    return results.sort_values("margin", kind="stable", na_position="first").head(k).reset_index(drop=True)


def evaluate_file(model: ModelSource, source: str | Path, output: str | Path | None = None, *,
                  prompt_column: str | None = None, chosen_column: str = "chosen", rejected_column: str = "rejected",
                  name: str | None = None, progress: ProgressCallback | None = None, resamples: int = RESAMPLES,
                  seed: int = SEED, chunk_rows: int = CHUNK_ROWS, max_bytes: int = MAX_FILE_BYTES,
                  max_rows: int = MAX_ROWS, neutralize_formulas: bool = False,
                  check_pairs: Callable[[PairSet], object] | None = None) -> Evaluation:
    """Read a pair file, evaluate the model on it, and write the per-pair results to ``output`` if given:
    the one pipeline of the Evaluate tab, the command line and the tests.

    The output and the whole input are checked before the model is loaded
    (``model`` may be a function that loads it), so a bad file fails at once; so is
    anything ``check_pairs`` (called with the pairs read) refuses, such as labels
    made for another file (:meth:`reward.jobs.labels.LabelsFile.check`).

    Raises:
        FileProblem: the file (or ``output``) cannot be used; nothing was scored.
        ModelLoadError: the model cannot be loaded; nothing was scored.
        ScoringInterrupted: scoring stopped part-way; the pairs scored so far were written to ``output``
            (and are in its ``partial`` attribute).
        ResultRescued: every pair was scored but ``output`` could not be written; its ``result`` holds
            the evaluation, its ``rescue`` where the per-pair results went.
    """
    if output is not None:
        output = check_output_path(output, source)
    pairs = read_pairs(source, prompt_column=prompt_column, chosen_column=chosen_column,
                       rejected_column=rejected_column, name=name, max_bytes=max_bytes, max_rows=max_rows)
    if check_pairs is not None:
        check_pairs(pairs)
    loaded = resolve_model(model)
    try:
        evaluation = evaluate_pairs(loaded, pairs, progress=progress, resamples=resamples, seed=seed,
                                    chunk_rows=chunk_rows)
    except ScoringInterrupted as stop:
        if output is None or stop.cause is None:
            raise
        raise stopped(stop.cause, stop.done, stop.total, "pairs", stop.partial, output,
                      neutralize_formulas=neutralize_formulas) from stop.cause
    if output is not None:
        try:
            save_or_rescue(evaluation.results, output, neutralize_formulas=neutralize_formulas)
        except ResultRescued as kept:
            kept.result = evaluation
            raise
    return evaluation
