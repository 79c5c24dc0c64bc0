"""Check a reward model on preference pairs: how often does it score the chosen response above the rejected one?

The model card reports 52.61% accuracy on WebGPT comparisons; this measures the
same thing on anyone's pairs. Used by the app's Evaluate tab and by
``python -m reward evaluate``.

Layouts read (detected from the columns):

* ``prompt``, ``chosen``, ``rejected`` text columns (names can be changed);
* no prompt column, ``chosen`` and ``rejected`` as whole dialogues that share
  their beginning, as in Anthropic's HH-RLHF (``"\\n\\nHuman: ...\\n\\nAssistant: ..."``):
  each pair is split at the last ``"\\n\\nAssistant:"`` that both sides share; the
  prompt is the dialogue before it, the responses what each side says after it
  (an empty last turn is scored as an empty response);
* ``chosen`` and ``rejected`` as lists of chat messages (``{"role", "content"}``,
  as in UltraFeedback-style data): the responses are the last assistant messages;
  the prompt is the ``prompt`` column if there is one, else the messages both share.

A pair is *correct* when the chosen response scores strictly above the rejected
one; a *tie* is exactly equal scores (identical texts always tie: each distinct
text is scored once). The 95% interval is a percentile bootstrap of the accuracy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .files import (
    CHUNK_ROWS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    FileProblem,
    ProgressCallback,
    ScoringInterrupted,
    _columns_text,
    _not_text,
    check_output_path,
    check_text_columns,
    read_table,
    rows_text,
    save_or_rescue,
    stopped,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .model import RewardModel

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_PAIRS = ASSETS / "sample_pairs.jsonl"
"""Clear-cut pairs written for this project: a one-click try of the Evaluate tab."""

ASSISTANT = "\n\nAssistant:"
HUMAN = "\n\nHuman:"
RESAMPLES = 2000
SEED = 0

LAYOUT_NAMES = {
    "columns": "prompt, chosen and rejected columns",
    "dialogues": "HH-RLHF dialogues, split at the last shared \"Assistant:\" turn",
    "messages": "chat-message lists",
}

RESULT_COLUMNS = ["row", "prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin", "correct",
                  "tie", "tokens_chosen", "tokens_rejected", "truncated"]


@dataclass(frozen=True)
class PairSet:
    """Preference pairs ready to score: a frame with ``row``, ``prompt``, ``chosen``, ``rejected`` columns."""

    frame: pd.DataFrame
    layout: str
    """"columns", "dialogues" or "messages" (see :data:`LAYOUT_NAMES`)."""
    name: str = "the pairs"


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

    @property
    def pairs_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else float("inf")

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


# -- reading the layouts ------------------------------------------------------------------------


def split_dialogues(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """Split two HH-RLHF dialogues into (prompt, chosen response, rejected response).

    The split is at the last ``"\\n\\nAssistant:"`` that lies in the text both
    share, so each response is what its side says from there on. Returns None when
    the two share no such point.

    >>> split_dialogues("\\n\\nHuman: Hi?\\n\\nAssistant: Hello!", "\\n\\nHuman: Hi?\\n\\nAssistant: Go away.")
    ('Human: Hi?', 'Hello!', 'Go away.')
    """
    shared = _common_prefix_length(chosen, rejected)
    cut = chosen.rfind(ASSISTANT, 0, shared)
    if cut < 0 or cut + len(ASSISTANT) > shared:
        return None
    after = cut + len(ASSISTANT)
    # The tokenizer ignores surrounding white space, so stripping changes no score; it only reads better.
    return chosen[:cut].strip(), chosen[after:].strip(), rejected[after:].strip()


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # binary search on slices: fast in C even for long dialogues
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _messages(value: object) -> list[dict] | None:
    """A cell as a list of {"role", "content"} messages, or None when it is not one."""
    if not _not_text(value) or isinstance(value, dict):
        return None
    items = list(value)
    if not items or not all(isinstance(m, dict) and "role" in m and "content" in m for m in items):
        return None
    return items


def _render_messages(messages: Sequence[dict]) -> str:
    """Shared chat history as one prompt: a lone user message as itself, longer ones HH-style."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return str(messages[0]["content"]).strip()
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{names.get(m['role'], str(m['role']).capitalize())}: {str(m['content']).strip()}"
                       for m in messages)


