"""Read a CSV, TSV, JSONL, JSON or Parquet file into a table, within the size and row limits.

Every problem with the input (wrong format, not UTF-8, over a limit) is a
:class:`~reward.tables.formats.FileProblem` that names the file, the line or row, and what to change.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import MAX_FILE_BYTES, MAX_ROWS

from .formats import (
    FileProblem,
    check_row_count,
    columns_text,
    file_format,
    frame_from_records,
    has_lone_surrogate,
    json_depth,
    nested_values,
    repeated,
    repeated_columns_text,
    rows_text,
    size_text,
    text_kind,
    text_lines,
    what_it_looks_like,
)
from .parquet import read_parquet

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd


def read_table(path: str | Path, *, name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
               max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL, JSON or Parquet file (by extension) into a DataFrame.

    CSV and TSV cells are read as text exactly as written (``"007"`` stays
    ``"007"``, ``"NA"`` stays ``"NA"``, an empty cell is ``""``), header names too.
    JSON values keep their types: a column of whole numbers is ``int64`` (``Int64``
    when some are missing; Python ints in an ``object`` column beyond 64 bits), of
    fractions ``float64``, of true/false ``bool`` (``boolean`` with missing ones);
    a column that mixes them, or holds lists or objects, keeps each value as it is
    (``object``). Parquet whole numbers and booleans with missing values come as
    ``Int64`` / ``boolean`` too, never as floats.

    Args:
        path: the file.
        name: how to call the file in messages (an upload's original name); defaults to its file name.
        max_bytes: refuse files larger than this, uncompressed.
        max_rows: refuse files with more data rows than this.

    Raises:
        FileProblem: the file is missing, empty, over a limit, not the format its name says, or not UTF-8;
            it names a column twice (or a JSON object has a key twice); a JSON value is nested too deep to
            read; or a text holds half of a UTF-16 surrogate pair (JSON's ``"\\ud800"``), which no UTF-8
            file can store.
    """
    path = Path(path)
    name = name or path.name
    fmt, gz = file_format(name)
    if not path.is_file():
        raise FileProblem(f"{name}: no such file.")
    size = path.stat().st_size
    if size == 0:
        raise FileProblem(f"{name} is empty (0 bytes): give a file with a header row and at least one data row.")
    if size > max_bytes:
        raise FileProblem(f"{name} is {size_text(size)}; the limit is {size_text(max_bytes)}. "
                          "Split it into smaller files.")
    if fmt == "parquet":
        return read_parquet(path, name, max_bytes, max_rows)
    raw = _read_bytes(path, name, gz, max_bytes)
    looks = what_it_looks_like(raw[:4096])
    if looks is not None:
        raise FileProblem(f"{name} is not a {fmt.upper()} file: it looks like {looks}.")
    text = _decode(raw, name)
    del raw  # the decoded text replaces it; do not hold both
    if fmt in ("csv", "tsv"):
        if text_kind(text[:4096].encode()) == "json":
            raise FileProblem(f"{name} is not a {fmt.upper()} file: it starts like JSON. "
                              "If it holds one JSON object a line, name it .jsonl.")
        return _parse_csv(text, name, "\t" if fmt == "tsv" else ",", max_rows)
    return _parse_json(text, name, fmt, max_rows)


def _read_bytes(path: Path, name: str, gz: bool, max_bytes: int) -> bytes:
    if not gz:
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read(max_bytes + 1)  # never inflate more than the limit (a "zip bomb" stops here)
    except (OSError, EOFError, zlib.error) as err:
        with open(path, "rb") as f:
            looks = what_it_looks_like(f.read(4096))
        what = f"it looks like {looks}" if looks else f"it cannot be decompressed ({err})"
        raise FileProblem(f"{name} is not a gzip file: {what}. Remove .gz from its name if it is not compressed.")
    if len(raw) > max_bytes:
        raise FileProblem(f"{name} is over {size_text(max_bytes)} once decompressed; the limit is "
                          f"{size_text(max_bytes)}. Split it into smaller files.")
    return raw


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # a leading BOM (Excel's "CSV UTF-8") is dropped
    except UnicodeDecodeError as err:
        # utf-8-sig counts from after the BOM; count from the file's first byte instead.
        at = err.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, at) + 1
        column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
        byte = raw[at:at + 1].hex().upper()
        raise FileProblem(
            f"{name} is not UTF-8 text: byte 0x{byte} at byte offset {at:,} (line {line:,}, column {column}) "
            "is not valid UTF-8. Save the file as UTF-8 (in a spreadsheet: Save as > CSV UTF-8), or convert it, "
            "e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`.") from None


