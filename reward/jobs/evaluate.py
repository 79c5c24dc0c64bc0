"""Check a reward model on preference pairs: how often does it score the chosen response above the rejected one?

The model card reports 52.61% accuracy on WebGPT comparisons; this measures the
same thing on anyone's pairs (read by :mod:`reward.jobs.pairs`). The app's Evaluate
tab, ``python -m reward evaluate`` and the tests all call :func:`evaluate_file`.

A pair is *correct* when the chosen response scores strictly above the rejected
one; a *tie* is exactly equal scores (identical texts always tie: each distinct
text is scored once). The 95% interval is a percentile bootstrap of the accuracy.
Beside it, the summary carries :mod:`reward.insight.trust`'s length-bias and calibration figures.

A file whose rejected column holds lists of answers is read as best-of-N sets (:mod:`reward.jobs.sets`): then the
pair figures (``n``, ``accuracy``, ``ties``, the interval, the margins, length and calibration) are over every
(chosen, rejected) pair of every set, ``score_length_spearman`` over every answer once, and the ``sets`` and
``best_of_n_*`` fields say how many sets had their chosen answer above all the rejected ones. The bootstrap over the
pairs treats them as independent, which the pairs of one set are not: ``best_of_n_ci_*``, over sets, is the honest
interval there. With a slice column, ``slices`` gives the figures per slice (:mod:`reward.insight.slices`): per pair
for a pair file, per set for a best-of-N file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CHUNK_ROWS, MAX_FILE_BYTES, MAX_ROWS
from reward.insight.slices import bootstrap_accuracy_interval, slice_names, slice_records
from reward.insight.trust import pair_figures, score_length_spearman
from reward.tables.columns import missing_columns_message
from reward.tables.formats import FileProblem, columns_text
from reward.tables.outputs import ResultRescued, check_output_path, save_or_rescue
from reward.tables.reading import read_table

from .pairs import PairSet, prepare_pairs
from .scoring import (
    ModelSource,
    ProgressCallback,
    ScoringInterrupted,
    per_second,
    resolve_model,
    stopped,
)
from .sets import BestOfNSets, expanded_pairs, holds_answer_lists, prepare_sets, score_sets, set_figures, set_table

if TYPE_CHECKING:
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
    responses: int = 0
    """Responses scored and correlated with length: 2n for pairs; for sets, every answer of every set once."""
    pairwise_accuracy: float | None = None
    """Share of all (chosen, rejected) pairs won: ``accuracy`` again, under the name best-of-N reports use."""
    sets: int | None = None
    """Best-of-N files: the number of sets (None for a pair file, as are the ``best_of_n_*`` fields)."""
    best_of_n_accuracy: float | None = None
    """Share of sets whose chosen answer(s) scored strictly above every rejected one."""
    best_of_n_ci_low: float | None = None
    best_of_n_ci_high: float | None = None
    """The 95% percentile-bootstrap interval of ``best_of_n_accuracy``, resampling sets."""
    slice_column: str | None = None
    slices: list[dict] | None = None
    """With a slice column: one record per slice, largest first (keys :data:`~reward.insight.slices.SLICE_KEYS`;
    per pair for a pair file, per set for a best-of-N file); None without one."""

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
    """One row per pair, in file order, with :data:`RESULT_COLUMNS` (then the slice column, when there is one); for
    best-of-N sets every (chosen, rejected) pair of every set, ``row`` the set's."""
    summary: EvaluationSummary
    set_results: pd.DataFrame | None = None
    """Best-of-N files: one row per set, every input column exactly, then :data:`~reward.jobs.sets.SET_COLUMNS`."""

    @property
    def written(self) -> pd.DataFrame:
        """What the output file holds: ``set_results`` for sets, else ``results``."""
        return self.results if self.set_results is None else self.set_results


# -- scoring and the verdict ---------------------------------------------------------------------


def evaluate_pairs(model: RewardModel, pairs: PairSet | pd.DataFrame, *, progress: ProgressCallback | None = None,
                   resamples: int = RESAMPLES, seed: int = SEED, chunk_rows: int = CHUNK_ROWS,
                   slices: pd.Series | None = None) -> Evaluation:
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
        slices: one value per pair, a column named by its name (``df["category"]``): the results get that column,
            values unchanged, and the summary the figures per slice.

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
    if slices is not None and len(slices) != n:
        raise ValueError(f"{len(slices)} slice values for {n} pairs: give one per pair.")
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
                                 tokens_r[:done], cut[:done], slices)
        raise stopped(err, done, n, "pairs", results, None) from err
    seconds = time.perf_counter() - start_time
    results = _results_frame(frame, score_c, score_r, tokens_c, tokens_r, cut, slices)
    extra = {}
    if slices is not None:
        extra["slices"] = slice_records(slice_names(slices.tolist()), results["correct"].tolist(),
                                        results["margin"].tolist(), [len(c) > len(r) for c, r in zip(chosen, rejected)],
                                        resamples=resamples, seed=seed)
    return Evaluation(results, _summary(results, seconds, resamples, seed, pairs.layout, slices, **extra))


