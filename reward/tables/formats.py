"""File formats by name, derived file names, how messages name rows and columns, and the values inside cells.

Formats are chosen by the file name's extension: ``.csv``, ``.tsv``, ``.jsonl``
(one JSON object a line), ``.json`` (an array of objects, or JSON lines),
``.parquet``, and ``.gz`` after any of the text ones (``data.jsonl.gz``).
Rows are numbered from 1 in every message, counting data rows only (a CSV
header is not a row); line numbers and byte offsets are the file's own.

Also what every reader and writer shares about the values in cells: walking
nested lists and dicts without recursion (any depth), finding lone UTF-16
surrogates and repeated names, and turning JSON records into exact columns.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import MIB

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd

# extension -> format; ".gz" may follow any of the text formats.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
SUPPORTED = ".csv, .tsv, .jsonl, .json, .parquet (and .csv.gz, .tsv.gz, .jsonl.gz, .json.gz)"


class FileProblem(ValueError):
    """A file cannot be used as it is; ``str(err)`` names the file, the row or column, and what to change."""


def rows_text(rows: Sequence[int], limit: int = 8) -> str:
    """``[3]`` -> "row 3"; ``[3, 9, 12]`` -> "rows 3, 9 and 12"; long lists end with "and N more"."""
    shown = [f"{r:,}" for r in rows[:limit]]
    if len(rows) == 1:
        return f"row {shown[0]}"
    if len(rows) > limit:
        return f"rows {', '.join(shown)} and {len(rows) - limit:,} more"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"


def columns_text(columns: Sequence[object], limit: int = 20) -> str:
    names = [repr(str(c)) for c in columns[:limit]]
    more = f" and {len(columns) - limit} more" if len(columns) > limit else ""
    return ", ".join(names) + more if names else "(none)"


def size_text(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n:,} bytes"


def file_format(path: str | Path) -> tuple[str, bool]:
    """The format a file name asks for and whether it is gzip-compressed: ``data.jsonl.gz`` -> ("jsonl", True).

    Raises:
        FileProblem: the extension is not one we read and write.
    """
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    stem = name[:-3] if gz else name
    fmt = FORMATS.get(Path(stem).suffix)
    if fmt is None or (gz and fmt == "parquet"):
        raise FileProblem(f"{Path(path).name}: the file name does not say which format it is. "
                          f"Use one of {SUPPORTED}.")
    return fmt, gz


def derived_name(source: str | Path, tag: str) -> str:
    """The name of a file made from ``source``, in the same format: ``derived_name("pairs.csv", "scored")`` ->
    ``pairs.scored.csv``, ``derived_name("hh.jsonl.gz", "evaluated")`` -> ``hh.evaluated.jsonl.gz``."""
    name = Path(source).name
    _fmt, gz = file_format(name)
    suffix = ".gz" if gz else ""
    stem, ext = os.path.splitext(name[: len(name) - len(suffix)])
    return f"{stem}.{tag}{ext}{suffix}"


def scored_name(source: str | Path) -> str:
    """The default name of a scored copy: ``pairs.csv`` -> ``pairs.scored.csv`` (same format)."""
    return derived_name(source, "scored")


def evaluated_name(source: str | Path) -> str:
    """The default name of per-pair results: ``pairs.csv`` -> ``pairs.evaluated.csv`` (same format)."""
    return derived_name(source, "evaluated")


def what_it_looks_like(head: bytes) -> str | None:
    """A short guess at what a file really is, from its first bytes, or None when it looks like text."""
    if head.startswith(b"PAR1"):
        return "a Parquet file (name it .parquet)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed (add .gz to its name, e.g. data.csv.gz)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive or an Excel workbook, not text (save it from the spreadsheet as CSV UTF-8)"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel workbook (.xls), not text (save it from the spreadsheet as CSV UTF-8)"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text (save it as UTF-8)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if b"\x00" in head.split(b"\n", 1)[0]:  # a NUL in a data cell can be text; in the first line it is not
        return "a binary file (or UTF-16 text), not UTF-8 text"
    return None


def text_kind(head: bytes) -> str:
    """"json" when text starts like JSON, else "csv"."""
    return "json" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")) else "csv"


def text_lines(text: str, keep_ends: bool = False) -> Iterator[str]:
    """The lines of ``text``, split at "\\n" only (JSON strings may hold other line separators), one at a time."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end + 1 if keep_ends else end]
        start = end + 1


