"""Check the text columns a job will read, and guess which columns hold the prompts and the responses."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reward.config import WRITE_ROWS

from .formats import FileProblem, columns_text, rows_text

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd


def is_not_text(value: object) -> bool:
    return isinstance(value, (list, tuple, dict, set)) or type(value).__name__ == "ndarray"


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # noqa: PLR0124 - true only for NaN and NaT; pd.NA raises
    except TypeError:
        return True


def check_text_columns(df: pd.DataFrame, columns: dict[str, str], name: str) -> None:
    """Check that each role's column exists and holds text in every row.

    Empty and white-space-only texts are text: they are scored as the model card's
    code scores them (real preference data has empty responses). Numbers are
    turned into their text (``42`` -> ``"42"``) and UTF-8 bytes are decoded, in
    place. Missing cells (null, NaN, an absent JSON key) and values that are not
    text (lists, dicts, ...) are refused, naming the rows.

    Args:
        df: the table.
        columns: role -> column name, e.g. ``{"prompt": "question", "response": "answer"}``; the
            role names the command-line flag (``--prompt-column``) and the app's picker ("Prompt column").
        name: the file's name, for messages.

    Raises:
        FileProblem: a column is missing, or some cells are missing or not text.
    """
    missing = [(role, col) for role, col in columns.items() if col not in df.columns]
    if missing:
        raise FileProblem(missing_columns_message(df, missing, name))
    for role, col in columns.items():
        absent: list[int] = []
        not_text: list[int] = []
        undecodable: list[int] = []
        fixed: dict[int, str] = {}  # position -> text, for cells that were numbers or bytes
        column = df[col]
        # A slice at a time: the column is never held a second time as Python strings.
        for start in range(0, len(column), WRITE_ROWS):
            for i, value in enumerate(column.iloc[start:start + WRITE_ROWS].tolist(), start=start):
                if isinstance(value, str):
                    continue
                if isinstance(value, (bytes, bytearray)):
                    try:
                        fixed[i] = bytes(value).decode("utf-8")
                    except UnicodeDecodeError:
                        undecodable.append(i + 1)
                elif is_not_text(value):
                    not_text.append(i + 1)
                elif is_missing(value):
                    absent.append(i + 1)
                else:
                    fixed[i] = str(value)
        where = f"column {col!r}"
        if undecodable:
            raise FileProblem(f"{name}: {where} is not UTF-8 text in {rows_text(undecodable)}. "
                              "Store the text as UTF-8.")
        if not_text:
            kind = type(column.iloc[not_text[0] - 1]).__name__
            raise FileProblem(f"{name}: {where} holds a {kind}, not text, in {rows_text(not_text)}. "
                              f"Choose a column of plain text for the {role}s.")
        if absent:
            raise FileProblem(f"{name}: {where} has no value (null, or no such key) in {rows_text(absent)} (rows "
                              "numbered from 1, header not counted). Fill those cells in (an empty text \"\" is "
                              "scored as it is) or delete those rows; nothing was scored.")
        if fixed:
            values = column.tolist()
            for i, value in fixed.items():
                values[i] = value
            df[col] = values


def missing_columns_message(df: pd.DataFrame, missing: list[tuple[str, str]], name: str) -> str:
    existing = [str(c) for c in df.columns]
    parts = []
    for role, col in missing:
        close = difflib.get_close_matches(col, existing, n=1, cutoff=0.6) or \
            [c for c in existing if c.lower() == col.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"no column {col!r} for the {role}s{hint}")
    roles = [role for role, _ in missing]
    flags = " and ".join(f"--{r}-column" for r in roles)
    pickers = " and ".join(f"the {r.capitalize()} column picker" for r in roles)
    message = (f"{name} has {'; '.join(parts)}. Its columns are: {columns_text(existing)}. Say which column holds "
               f"each with {flags} on the command line, or {pickers} in the app.")
    if len(existing) == 1 and any(sep in existing[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in existing[0])
        message += (f" The file seems to separate columns with {sep!r}: save it with commas (or as .tsv for "
                    "tabs).")
    return message


PROMPT_NAMES = ("prompt", "question", "instruction", "query", "input", "context")
RESPONSE_NAMES = ("response", "answer", "completion", "output", "reply", "text")


def suggest_columns(columns: Sequence[object]) -> tuple[str | None, str | None]:
    """Likely (prompt, response) columns among ``columns``, for the pickers' first choice; None where none fits.

    Exact names are tried first, then case-insensitive ones, in the order of
    :data:`PROMPT_NAMES` and :data:`RESPONSE_NAMES`.
    """
    names = [str(c) for c in columns]
    lowered = {n.lower(): n for n in reversed(names)}

    def pick(candidates: Sequence[str], taken: str | None) -> str | None:
        for want in candidates:
            for found in (want if want in names else None, lowered.get(want)):
                if found is not None and found != taken:
                    return found
        return None

    prompt = pick(PROMPT_NAMES, None)
    return prompt, pick(RESPONSE_NAMES, prompt)


SLICE_NAMES = ("category", "subset", "source", "domain")
"""Words that name a column of slices (groups of rows to report apart), in order of preference."""


def _words(name: str) -> list[str]:
    """A column name's words, lower-cased: split at anything but letters and digits, and where camelCase turns."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def _names_word(name: str, word: str) -> bool:
    forms = {word, word + "s", word[:-1] + "ies" if word.endswith("y") else word + "es"}
    return any(w in forms for w in _words(name))


def suggest_slice_column(columns: Sequence[object]) -> str | None:
    """A column that likely holds slices (a category, subset, source or domain), for the slice picker's first
    choice; None when none fits.

    A name equal to one of :data:`SLICE_NAMES` (any case) is taken first, in that order; then a name that has one of
    those words in it (``task_category``, ``dataSource``, ``Subsets``; not ``resource``), in the same order, the
    first such column of the file.
    """
    names = [str(c) for c in columns]
    for word in SLICE_NAMES:
        for found in (word if word in names else None, next((n for n in names if n.lower() == word), None)):
            if found is not None:
                return found
    for word in SLICE_NAMES:
        found = next((n for n in names if _names_word(n, word)), None)
        if found is not None:
            return found
    return None
