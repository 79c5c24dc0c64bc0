"""Score a table in chunks, keep what was scored when it stops, and the one score-a-file pipeline.

The app's Batch tab, ``python -m reward score`` and the tests all call
:func:`score_file`: read and check the input, check the output, load the model,
score, write. Every problem with the input is found *before scoring starts*
(:class:`~reward.tables.formats.FileProblem`); once scoring has started nothing already
scored is lost: if it is interrupted, the rows scored so far are written out
(:class:`ScoringInterrupted` says where).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import CHUNK_ROWS, MAX_FILE_BYTES, MAX_ROWS
from reward.tables.columns import check_text_columns
from reward.tables.formats import FileProblem, columns_text
from reward.tables.outputs import ResultRescued, check_output_path, keep, save_or_rescue
from reward.tables.reading import read_table

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd

    from reward.model.reward_model import RewardModel

SCORE_COLUMNS = ("score", "tokens", "truncated")
"""The columns that scoring adds, in this order."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` as rows are scored."""
ModelSource = "RewardModel | Callable[[], RewardModel]"
"""A loaded model, or a function that loads it (called once the input has passed every check)."""


class ScoringFailed(RuntimeError):
    """Scoring could not go on (e.g. the Ray cluster gave up on a block); the message is already one line for the
    user, so :func:`stopped` shows it whole, where it shortens other errors."""


