"""Read preference pairs in any of three layouts into (prompt, chosen, rejected) text.

Layouts read (detected from the columns):

* ``prompt``, ``chosen``, ``rejected`` text columns (names can be changed);
* no prompt column, ``chosen`` and ``rejected`` as whole dialogues that share
  their beginning, as in Anthropic's HH-RLHF (``"\\n\\nHuman: ...\\n\\nAssistant: ..."``):
  each pair is split at the last ``"\\n\\nAssistant:"`` that both sides share; the
  prompt is the dialogue before it, the responses what each side says after it
  (an empty last turn is scored as an empty response);
* ``chosen`` and ``rejected`` as lists of chat messages (``{"role", "content"}``,
  as in UltraFeedback-style data): the responses are the last assistant messages;
  the prompt is the ``prompt`` column if there is one, else the messages both share, flattened as a
  conversation typed on Compare is (:func:`reward.insight.conversation.flatten_conversation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import MAX_FILE_BYTES, MAX_ROWS
from reward.insight.conversation import flatten_conversation
from reward.tables.columns import check_text_columns, is_not_text
from reward.tables.formats import FileProblem, columns_text, rows_text
from reward.tables.reading import read_table

if TYPE_CHECKING:
    import pandas as pd

ASSISTANT = "\n\nAssistant:"

LAYOUT_NAMES = {
    "columns": "prompt, chosen and rejected columns",
    "dialogues": "HH-RLHF dialogues, split at the last shared \"Assistant:\" turn",
    "messages": "chat-message lists",
    "best_of_n": "best-of-N sets: a chosen answer (or several) against a list of rejected ones",
}


@dataclass(frozen=True)
class PairSet:
    """Preference pairs ready to score: a frame with ``row``, ``prompt``, ``chosen``, ``rejected`` columns."""

    frame: pd.DataFrame
    layout: str
    """"columns", "dialogues" or "messages" (see :data:`LAYOUT_NAMES`)."""
    name: str = "the pairs"


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
    if not is_not_text(value) or isinstance(value, dict):
        return None
    items = list(value)
    if not items or not all(isinstance(m, dict) and "role" in m and "content" in m for m in items):
        return None
    return items


def _is_text_message(message: dict) -> bool:
    return isinstance(message["role"], str) and isinstance(message["content"], str)


def _last_assistant(messages: Sequence[dict]) -> tuple[int, str] | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return i, messages[i]["content"]
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
            f"{columns_text(list(df.columns))}. Say which column holds the prompts with --prompt-column on the "
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
    prompts, chosen_out, rejected_out, bad, not_text, unshared = [], [], [], [], [], []
    for row, (c, r) in enumerate(zip(df[chosen_column].tolist(), df[rejected_column].tolist()), start=1):
        cm, rm = _messages(c), _messages(r)
        if cm is not None and rm is not None and not all(_is_text_message(m) for m in (*cm, *rm)):
            not_text.append(row)
            continue
        last_c = _last_assistant(cm) if cm else None
        last_r = _last_assistant(rm) if rm else None
        if last_c is None or last_r is None:
            bad.append(row)
            continue
        # An empty reply is real data: scored as an empty response, as the card's code scores it.
        chosen_out.append(last_c[1].strip())
        rejected_out.append(last_r[1].strip())
        if prompt_column is None:
            history = cm[:last_c[0]]
            if history != rm[:last_r[0]] or not history:
                unshared.append(row)
                continue
            prompts.append(flatten_conversation(history))  # as a chat prompt is flattened
    if not_text:
        raise FileProblem(f"{name}: in {rows_text(not_text)} a chat message's \"role\" or \"content\" in the "
                          f"{chosen_column!r} or {rejected_column!r} cell is not text (null, a number, a list or an "
                          "object). Give every message text content (\"\" for an empty one), or delete those rows.")
    if bad:
        raise FileProblem(f"{name}: in {rows_text(bad)} the {chosen_column!r} or {rejected_column!r} cell is not a "
                          "list of chat messages with an assistant message. Fix or delete those rows.")
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