def _parse_csv(text: str, name: str, sep: str, max_rows: int) -> pd.DataFrame:
    import pandas as pd

    what = "TSV" if sep == "\t" else "CSV"
    try:
        # Text exactly as written: no NA guessing ("NA", "null" and "" stay text), no numbers.
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                         nrows=max_rows + 1)
    except pd.errors.EmptyDataError:
        raise FileProblem(f"{name} has no header row: its first line must name the columns, "
                          "e.g. prompt,response.") from None
    except pd.errors.ParserError as err:
        detail = " ".join(str(err).split()).removeprefix("Error tokenizing data. C error: ")
        raise FileProblem(f"{name} is not a well-formed {what} file: {detail}. Put cells that contain "
                          f"{'tabs' if sep == chr(9) else 'commas'}, quotes or line breaks in double quotes, "
                          'and double any quote inside them ("").') from None
    check_row_count(len(df), name, max_rows)
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the first cells for an index: they would be lost
        raise FileProblem(f"{name}: its data rows have more cells than its header row has names "
                          f"({len(df.columns):,}). Give every column a name in the header row, or remove the extra "
                          "cells.")
    header = _csv_header(text, sep)
    if header is not None and len(header) == len(df.columns):
        twice = repeated(header)
        if twice:
            raise FileProblem(f"{name}: its header row has {repeated_columns_text(twice)}. Give each column its "
                              "own name; a table cannot hold two columns of one name.")
        df.columns = header  # as written: pandas would call an empty name "Unnamed: 0"
    _mark_absent_cells(df, text, sep)
    return df


def _mark_absent_cells(df: pd.DataFrame, text: str, sep: str) -> None:
    """Cells a short row does not have become missing (None), not empty text: pandas reads both as "".

    An absent cell of a column to score is then refused as missing, like a JSON row without the key,
    while an empty cell ("" or nothing between two separators) is an empty text.
    """
    csv.field_size_limit(sys.maxsize)  # a cell may be as large as the file
    short: dict[int, int] = {}
    rows = 0
    try:
        records = csv.reader(text_lines(text, keep_ends=True), delimiter=sep)
        next(records, None)  # the header
        for row in records:
            if not row:  # a blank line: pandas skips it too
                continue
            if len(row) < len(df.columns):
                short[rows] = len(row)
            rows += 1
    except csv.Error:  # pandas read it; the csv module cannot say more
        return
    if rows != len(df):  # the two readers disagree on where rows are: change nothing
        return
    for position, present in short.items():
        for column in range(present, len(df.columns)):
            df.iat[position, column] = None


def _csv_header(text: str, sep: str) -> list[str] | None:
    """The first row of a CSV or TSV text as written (pandas renames repeated and empty names), or None."""
    try:
        for row in csv.reader(text_lines(text, keep_ends=True), delimiter=sep):
            if row and row != [""]:
                return row
    except csv.Error:  # e.g. a name longer than the csv module takes; pandas read it, so keep its names
        pass
    return None


class _Repeats(dict):
    """A JSON object that named a key more than once (``repeated_keys``); only the last value was kept."""

    repeated_keys: list[str]


def _object_hook(found: list[str]):
    """An ``object_pairs_hook`` that notes, in ``found``, every key an object repeats."""
    def hook(pairs: list[tuple[str, object]]) -> dict:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        marked = _Repeats(obj)
        marked.repeated_keys = repeated([k for k, _ in pairs])
        found.extend(marked.repeated_keys)
        return marked
    return hook


def _loads(text: str, hook, name: str, where: str):
    """``json.loads``, with the errors that are not about syntax told as a :class:`FileProblem`."""
    try:
        return json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        depth, line = json_depth(text)
        at = where or (f" (line {line:,})" if line else "")
        raise FileProblem(f"{name}{at} holds JSON nested too deep to read: arrays or objects {depth:,} levels "
                          f"inside each other, more than the about {sys.getrecursionlimit():,} levels that can be "
                          "read. Flatten that value, or store it as text (a JSON string).") from None
    except ValueError as err:  # e.g. a whole number of more than 4,300 digits
        detail = " ".join(str(err).split(";")[0].split())[:200]
        raise FileProblem(f"{name}{where} cannot be read: {detail}. Store such a value as text (a JSON string, "
                          '"...").') from None