def _summary(results: pd.DataFrame, seconds: float, resamples: int, seed: int, layout: str,
             by: pd.Series | None, **extra) -> EvaluationSummary:
    """The pair figures of finished results; ``extra`` adds (or replaces) fields."""
    import numpy as np

    correct = results["correct"].to_numpy()
    chosen, rejected = results["chosen"].tolist(), results["rejected"].tolist()
    low, high = bootstrap_accuracy_interval(correct, resamples=resamples, seed=seed)
    accuracy = float(correct.mean())
    fields = dict(n=len(results), correct=int(correct.sum()), accuracy=accuracy, ties=int(results["tie"].sum()),
                  ci_low=low, ci_high=high, mean_margin=float(np.mean(results["margin"].to_numpy())),
                  truncated=int(results["truncated"].sum()), seconds=seconds, resamples=resamples, seed=seed,
                  layout=layout, empty=sum(1 for c, r in zip(chosen, rejected) if not c.strip() or not r.strip()),
                  responses=2 * len(results), pairwise_accuracy=accuracy,
                  slice_column=None if by is None else str(by.name),
                  **pair_figures(results["score_chosen"].to_numpy(), results["score_rejected"].to_numpy(), chosen,
                                 rejected))
    return EvaluationSummary(**{**fields, **extra})


def evaluate_sets(model: RewardModel, sets: BestOfNSets, *, progress: ProgressCallback | None = None,
                  resamples: int = RESAMPLES, seed: int = SEED, chunk_rows: int = CHUNK_ROWS,
                  slices: pd.Series | None = None) -> Evaluation:
    """Score every answer of every best-of-N set (from :func:`~reward.jobs.sets.prepare_sets`) and judge the model:
    per set (``set_results``) and per (chosen, rejected) pair (``results``). Arguments as :func:`evaluate_pairs`'
    (``progress`` counts sets).

    Raises:
        ScoringInterrupted: scoring stopped part-way; its ``partial`` holds the sets scored so far, as
            ``set_results`` would.
    """
    import numpy as np
    import pandas as pd

    scored = score_sets(model, sets, progress=progress, chunk_rows=chunk_rows)
    pairs = expanded_pairs(scored)
    frame = pd.DataFrame({k: pairs[k] for k in ("row", "prompt", "chosen", "rejected")})
    pair_slices = None if slices is None else slices.iloc[np.array(pairs["row"], dtype=np.int64) - 1]
    results = _results_frame(frame, *(np.array(pairs[k]) for k in ("score_chosen", "score_rejected", "tokens_chosen",
                                                                   "tokens_rejected", "truncated")), pair_slices)
    per_set = set_figures(scored)
    low, high = bootstrap_accuracy_interval(per_set["correct"], resamples=resamples, seed=seed)
    extra = dict(sets=len(sets.prompts), best_of_n_accuracy=sum(per_set["correct"]) / len(sets.prompts),
                 best_of_n_ci_low=low, best_of_n_ci_high=high, responses=len(per_set["answer_scores"]),
                 score_length_spearman=score_length_spearman(per_set["answer_scores"], per_set["answer_lengths"]))
    if slices is not None:
        extra["slices"] = slice_records(slice_names(slices.tolist()), per_set["correct"], per_set["margin"],
                                        per_set["longer"], pair_wins=per_set["pair_wins"],
                                        pair_counts=per_set["pair_counts"], with_ece=False, resamples=resamples,
                                        seed=seed)
    summary = _summary(results, scored.seconds, resamples, seed, sets.layout, slices, **extra)
    return Evaluation(results, summary, set_table(sets, scored.chosen, scored.rejected))