# -- values inside cells: walked with an explicit stack, so no depth of nesting can exhaust Python's ----------

CONTAINERS = (list, tuple, dict, set, frozenset)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a UTF-16 surrogate pair: JSON's ``"\\ud800"`` decodes to it, and no UTF-8 writer can store it."""


def _is_container(value: object) -> bool:
    return isinstance(value, CONTAINERS) or type(value).__name__ == "ndarray"


def _children(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield item
    elif type(value).__name__ == "ndarray" and value.dtype != object:  # numbers: nothing inside to look at
        return
    else:
        yield from value


def nested_values(value: object) -> Iterator[object]:
    """``value`` and every value and dict key inside it, at any depth (no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        yield item
        if _is_container(item):
            stack.extend(_children(item))


def nesting_depth(value: object, limit: int) -> int:
    """How many lists, dicts, tuples or arrays ``value`` holds inside each other (0 for a plain value),
    counted up to ``limit + 1`` and no further."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not _is_container(item):
            continue
        if type(item).__name__ == "ndarray" and item.dtype != object:
            depth += item.ndim - 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in _children(item))
    return deepest


def has_lone_surrogate(value: object) -> bool:
    """Whether a text, or any text or key inside a list or dict, holds half of a UTF-16 surrogate pair."""
    if isinstance(value, str):
        return LONE_SURROGATE.search(value) is not None
    if not _is_container(value):
        return False
    return any(isinstance(v, str) and LONE_SURROGATE.search(v) is not None for v in nested_values(value))


def repeated(names: Sequence[object]) -> list[str]:
    """The names that occur more than once, each once, in order of first occurrence."""
    counts = Counter(str(n) for n in names)
    return [n for n in dict.fromkeys(str(n) for n in names) if counts[n] > 1]


def repeated_columns_text(names: Sequence[str]) -> str:
    """"the column 'a' more than once", "the columns 'a', 'b' more than once": for refusals of repeated names."""
    if len(names) == 1:
        return f"the column {names[0]!r} more than once"
    return f"the columns {columns_text(names)} more than once"


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth(text: str) -> tuple[int, int]:
    """How deep the arrays and objects of a JSON text go, and the line where they go deepest (from 1)."""
    depth = deepest = at = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, match.start()
        elif token in "]}":
            depth -= 1
    return deepest, text.count("\n", 0, at) + 1


# -- JSON records as a table ------------------------------------------------------------------------------------


def frame_from_records(records: list[dict]) -> pd.DataFrame:
    """A table of JSON records, columns in order of first appearance, each value kept exactly (see read_table)."""
    import pandas as pd

    names: dict[str, None] = {}
    last = None
    for record in records:
        if record.keys() != last:
            names.update(dict.fromkeys(record))
            last = record.keys()
    columns = {key: json_column([record.get(key) for record in records]) for key in names}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)), copy=False)


def json_column(values: list):
    """A column of JSON values as the narrowest type that holds every value exactly; None is missing."""
    import numpy as np
    import pandas as pd

    kinds = set(map(type, values))
    missing = type(None) in kinds
    kinds.discard(type(None))
    if kinds == {str}:
        return pd.Series(values)
    if kinds == {bool}:
        return pd.array(values, dtype="boolean") if missing else np.array(values, dtype=bool)
    if kinds == {float}:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kinds == {int}:
        present = [v for v in values if v is not None]
        low, high = min(present), max(present)
        for lowest, highest, numpy_type, nullable in ((-(2**63), 2**63, np.int64, "Int64"),
                                                       (0, 2**64, np.uint64, "UInt64")):
            if lowest <= low and high < highest:
                return pd.array(values, dtype=nullable) if missing else np.array(values, dtype=numpy_type)
    column = np.empty(len(values), dtype=object)  # one value a cell: lists stay lists, 1 stays 1 beside 1.5
    for i, value in enumerate(values):
        column[i] = value
    return column


def check_row_count(rows: int, name: str, max_rows: int) -> None:
    """Refuse a file with no data rows, or more than ``max_rows``."""
    if rows == 0:
        raise FileProblem(f"{name} has no data rows: add at least one row.")
    if rows > max_rows:
        raise FileProblem(f"{name} has more than {max_rows:,} rows, the limit for one file. Split it into files "
                          f"of at most {max_rows:,} rows.")