class ScoringInterrupted(RuntimeError):
    """Scoring stopped part-way (an error, or Ctrl+C); what was scored before it is kept.

    Attributes:
        done: rows (or pairs) scored before it stopped.
        total: rows (or pairs) in the file.
        output: where the partial result was written, or None when nothing was written.
        partial: the partial result in memory (the scored table, or the per-pair results so far).
        cause: what stopped it (``KeyboardInterrupt`` for Ctrl+C).
    """

    def __init__(self, message: str, *, done: int, total: int, output: Path | None = None,
                 partial: pd.DataFrame | None = None, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.done, self.total, self.output, self.partial, self.cause = done, total, output, partial, cause


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did."""

    rows: int
    truncated: int
    """Rows longer than ``max_length`` tokens, which the model read cut."""
    seconds: float
    """Wall time of the scoring itself (reading and writing the file excluded)."""
    max_length: int
    rows_per_second: float
    empty: int = 0
    """Rows whose response is empty or white space only (scored as the model card's code scores them)."""


def per_second(count: int, seconds: float) -> float:
    """A rate that never divides by zero (a run too fast to time is infinitely fast)."""
    return count / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True)
class ScoredFile:
    """A scored table, kept in memory for a preview, and where it was written."""

    table: pd.DataFrame
    summary: ScoreSummary
    output: Path


def load_for_scoring(source: str | Path, prompt_column: str = "prompt", response_column: str = "response", *,
                     name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
                     max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Read a file and check everything scoring will need, so that a bad file is refused before it starts.

    Raises:
        FileProblem: see :func:`read_table` and :func:`check_text_columns`; also when the file
            already has a ``score``, ``tokens`` or ``truncated`` column, which scoring would overwrite.
    """
    name = name or Path(source).name
    df = read_table(source, name=name, max_bytes=max_bytes, max_rows=max_rows)
    check_text_columns(df, {"prompt": prompt_column, "response": response_column}, name)
    taken = [c for c in SCORE_COLUMNS if c in df.columns]
    if taken:
        raise FileProblem(f"{name} already has {'a column' if len(taken) == 1 else 'columns'} "
                          f"{columns_text(taken)}, which scoring adds. Rename or remove "
                          f"{'it' if len(taken) == 1 else 'them'} first, so that nothing in the file is overwritten.")
    return df


# -- scoring and keeping what was scored ------------------------------------------------------


def score_table(model: RewardModel, df: pd.DataFrame, prompt_column: str = "prompt",
                response_column: str = "response", *, progress: ProgressCallback | None = None,
                chunk_rows: int = CHUNK_ROWS) -> ScoreSummary:
    """Score every row of ``df`` and add ``score``, ``tokens`` and ``truncated`` columns to it, in place.

    Rows keep their order. The table is scored ``chunk_rows`` rows at a time, in
    file order (:func:`scored_chunks`); :meth:`RewardModel.score_pairs` sorts each chunk by length and
    scores it in micro-batches. No copy of the table is made.

    If scoring stops part-way (an exception, or Ctrl+C) the columns are still
    added before the exception propagates: scored rows have their values, the rest
    are empty (NaN / <NA>). :func:`scored_rows` counts them.

    Args:
        model: a loaded reward model.
        df: the table; its text columns must pass :func:`check_text_columns` (checked here too).
        prompt_column, response_column: which columns hold the prompts and the responses.
        progress: called as ``progress(rows_done, rows_total)`` after each micro-batch.
        chunk_rows: rows scored together.

    Returns:
        A :class:`ScoreSummary`.
    """
    import numpy as np
    import pandas as pd

    check_text_columns(df, {"prompt": prompt_column, "response": response_column}, "the table")
    n = len(df)
    scores = np.full(n, np.nan, dtype=np.float64)
    tokens = np.zeros(n, dtype=np.int64)
    truncated = np.zeros(n, dtype=bool)
    empty = 0
    done = 0
    start_time = time.perf_counter()
    try:
        # closing(): a stream stopped early (an error, Ctrl+C) stops its scoring now, not when it is collected
        with contextlib.closing(scored_chunks(model, df[prompt_column], df[response_column], progress,
                                              chunk_rows)) as chunks:
            for scored in chunks:
                stop = done + len(scored)
                empty += count_empty(df[response_column].iloc[done:stop].tolist())
                scores[done:stop] = [s.score for s in scored]
                tokens[done:stop] = [s.tokens for s in scored]
                truncated[done:stop] = [s.truncated for s in scored]
                done = stop  # from here on this chunk is kept, whatever stops the next one
    finally:
        seconds = time.perf_counter() - start_time
        unscored = np.arange(n) >= done
        df["score"] = scores
        df["tokens"] = pd.arrays.IntegerArray(tokens, mask=unscored.copy())
        df["truncated"] = pd.arrays.BooleanArray(truncated, mask=unscored)
    return ScoreSummary(rows=n, truncated=int(truncated.sum()), seconds=seconds, max_length=model.max_length,
                        rows_per_second=per_second(n, seconds), empty=empty)


def scored_chunks(model: RewardModel, prompts: pd.Series, responses: pd.Series, progress: ProgressCallback | None,
                  chunk_rows: int) -> Iterator[list]:
    """The scores of consecutive chunks of the pairs, in file order, as each chunk is finished.

    A model that scores a whole file as one job (:class:`~reward.jobs.distributed.RayModel` has ``score_stream``: one
    Ray Data dataset and one pool of replicas) is handed every pair at once; any other is called chunk by chunk.
    Either way the caller keeps each chunk as it comes, so what was finished before a failure is kept.
    """
    n = len(prompts)
    stream = getattr(model, "score_stream", None)
    if stream is not None:
        yield from stream(prompts.tolist(), responses.tolist(), progress=progress)
        return
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)

        def chunk_progress(d: int, _t: int, offset: int = start) -> None:
            if progress is not None:
                progress(offset + d, n)

        yield model.score_pairs(prompts.iloc[start:stop].tolist(), responses.iloc[start:stop].tolist(),
                                progress=chunk_progress)


def count_empty(texts: list[str]) -> int:
    """How many texts are empty or white space only: scored as the card's code scores them, and counted."""
    return sum(1 for t in texts if not t.strip())


def scored_rows(df: pd.DataFrame) -> int:
    """How many rows of a table from :func:`score_table` were scored (all, unless it was interrupted)."""
    return int(df["tokens"].notna().sum()) if "tokens" in df.columns else 0


def stopped(cause: BaseException, done: int, total: int, unit: str, partial: pd.DataFrame | None,
            destination: Path | None, *, neutralize_formulas: bool = False) -> ScoringInterrupted:
    """A :class:`ScoringInterrupted` for ``cause``, after writing ``partial`` to ``destination`` when
    anything was scored (a failure to write is reported in the message, not raised)."""
    if isinstance(cause, KeyboardInterrupt):
        why = "interrupted"
    elif isinstance(cause, ScoringFailed):
        why = str(cause)
    else:
        why = f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}".rstrip(": ")
    head = f"Scoring stopped after {done:,} of {total:,} {unit} ({why})."
    output = None
    if done == 0 or partial is None or destination is None:
        tail = " Nothing was written."
    else:
        try:
            output, problem = keep(partial, destination, neutralize_formulas=neutralize_formulas)
            tail = ((f" {problem} So the" if problem else " The") + f" {done:,} scored {unit} were written to {output}"
                    + (f"; {unit} {done + 1:,}-{total:,} have empty score columns." if unit == "rows" and done < total
                       else "."))
        except FileProblem as err:
            tail = f" Writing the scored {unit} failed too: {err}"
    return ScoringInterrupted(head + tail, done=done, total=total, output=output, partial=partial, cause=cause)


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl+C: what was scored is kept (the command line exits 130)."""


@contextlib.contextmanager
def sigterm_interrupts():
    """While a job runs, SIGTERM interrupts it as Ctrl+C does: without this Python dies at once and loses what was
    scored. A second SIGTERM is ignored, so that the first one's writing of the scored rows finishes."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def score_file(model: ModelSource, source: str | Path, destination: str | Path, prompt_column: str = "prompt",
               response_column: str = "response", *, name: str | None = None,
               progress: ProgressCallback | None = None, chunk_rows: int = CHUNK_ROWS,
               max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS,
               neutralize_formulas: bool = False) -> ScoredFile:
    """Read ``source``, score every row, and write it to ``destination`` with ``score``, ``tokens`` and
    ``truncated`` added: the one pipeline of the Batch tab, the command line and the tests.

    The output is checked first, then the whole input, and only then is the model
    loaded (``model`` may be a function that loads it), so a bad file fails at
    once. The output's format follows ``destination``'s extension
    (:func:`~reward.tables.formats.scored_name` gives a default name in the input's
    format). Rows keep their order. ``neutralize_formulas``: see :func:`~reward.tables.writing.write_table`.

    Raises:
        FileProblem: the input or the destination cannot be used; nothing was scored.
        ModelLoadError: the model cannot be loaded; nothing was scored.
        ScoringInterrupted: scoring stopped part-way; the scored rows were written to ``destination``.
        ResultRescued: every row was scored but ``destination`` could not be written; its ``result``
            holds the scored table and the rescue copy's path.
    """
    destination = check_output_path(destination, source)
    df = load_for_scoring(source, prompt_column, response_column, name=name, max_bytes=max_bytes,
                          max_rows=max_rows)
    loaded = resolve_model(model)
    try:
        summary = score_table(loaded, df, prompt_column, response_column, progress=progress, chunk_rows=chunk_rows)
    except FileProblem:
        raise
    except BaseException as err:
        raise stopped(err, scored_rows(df), len(df), "rows", df, destination,
                      neutralize_formulas=neutralize_formulas) from err
    try:
        save_or_rescue(df, destination, neutralize_formulas=neutralize_formulas)
    except ResultRescued as kept:
        kept.result = ScoredFile(df, summary, kept.rescue)
        raise
    return ScoredFile(df, summary, destination)


def resolve_model(model: ModelSource) -> RewardModel:
    """The model itself, or what a loading function returns."""
    return model() if callable(model) else model
