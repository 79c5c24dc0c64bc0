"""Write a table in the format its file name asks for, atomically, a slice at a time, every value exactly."""

from __future__ import annotations

import gzip
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import WRITE_ROWS

from .formats import FileProblem, file_format, nesting_depth, repeated, repeated_columns_text

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Text a spreadsheet may run as a formula when it begins with one of these (OWASP, "CSV injection")."""
NEUTRALIZE_MARK = "'"
"""What ``neutralize_formulas`` puts before such text: spreadsheets show a cell starting with it as text."""
PARQUET_MAX_NESTING = 48
"""Lists or dicts inside each other that a Parquet file may hold: readers refuse a schema deeper than 100
levels, and a list takes two."""


def write_table(df: pd.DataFrame, destination: str | Path, *, neutralize_formulas: bool = False) -> Path:
    """Write ``df`` in the format of ``destination``'s extension, atomically (a failed write leaves no half file).

    Values come back as they went in: floats to the last bit (JSON numbers as Python's ``repr``
    writes them), whole numbers as whole numbers, with missing values as ``null`` in JSON (NaN too,
    and infinities, which JSON cannot hold) and as empty cells in CSV and TSV. Lists and dicts
    (JSON arrays and objects, Parquet lists and structs) stay nested in JSON, JSONL and Parquet, and
    become JSON text in CSV and TSV cells. JSON and JSONL are UTF-8, one object a line (``.json``: an
    array of them). A new file's mode follows the umask; a file that is replaced keeps its mode.

    Args:
        df: the table; its column names must differ from each other.
        destination: the file; its extension picks the format.
        neutralize_formulas: CSV and TSV only. When true, a text cell (or column name) that begins with
            ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'`` put before it, so that a
            spreadsheet shows it as text instead of running it as a formula (OWASP's advice on CSV
            injection). Off by default, so that text round-trips exactly (``-1`` and ``=x`` stay as they are).

    Raises:
        FileProblem: the extension is unknown, the table names a column twice, or it cannot be stored
            in that format (e.g. mixed types in one column, or values nested too deep, for Parquet).
    """
    destination = Path(destination)
    fmt, gz = file_format(destination)
    twice = repeated(list(df.columns))
    if twice:
        raise FileProblem(f"{destination.name}: the table has {repeated_columns_text(twice)}, and a file cannot "
                          "hold two columns of one name. Rename them first.")
    mode = _mode_for(destination)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    except OSError as err:
        raise FileProblem(f"{destination}: cannot be written ({err.strerror or err}).") from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt in ("csv", "tsv"):
            _write_csv(df, tmp, gz, "\t" if fmt == "tsv" else ",", neutralize_formulas)
        elif fmt in ("jsonl", "json"):
            _write_json(df, tmp, gz, array=fmt == "json")
        else:
            _write_parquet(df, tmp)
        os.chmod(tmp, mode)  # mkstemp made it private to us; the file we leave should not be
        os.replace(tmp, destination)
    except (ValueError, TypeError, OverflowError, ImportError, NotImplementedError, RecursionError) as err:
        tmp.unlink(missing_ok=True)
        raise FileProblem(f"{destination.name}: the table cannot be written as {fmt.upper()} "
                          f"({' '.join(str(err).split())[:200]}). Write it as .jsonl instead.") from err
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise FileProblem(f"{destination}: cannot be written ({err.strerror or err}).") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return destination


def _mode_for(destination: Path) -> int:
    """The permission bits of the file being replaced, or what the umask gives a new file."""
    try:
        return stat.S_IMODE(os.stat(destination).st_mode) & 0o777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux: read it, without setting it for a moment under other threads' feet
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_text(path: Path, gz: bool, newline: str):
    if gz:
        return gzip.open(path, "wt", encoding="utf-8", newline=newline)
    return open(path, "w", encoding="utf-8", newline=newline)


# -- JSON: every value as it is ----------------------------------------------------------------------------------


def json_text(value: object, *, compact: bool = False) -> str:
    """``value`` as JSON text, like ``json.dumps(value, ensure_ascii=False)``, for any value a table holds.

    NumPy arrays and scalars become plain lists and numbers, dates ISO 8601 text,
    NaN, infinities and missing values ``null``; floats are written so that they
    read back to the same bits. No depth of nesting exhausts Python's recursion.

    Raises:
        TypeError: a value JSON cannot hold (e.g. an arbitrary object).
        ValueError: bytes that are not UTF-8 text.
    """
    separators = (",", ":") if compact else (", ", ": ")
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=separators, default=_plain)
    except (ValueError, RecursionError):  # NaN or an infinity somewhere, or nested deeper than the C encoder goes
        return _json_text_by_hand(value, separators)


def _plain(value: object) -> object:
    """What JSON writes for a value it does not know (``json.dumps``'s ``default``); TypeError when nothing."""
    import datetime
    import decimal

    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.floating):
        return float(str(value))  # float32 0.1 is 0.1, not 0.10000000149011612
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (datetime.timedelta, pd.Timedelta)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        number = float(value)
        return number if math.isfinite(number) and decimal.Decimal(repr(number)) == value else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")
    if isinstance(value, dict):  # a dict subclass json does not take as one
        return dict(value)
    raise TypeError(f"a {type(value).__name__} value cannot be written as JSON")


class _Raw(str):
    """JSON text already made, on the stack of :func:`_json_text_by_hand`."""


