"""File formats by name, the names of derived files, and how messages name rows, columns and sizes.

Formats are chosen by the file name's extension: ``.csv``, ``.tsv``, ``.jsonl``
(one JSON object a line), ``.json`` (an array of objects, or JSON lines),
``.parquet``, and ``.gz`` after any of the text ones (``data.jsonl.gz``).
Rows are numbered from 1 in every message, counting data rows only (a CSV
header is not a row); line numbers and byte offsets are the file's own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .config import MIB

# extension -> format; ".gz" may follow any of the text formats.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
TEXT_FORMATS = ("csv", "tsv", "jsonl", "json")
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
