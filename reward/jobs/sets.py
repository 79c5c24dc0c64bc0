"""Best-of-N sets: a prompt, its chosen answer and a list of rejected ones, read, checked and scored.

A file is read as sets when its rejected column holds lists of answers (JSON arrays, Parquet lists), as in
RewardBench 2 (``prompt``, ``chosen`` and ``rejected`` lists, a ``subset`` column). The chosen column may hold one
answer a row (text) or a list of them (RewardBench 2 keeps a list of one; its "Ties" subset has several correct
answers).

The verdict on a set:

* it is *correct* when every chosen answer scores strictly above every rejected one (a tie is not correct);
* its ``score_chosen`` is its chosen answer's score, with several chosen answers the lowest of them (the one that
  decides);
* its ``margin`` is ``score_chosen`` minus the highest rejected score: above 0 exactly when the set is correct;
* ``rank_chosen`` is 1 + the number of rejected answers scoring at or above ``score_chosen``: 1 (the top) exactly
  when the set is correct; a tie counts against the chosen answer (one chosen and three rejected answers, all
  scored alike, rank 4).

Every set also gives its (chosen, rejected) pairs, one per chosen and rejected answer, for the pairwise figures.
Each distinct (prompt, answer) in a chunk of sets is scored once, so identical answers tie exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reward.config import CHUNK_ROWS
from reward.tables.columns import check_text_columns, is_missing, is_not_text, missing_columns_message
from reward.tables.formats import FileProblem, columns_text, rows_text

from .scoring import ProgressCallback, stopped

if TYPE_CHECKING:
    import pandas as pd

    from reward.model.reward_model import PairScore, RewardModel

BEST_OF_N = "best_of_n"
"""The layout's name (:data:`reward.jobs.pairs.LAYOUT_NAMES`)."""
SET_COLUMNS = ("score_chosen", "scores_chosen", "scores_rejected", "margin", "rank_chosen", "correct", "truncated")
"""What the per-set output adds after every input column, in this order (``scores_chosen`` only when the chosen
column holds lists): ``score_chosen`` a float, ``scores_chosen`` and ``scores_rejected`` lists of floats (one per
answer, in the list's order), ``margin`` a float, ``rank_chosen`` a whole number, ``correct`` and ``truncated``
(any answer of the set cut at the model's ``max_length``) true or false. A CSV or TSV output holds each list as
JSON text (``[1.25, -0.5]``), every float written so that it reads back to the same bits."""


def _is_answer_list(value: object) -> bool:
    """A list (or tuple, array) that is not a chat conversation: a list of answers, possibly bad ones."""
    if not is_not_text(value) or isinstance(value, (dict, set)):
        return False
    items = list(value)
    return not (items and all(isinstance(m, dict) and "role" in m and "content" in m for m in items))


def holds_answer_lists(column: pd.Series) -> bool:
    """Whether a column holds lists of answers: some cells are such lists, and at least as many as are text."""
    lists = texts = 0
    for value in column.tolist():
        if isinstance(value, str):
            texts += 1
        elif _is_answer_list(value):
            lists += 1
    return lists > 0 and lists >= texts


@dataclass(frozen=True)
class BestOfNSets:
    """Sets ready to score: the table as read (kept exactly, for the output) and each set's texts."""

    table: pd.DataFrame
    prompts: list[str]
    chosen: list[list[str]]
    """Each set's chosen answers (one, unless the chosen column holds lists)."""
    rejected: list[list[str]]
    chosen_is_list: bool
    name: str = "the sets"
    layout: str = BEST_OF_N