def _json_text_by_hand(value: object, separators: tuple[str, str]) -> str:
    """What :func:`json_text` writes, made with an explicit stack (any depth), NaN and infinities as null."""
    item_sep, key_sep = separators
    parts: list[str] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            parts.append(item)
        elif item is None or item is True or item is False:
            parts.append("null" if item is None else "true" if item else "false")
        elif isinstance(item, str):
            parts.append(json.dumps(item, ensure_ascii=False))
        elif isinstance(item, int):
            parts.append(int.__repr__(item))
        elif isinstance(item, float):
            parts.append(float.__repr__(item) if math.isfinite(item) else "null")
        elif isinstance(item, (list, tuple, dict)):
            pairs = item.items() if isinstance(item, dict) else None
            todo: list[object] = [_Raw("{" if pairs is not None else "[")]
            for i, element in enumerate(pairs if pairs is not None else item):
                if i:
                    todo.append(_Raw(item_sep))
                if pairs is not None:
                    key, element = element
                    todo.append(_Raw(json.dumps(_key(key), ensure_ascii=False) + key_sep))
                todo.append(element)
            todo.append(_Raw("}" if pairs is not None else "]"))
            stack.extend(reversed(todo))
        else:
            stack.append(_plain(item))
    return "".join(parts)


def _key(key: object) -> str:
    """A dict key as JSON writes it (``json.dumps({1: 2})`` is ``{"1": 2}``)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return "null" if key is None else "true" if key else "false"
    if isinstance(key, (int, float)):
        return json.dumps(key)
    raise TypeError(f"a {type(key).__name__} key cannot be written as JSON")


def _json_values(column: pd.Series) -> list:
    """A column's values as plain Python, missing values (NaN, None, pd.NA, NaT) as None."""
    import numpy as np

    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        numbers = column.to_numpy()
        values = [float(t) for t in numbers.astype(str)] if dtype.itemsize < 8 else numbers.tolist()
        for i in np.flatnonzero(~np.isfinite(numbers)):
            values[i] = None
        return values
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return column.to_numpy().tolist()
    return column.to_numpy(dtype=object, na_value=None).tolist()


def _write_json(df: pd.DataFrame, path: Path, gz: bool, *, array: bool) -> None:
    """JSON lines (or an array with one object a line), written ``WRITE_ROWS`` rows at a time."""
    names = [str(c) for c in df.columns]
    with _open_text(path, gz, "\n") as f:
        if array:
            f.write("[")
        for start in range(0, len(df), WRITE_ROWS):
            part = df.iloc[start:start + WRITE_ROWS]
            columns = [_json_values(part.iloc[:, i]) for i in range(part.shape[1])]
            rows = zip(*columns) if columns else [()] * len(part)
            lines = [json_text(dict(zip(names, row)), compact=True) for row in rows]
            if array:  # JSON escapes line breaks inside strings, so each line is one whole record
                f.write(("," if start else "") + "\n" + ",\n".join(lines))
            else:
                f.write("\n".join(lines) + "\n")
        if array:
            f.write("\n]\n")


# -- CSV and TSV: nested values as JSON text ------------------------------------------------------------------


def _csv_cell(value: object, neutralize: bool) -> object:
    """A cell of an ``object`` column as CSV should hold it; missing values and numbers are left to pandas."""
    import numpy as np

    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, str):
        return NEUTRALIZE_MARK + value if neutralize and value.startswith(FORMULA_START) else value
    if isinstance(value, (list, tuple, dict, set, frozenset, np.ndarray)):
        return json_text(value)
    if isinstance(value, np.generic):
        return _plain(value)
    return value


def _csv_ready(part: pd.DataFrame, neutralize: bool) -> pd.DataFrame:
    """A slice with nested values as JSON text and, when asked, formulas neutralized (a copy where it changes)."""
    import numpy as np
    import pandas as pd

    changed = {}
    for i in range(part.shape[1]):
        column = part.iloc[:, i]
        if pd.api.types.is_string_dtype(column.dtype) and not isinstance(column.dtype, np.dtype):
            if neutralize:  # a column of text only (pandas' str / string types)
                risky = column.str.startswith(FORMULA_START, na=False)
                if risky.any():
                    changed[i] = column.mask(risky, NEUTRALIZE_MARK + column)
        elif column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype):
            values = [_csv_cell(v, neutralize) for v in column.tolist()]
            changed[i] = pd.Series(values, index=part.index, dtype=object)
    if not changed:
        return part
    part = part.copy(deep=False)
    for i, values in changed.items():
        part.isetitem(i, values)
    return part


def _write_csv(df: pd.DataFrame, path: Path, gz: bool, sep: str, neutralize: bool) -> None:
    """CSV or TSV, ``WRITE_ROWS`` rows at a time, one header row."""
    header = [_csv_cell(str(c), neutralize) for c in df.columns]
    with _open_text(path, gz, "") as f:
        for start in range(0, max(len(df), 1), WRITE_ROWS):
            part = _csv_ready(df.iloc[start:start + WRITE_ROWS], neutralize)
            # CRLF between rows (RFC 4180) also makes the writer quote any cell holding a lone "\r", which
            # readers would otherwise take for a line break.
            part.to_csv(f, sep=sep, index=False, header=header if start == 0 else False, lineterminator="\r\n")


# -- Parquet -------------------------------------------------------------------------------------------------------


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet, one row group per ``WRITE_ROWS`` rows, with one schema for the whole table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name in df.columns:
        column = df[name]
        if column.dtype == object and any(nesting_depth(v, PARQUET_MAX_NESTING) > PARQUET_MAX_NESTING
                                          for v in column):
            raise ValueError(f"column {str(name)!r} holds lists or dicts nested more than {PARQUET_MAX_NESTING} "
                             "levels deep, more than Parquet readers take")
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(df), WRITE_ROWS):
            part = df.iloc[start:start + WRITE_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
    try:
        pq.ParquetFile(path)  # what we write must read back
    except (pa.ArrowException, OSError) as err:
        raise ValueError(f"the Parquet file written cannot be read back: {err}") from err