def _last_assistant(messages: Sequence[dict]) -> tuple[int, str] | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return i, str(messages[i]["content"])
    return None


def prepare_pairs(df: pd.DataFrame, *, prompt_column: str | None = None, chosen_column: str = "chosen",
                  rejected_column: str = "rejected", name: str = "the pairs") -> PairSet:
    """Turn a table in any supported layout into (prompt, chosen, rejected) text pairs.

    Args:
        df: the table as read.
        prompt_column: the prompts' column; None uses ``prompt`` if there is one, else takes the
            prompt from the dialogues or messages in the chosen and rejected columns.
        chosen_column, rejected_column: the responses' columns.
        name: the file's name, for messages.

    Raises:
        FileProblem: a column is missing, a cell is empty, or dialogues cannot be split (names the rows).
    """
    import pandas as pd

    if len(df) == 0:
        raise FileProblem(f"{name} has no data rows: add at least one (prompt, chosen, rejected) pair.")
    explicit_prompt = prompt_column is not None
    prompt_column = prompt_column or "prompt"
    sides = {"chosen": chosen_column, "rejected": rejected_column}
    missing = [(role, col) for role, col in sides.items() if col not in df.columns]
    if explicit_prompt and prompt_column not in df.columns:
        missing.insert(0, ("prompt", prompt_column))
    if missing:
        check_text_columns(df, dict(missing), name)  # raises with the columns listed and the flags to use
    has_prompt = prompt_column in df.columns
    rows = list(range(1, len(df) + 1))

    first = df[chosen_column].iloc[0]
    if _messages(first) is not None:
        return _prepare_messages(df, prompt_column if has_prompt else None, chosen_column, rejected_column, name)
    if has_prompt:
        check_text_columns(df, {"prompt": prompt_column, **sides}, name)
        frame = pd.DataFrame({"row": rows, "prompt": df[prompt_column].tolist(),
                              "chosen": df[chosen_column].tolist(), "rejected": df[rejected_column].tolist()})
        return PairSet(frame, "columns", name)

    check_text_columns(df, sides, name)
    chosen, rejected = df[chosen_column].tolist(), df[rejected_column].tolist()
    if not any(ASSISTANT in text for text in chosen[:100]):
        raise FileProblem(
            f"{name} has no column 'prompt', and its {chosen_column!r} cells are not dialogues with "
            f"\"\\n\\nAssistant:\" turns (as in HH-RLHF) to take the prompt from. Its columns are: "
            f"{_columns_text(list(df.columns))}. Say which column holds the prompts with --prompt-column on the "
            "command line, or the Prompt column picker in the app.")
    prompts, chosen_out, rejected_out, unsplit = [], [], [], []
    for row, (c, r) in enumerate(zip(chosen, rejected), start=1):
        parts = split_dialogues(c, r)
        if parts is None:
            unsplit.append(row)
            continue
        # An empty last turn (the assistant said nothing) is real data, kept and scored as an empty response.
        prompts.append(parts[0])
        chosen_out.append(parts[1])
        rejected_out.append(parts[2])
    if unsplit:
        raise FileProblem(
            f"{name}: in {rows_text(unsplit)} the chosen and rejected dialogues do not share a beginning that ends "
            "with \"\\n\\nAssistant:\", so there is no common prompt to split off. Fix or delete those rows, or give "
            "a prompt column.")
    frame = pd.DataFrame({"row": rows, "prompt": prompts, "chosen": chosen_out, "rejected": rejected_out})
    return PairSet(frame, "dialogues", name)