def _kind(value: object) -> str:
    """What a cell holds, in words, for refusals."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if is_not_text(value):
        return "a list"
    if is_missing(value):
        return "null (no value)"
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        return "a number"
    return f"a {type(value).__name__}"


def _answer_lists(column: pd.Series, col: str, side: str, name: str) -> list[list[str]]:
    """Each cell of a list column as a list of texts, or FileProblem naming the rows (not a list, empty, not text)."""
    not_list: list[int] = []
    empty: list[int] = []
    not_text: list[int] = []
    first_item: tuple[int, str] | None = None
    lists: list[list[str]] = []
    for row, value in enumerate(column.tolist(), start=1):
        if not _is_answer_list(value):
            not_list.append(row)
            continue
        items = list(value)
        if not items:
            empty.append(row)
        bad = next((k for k, item in enumerate(items, start=1) if not isinstance(item, str)), None)
        if bad is not None:
            not_text.append(row)
            first_item = first_item or (bad, _kind(items[bad - 1]))
        lists.append(items)
    if not_list:
        first = _kind(column.iloc[not_list[0] - 1])
        which = f", which holds {first}" if len(not_list) == 1 else f" (row {not_list[0]:,} holds {first})"
        raise FileProblem(f"{name}: column {col!r} holds lists of {side} answers (a best-of-N file), but not in "
                          f"{rows_text(not_list)}{which}. Give every row a list of answers ([\"...\"] for one), or "
                          "delete those rows; nothing was scored.")
    if empty:
        raise FileProblem(f"{name}: column {col!r} holds an empty list in {rows_text(empty)}: a set needs at least "
                          f"one {side} answer. Add the answers, or delete those rows; nothing was scored.")
    if not_text:
        item, kind = first_item
        which = "" if len(not_text) == 1 else f"row {not_text[0]:,}'s "
        raise FileProblem(f"{name}: column {col!r} holds a list with an answer that is not text in "
                          f"{rows_text(not_text)} ({which}item {item} is {kind}). Give every answer as text (\"\" for "
                          "an empty one), or delete those rows; nothing was scored.")
    return lists


def prepare_sets(df: pd.DataFrame, *, prompt_column: str | None = None, chosen_column: str = "chosen",
                 rejected_column: str = "rejected", name: str = "the sets") -> BestOfNSets:
    """Check a table of best-of-N sets and take its texts; the table itself is left exactly as it is.

    Args:
        df: the table as read; its rejected column holds lists of answers (:func:`holds_answer_lists`).
        prompt_column: the prompts' column (text); None means ``prompt``.
        chosen_column: one chosen answer a row (text), or a list of them.
        rejected_column: a list of rejected answers a row.
        name: the file's name, for messages.

    Raises:
        FileProblem: a column is missing; a prompt is missing or not text; a list cell is not a list, is empty, or
            holds an answer that is not text; or the table already has a column the output adds. Each names the
            column and the rows.
    """
    if len(df) == 0:
        raise FileProblem(f"{name} has no data rows: add at least one set (prompt, chosen, rejected answers).")
    prompt_column = prompt_column or "prompt"
    chosen_is_list = chosen_column in df.columns and holds_answer_lists(df[chosen_column])
    text_columns = {"prompt": prompt_column} if chosen_is_list else {"prompt": prompt_column, "chosen": chosen_column}
    missing = [(role, col) for role, col in (("prompt", prompt_column), ("chosen", chosen_column))
               if col not in df.columns]
    if missing:
        raise FileProblem(missing_columns_message(df, missing, name))
    checked = df[list(dict.fromkeys(text_columns.values()))].copy()
    check_text_columns(checked, text_columns, name)  # on a copy: numbers become text for scoring, not in the output
    taken = [c for c in SET_COLUMNS if c in df.columns]
    if taken:
        raise FileProblem(f"{name} already has {'a column' if len(taken) == 1 else 'columns'} {columns_text(taken)}, "
                          f"which the per-set results add. Rename or remove {'it' if len(taken) == 1 else 'them'} "
                          "first, so that nothing in the file is overwritten.")
    chosen = (_answer_lists(df[chosen_column], chosen_column, "chosen", name) if chosen_is_list
              else [[text] for text in checked[chosen_column].tolist()])
    rejected = _answer_lists(df[rejected_column], rejected_column, "rejected", name)
    return BestOfNSets(df, checked[prompt_column].tolist(), chosen, rejected, chosen_is_list, name)


# -- scoring -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredSets:
    """Each set's scores, in the order of its answers; ``seconds`` the scoring's wall time."""

    sets: BestOfNSets
    chosen: list[list[PairScore]]
    rejected: list[list[PairScore]]
    seconds: float


def set_verdict(chosen: Sequence[float], rejected: Sequence[float]) -> tuple[float, float, int, bool]:
    """(score_chosen, margin, rank_chosen, correct) of one set from its scores (see the module docstring)."""
    low = min(chosen)
    margin = low - max(rejected)
    return low, margin, 1 + sum(1 for r in rejected if r >= low), margin > 0


def set_table(sets: BestOfNSets, chosen: list[list[PairScore]], rejected: list[list[PairScore]]) -> pd.DataFrame:
    """The per-set output: the first ``len(chosen)`` rows of the table as read, every column exactly, with
    :data:`SET_COLUMNS` added."""
    import numpy as np

    done = len(chosen)
    table = sets.table.iloc[:done].copy()
    chosen_scores = [[s.score for s in group] for group in chosen]
    rejected_scores = [[s.score for s in group] for group in rejected]
    verdicts = [set_verdict(c, r) for c, r in zip(chosen_scores, rejected_scores)]
    added = {"score_chosen": np.array([v[0] for v in verdicts], dtype=np.float64)}
    if sets.chosen_is_list:
        added["scores_chosen"] = _object_column(chosen_scores)
    added.update({"scores_rejected": _object_column(rejected_scores),
                  "margin": np.array([v[1] for v in verdicts], dtype=np.float64),
                  "rank_chosen": np.array([v[2] for v in verdicts], dtype=np.int64),
                  "correct": np.array([v[3] for v in verdicts], dtype=bool),
                  "truncated": np.array([any(s.truncated for s in c + r) for c, r in zip(chosen, rejected)],
                                        dtype=bool)})
    for column, values in added.items():
        table[column] = values
    return table


def _object_column(lists: list[list[float]]):
    import numpy as np

    column = np.empty(len(lists), dtype=object)  # one list a cell (numpy would make a 2-D array of equal lengths)
    for i, values in enumerate(lists):
        column[i] = values
    return column


def score_sets(model: RewardModel, sets: BestOfNSets, *, progress: ProgressCallback | None = None,
               chunk_rows: int = CHUNK_ROWS) -> ScoredSets:
    """Score every answer of every set, in file order, about ``chunk_rows`` answers at a time (a set is never split);
    each distinct (prompt, answer) of a chunk is scored once.

    Raises:
        ScoringInterrupted: scoring stopped part-way; its ``partial`` is :func:`set_table` of the sets scored so far.
    """
    n = len(sets.prompts)
    chosen: list[list[PairScore]] = []
    rejected: list[list[PairScore]] = []
    start_time = time.perf_counter()
    start = 0
    try:
        while start < n:
            stop, texts = start, 0
            while stop < n and (stop == start or texts + len(sets.chosen[stop]) + len(sets.rejected[stop])
                                <= chunk_rows):
                texts += len(sets.chosen[stop]) + len(sets.rejected[stop])
                stop += 1
            keys = list(dict.fromkeys((sets.prompts[i], text) for i in range(start, stop)
                                      for text in (*sets.chosen[i], *sets.rejected[i])))

            def chunk_progress(d: int, t: int, offset: int = start, size: int = stop - start) -> None:
                if progress is not None:
                    progress(offset + d * size // t, n)

            scored = dict(zip(keys, model.score_pairs([p for p, _ in keys], [a for _, a in keys],
                                                      progress=chunk_progress)))
            for i in range(start, stop):
                chosen.append([scored[(sets.prompts[i], text)] for text in sets.chosen[i]])
                rejected.append([scored[(sets.prompts[i], text)] for text in sets.rejected[i]])
            start = stop
    except BaseException as err:
        done = len(rejected)
        raise stopped(err, done, n, "sets", set_table(sets, chosen[:done], rejected), None) from err
    return ScoredSets(sets, chosen, rejected, time.perf_counter() - start_time)


def expanded_pairs(scored: ScoredSets) -> dict[str, list]:
    """Every (chosen, rejected) pair of every set, in set order, then chosen and rejected order: ``row`` (the set's
    row, from 1), ``prompt``, ``chosen``, ``rejected``, ``score_chosen``, ``score_rejected``, ``tokens_chosen``,
    ``tokens_rejected``, ``truncated``."""
    sets = scored.sets
    out: dict[str, list] = {k: [] for k in ("row", "prompt", "chosen", "rejected", "score_chosen", "score_rejected",
                                            "tokens_chosen", "tokens_rejected", "truncated")}
    for i, (chosen_scores, rejected_scores) in enumerate(zip(scored.chosen, scored.rejected)):
        for text_c, c in zip(sets.chosen[i], chosen_scores):
            for text_r, r in zip(sets.rejected[i], rejected_scores):
                for key, value in (("row", i + 1), ("prompt", sets.prompts[i]), ("chosen", text_c),
                                   ("rejected", text_r), ("score_chosen", c.score), ("score_rejected", r.score),
                                   ("tokens_chosen", c.tokens), ("tokens_rejected", r.tokens),
                                   ("truncated", c.truncated or r.truncated)):
                    out[key].append(value)
    return out


def set_figures(scored: ScoredSets) -> dict[str, list]:
    """Per set: ``correct``, ``margin``, ``longer`` (every chosen answer strictly longer, in characters, than every
    rejected one: what always picking the longest answer gets right), ``pair_wins`` and ``pair_counts`` (its
    (chosen, rejected) pairs won and in all), and the ``answer_scores`` and ``answer_lengths`` of all its answers,
    each answer once (for the score-length correlation)."""
    sets = scored.sets
    out: dict[str, list] = {k: [] for k in ("correct", "margin", "longer", "pair_wins", "pair_counts",
                                            "answer_scores", "answer_lengths")}
    for i, (chosen_scores, rejected_scores) in enumerate(zip(scored.chosen, scored.rejected)):
        c = [s.score for s in chosen_scores]
        r = [s.score for s in rejected_scores]
        _, margin, _, correct = set_verdict(c, r)
        out["correct"].append(correct)
        out["margin"].append(margin)
        out["longer"].append(min(map(len, sets.chosen[i])) > max(map(len, sets.rejected[i])))
        out["pair_wins"].append(sum(1 for a in c for b in r if a > b))
        out["pair_counts"].append(len(c) * len(r))
        out["answer_scores"].extend(c + r)
        out["answer_lengths"].extend(len(t) for t in (*sets.chosen[i], *sets.rejected[i]))
    return out