def _results_frame(frame: pd.DataFrame, score_c, score_r, tokens_c, tokens_r, cut,
                   slices: pd.Series | None = None) -> pd.DataFrame:
    import pandas as pd

    margin = score_c - score_r
    results = pd.DataFrame({
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
    if slices is not None:  # the slice column as it came in (its type too), after the results' own
        results[slices.name] = slices.iloc[:len(results)].reset_index(drop=True)
    return results


def worst_pairs(results: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` pairs the model judged worst: most negative margin (chosen far below rejected) first.

    Equal margins keep file order.
    """
    return results.sort_values("margin", kind="stable", na_position="first").head(k).reset_index(drop=True)


def slice_values(df: pd.DataFrame, slice_column: str | None, name: str, *, sets: bool = False) -> pd.Series | None:
    """The slice column of a table as read (None without one), checked before any scoring.

    Raises:
        FileProblem: no such column (the message lists those there are); or, for pairs, it has the name of a
            column the per-pair results have (:data:`RESULT_COLUMNS`), which would hide it.
    """
    if slice_column is None:
        return None
    if slice_column not in df.columns:
        raise FileProblem(missing_columns_message(df, [("slice", slice_column)], name))
    if not sets and slice_column in RESULT_COLUMNS:
        raise FileProblem(f"{name}: the slice column {slice_column!r} has the name of a column of the per-pair "
                          f"results ({columns_text(RESULT_COLUMNS)}), which would hide it. Slice by another column, "
                          "or copy it under another name.")
    return df[slice_column].copy()


def evaluate_file(model: ModelSource, source: str | Path, output: str | Path | None = None, *,
                  prompt_column: str | None = None, chosen_column: str = "chosen", rejected_column: str = "rejected",
                  slice_column: str | None = None, name: str | None = None, progress: ProgressCallback | None = None,
                  resamples: int = RESAMPLES, seed: int = SEED, chunk_rows: int = CHUNK_ROWS,
                  max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS, neutralize_formulas: bool = False,
                  check_pairs: Callable[[PairSet], object] | None = None) -> Evaluation:
    """Read a pair file (or best-of-N sets), evaluate the model on it, and write the results to ``output`` if given:
    the one pipeline of the Evaluate tab, the command line and the tests.

    A file whose rejected column holds lists of answers is read as best-of-N sets (:mod:`reward.jobs.sets`); then
    ``output`` gets one row per set (``Evaluation.set_results``: every input column exactly, and the scores), else
    one row per pair (``Evaluation.results``). ``slice_column`` names a column to report by (``summary.slices``);
    a pair output keeps it after its own columns, values unchanged.

    The output and the whole input are checked before the model is loaded
    (``model`` may be a function that loads it), so a bad file fails at once; so is
    anything ``check_pairs`` (called with the pairs read) refuses, such as labels
    made for another file (:meth:`reward.jobs.labels.LabelsFile.check`).

    Raises:
        FileProblem: the file (or ``output``, or the slice column) cannot be used; nothing was scored.
        ModelLoadError: the model cannot be loaded; nothing was scored.
        ScoringInterrupted: scoring stopped part-way; the pairs (or sets) scored so far were written to ``output``
            (and are in its ``partial`` attribute).
        ResultRescued: every pair was scored but ``output`` could not be written; its ``result`` holds
            the evaluation, its ``rescue`` where the results went.
    """
    if output is not None:
        output = check_output_path(output, source)
    name = name or Path(source).name
    df = read_table(source, name=name, max_bytes=max_bytes, max_rows=max_rows)
    as_sets = rejected_column in df.columns and holds_answer_lists(df[rejected_column])
    slices = slice_values(df, slice_column, name, sets=as_sets)
    if as_sets:
        items, unit, run = (prepare_sets(df, prompt_column=prompt_column, chosen_column=chosen_column,
                                         rejected_column=rejected_column, name=name), "sets", evaluate_sets)
    else:
        items, unit, run = (prepare_pairs(df, prompt_column=prompt_column, chosen_column=chosen_column,
                                          rejected_column=rejected_column, name=name), "pairs", evaluate_pairs)
    if check_pairs is not None:
        if as_sets:
            raise FileProblem(f"{name} holds best-of-N sets; labels are made for pair files (one chosen and one "
                              "rejected answer per row). Evaluate the sets without labels.")
        check_pairs(items)
    loaded = resolve_model(model)
    try:
        evaluation = run(loaded, items, progress=progress, resamples=resamples, seed=seed, chunk_rows=chunk_rows,
                         slices=slices)
    except ScoringInterrupted as stop:
        if output is None or stop.cause is None:
            raise
        raise stopped(stop.cause, stop.done, stop.total, unit, stop.partial, output,
                      neutralize_formulas=neutralize_formulas) from stop.cause
    if output is not None:
        try:
            save_or_rescue(evaluation.written, output, neutralize_formulas=neutralize_formulas)
        except ResultRescued as kept:
            kept.result = evaluation
            raise
    return evaluation