def _parse_json(text: str, name: str, fmt: str, max_rows: int) -> pd.DataFrame:
    found: list[str] = []
    hook = _object_hook(found)
    records: list = []
    lines: list[int] | None = None  # the line of each record, for JSON lines
    if fmt == "json":
        try:
            data = _loads(text, hook, name, "")
        except json.JSONDecodeError as err:
            if err.msg != "Extra data":  # "Extra data": a JSON-lines file named .json; read it as such
                raise FileProblem(f"{name} is not valid JSON: {err.msg} at line {err.lineno:,}, column "
                                  f"{err.colno}. Give an array of objects, or one object a line (.jsonl).") from None
            data = None
            found.clear()
        if data is not None:
            if not isinstance(data, list):
                raise FileProblem(f"{name} holds a JSON {type(data).__name__}, not an array of objects: give "
                                  '[{"prompt": "...", "response": "..."}, ...], or one object a line (.jsonl).')
            check_row_count(len(data), name, max_rows)
            bad = [i + 1 for i, item in enumerate(data) if not isinstance(item, dict)]
            if bad:
                raise FileProblem(f"{name}: {rows_text(bad)} of the array {'is' if len(bad) == 1 else 'are'} not "
                                  'JSON objects: each item must be like {"prompt": "...", "response": "..."}.')
            if found:
                row = next(i for i, item in enumerate(data) if _repeats_in(item))
                raise FileProblem(_repeats_message(name, f"row {row + 1:,}", data[row]))
            records = data
    if not records:
        lines = []
        for number, line in enumerate(text_lines(text), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                item = _loads(line, hook, name, f": line {number:,}")
            except json.JSONDecodeError as err:
                hint = " (a CSV file? name it .csv)" if number == 1 and "," in line and line[0] not in "{[" else ""
                raise FileProblem(f"{name}: line {number:,} is not valid JSON{hint}: {err.msg} at column "
                                  f"{err.colno}. Each line must be one JSON object, like "
                                  '{"prompt": "...", "response": "..."}.') from None
            if not isinstance(item, dict):
                raise FileProblem(f"{name}: line {number:,} is a JSON {type(item).__name__}, not an object. Each "
                                  'line must be one JSON object, like {"prompt": "...", "response": "..."}.')
            if found:
                raise FileProblem(_repeats_message(name, f"row {len(records) + 1:,} (line {number:,})", item))
            records.append(item)
            lines.append(number)
            if len(records) > max_rows:
                check_row_count(len(records), name, max_rows)
    check_row_count(len(records), name, max_rows)
    if _SURROGATE_ESCAPE.search(text):  # the only way a lone surrogate gets into UTF-8 text
        _refuse_lone_surrogates(records, lines, name)
    return frame_from_records(records)


def _repeats_in(value: object) -> bool:
    return any(type(v) is _Repeats for v in nested_values(value))


def _repeats_message(name: str, where: str, record: dict) -> str:
    if type(record) is _Repeats:
        what = f" has {repeated_columns_text(record.repeated_keys)}"
    else:
        column = next(key for key, value in record.items() if _repeats_in(value))
        inner = next(v for v in nested_values(record[column]) if type(v) is _Repeats)
        what = f", column {column!r}: a JSON object there has the key {inner.repeated_keys[0]!r} more than once"
    return (f"{name}: {where}{what}; only the last value would be kept and the others lost. Give each key its own "
            "name.")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(records: list[dict], lines: list[int] | None, name: str) -> None:
    """Refuse texts (or keys) with half of a UTF-16 surrogate pair, naming the first column and its rows."""
    found: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        for key, value in record.items():
            if has_lone_surrogate(key) or has_lone_surrogate(value):
                found.setdefault(key, []).append(i)
    if not found:
        return
    column, rows = next(iter(found.items()))
    where = rows_text([r + 1 for r in rows])
    if lines is not None:
        where += f" (line{'s' if len(rows) > 1 else ''} {', '.join(f'{lines[r]:,}' for r in rows[:8])})"
    others = f" (also in {columns_text(list(found)[1:])})" if len(found) > 1 else ""
    raise FileProblem(f"{name}: column {column!r}{others} holds half of a UTF-16 surrogate pair (an escape such as "
                      f"\\ud800 with no partner) in {where}: it is not a character and cannot be stored as UTF-8 "
                      "text. Fix or remove that \\u escape (a whole pair such as \\ud83d\\ude00 is fine).")