def _prepare_messages(df: pd.DataFrame, prompt_column: str | None, chosen_column: str, rejected_column: str,
                      name: str) -> PairSet:
    import pandas as pd

    if prompt_column is not None:
        check_text_columns(df, {"prompt": prompt_column}, name)
    prompts, chosen_out, rejected_out, bad, unshared = [], [], [], [], []
    for row, (c, r) in enumerate(zip(df[chosen_column].tolist(), df[rejected_column].tolist()), start=1):
        cm, rm = _messages(c), _messages(r)
        last_c = _last_assistant(cm) if cm else None
        last_r = _last_assistant(rm) if rm else None
        if last_c is None or last_r is None or not last_c[1].strip() or not last_r[1].strip():
            bad.append(row)
            continue
        chosen_out.append(last_c[1].strip())
        rejected_out.append(last_r[1].strip())
        if prompt_column is None:
            history = cm[:last_c[0]]
            if history != rm[:last_r[0]] or not history:
                unshared.append(row)
                continue
            prompts.append(_render_messages(history))
    if bad:
        raise FileProblem(f"{name}: in {rows_text(bad)} the {chosen_column!r} or {rejected_column!r} cell is not a "
                          "list of chat messages ending in a non-empty assistant message. Fix or delete those rows.")
    if prompt_column is not None:
        prompts = df[prompt_column].tolist()
    elif unshared:
        raise FileProblem(f"{name}: in {rows_text(unshared)} the chosen and rejected conversations do not share the "
                          "messages before their last assistant reply, so there is no common prompt. Give a prompt "
                          "column, or fix those rows.")
    frame = pd.DataFrame({"row": list(range(1, len(df) + 1)), "prompt": prompts, "chosen": chosen_out,
                          "rejected": rejected_out})
    return PairSet(frame, "messages", name)


def read_pairs(source: str | Path, *, prompt_column: str | None = None, chosen_column: str = "chosen",
               rejected_column: str = "rejected", name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
               max_rows: int = MAX_ROWS) -> PairSet:
    """Read a pair file (CSV, JSONL, JSON or Parquet) and check it before any scoring: see :func:`prepare_pairs`.

    Raises:
        FileProblem: the file cannot be read or used as pairs; nothing was scored.
    """
    name = name or Path(source).name
    df = read_table(source, name=name, max_bytes=max_bytes, max_rows=max_rows)
    return prepare_pairs(df, prompt_column=prompt_column, chosen_column=chosen_column,
                         rejected_column=rejected_column, name=name)


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
        resamples=resamples, seed=seed, layout=pairs.layout)
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


def evaluate_file(model: RewardModel, source: str | Path, output: str | Path | None = None, *,
                  prompt_column: str | None = None, chosen_column: str = "chosen", rejected_column: str = "rejected",
                  name: str | None = None, progress: ProgressCallback | None = None, resamples: int = RESAMPLES,
                  seed: int = SEED, chunk_rows: int = CHUNK_ROWS, max_bytes: int = MAX_FILE_BYTES,
                  max_rows: int = MAX_ROWS) -> Evaluation:
    """Read a pair file, evaluate the model on it, and write the per-pair results to ``output`` if given.

    Raises:
        FileProblem: the file (or ``output``) cannot be used; nothing was scored.
        ScoringInterrupted: scoring stopped part-way; the pairs scored so far were written to ``output``.
    """
    if output is not None:
        output = check_output_path(output, source)
    pairs = read_pairs(source, prompt_column=prompt_column, chosen_column=chosen_column,
                       rejected_column=rejected_column, name=name, max_bytes=max_bytes, max_rows=max_rows)
    return evaluate_to_file(model, pairs, output, progress=progress, resamples=resamples, seed=seed,
                            chunk_rows=chunk_rows)


def evaluate_to_file(model: RewardModel, pairs: PairSet, output: str | Path | None, *,
                     progress: ProgressCallback | None = None, resamples: int = RESAMPLES, seed: int = SEED,
                     chunk_rows: int = CHUNK_ROWS) -> Evaluation:
    """:func:`evaluate_pairs`, then the per-pair results written to ``output`` (if not None).

    Raises:
        ScoringInterrupted: scoring stopped part-way; the pairs scored so far were written to ``output``
            (and are in its ``partial`` attribute).
    """
    try:
        evaluation = evaluate_pairs(model, pairs, progress=progress, resamples=resamples, seed=seed,
                                    chunk_rows=chunk_rows)
    except ScoringInterrupted as stop:
        if output is None or stop.cause is None:
            raise
        raise stopped(stop.cause, stop.done, stop.total, "pairs", stop.partial, Path(output)) from stop.cause
    if output is not None:
        save_or_rescue(evaluation.results, Path(output))
    return evaluation
