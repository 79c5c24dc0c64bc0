"""Read a CSV, TSV, JSONL, JSON or Parquet file into a table, within the size and row limits.

Every problem with the input (wrong format, not UTF-8, over a limit) is a
:class:`~reward.formats.FileProblem` that names the file, the line or row, and what to change.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from .config import MAX_FILE_BYTES, MAX_ROWS
from .formats import FileProblem, file_format, rows_text, size_text, text_kind, what_it_looks_like

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd


def read_table(path: str | Path, *, name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
               max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL, JSON or Parquet file (by extension) into a DataFrame.

    CSV and TSV cells are read as text exactly as written (``"007"`` stays
    ``"007"``, ``"NA"`` stays ``"NA"``, an empty cell is ``""``).

    Args:
        path: the file.
        name: how to call the file in messages (an upload's original name); defaults to its file name.
        max_bytes: refuse files larger than this, uncompressed.
        max_rows: refuse files with more data rows than this.

    Raises:
        FileProblem: the file is missing, empty, over a limit, not the format its name says, or not UTF-8.
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
        return _read_parquet(path, name, max_bytes, max_rows)
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
    _check_rows(len(df), name, max_rows)
    return df


def _parse_json(text: str, name: str, fmt: str, max_rows: int) -> pd.DataFrame:
    import pandas as pd

    records: list = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            if err.msg != "Extra data":  # "Extra data": a JSON-lines file named .json; read it as such
                raise FileProblem(f"{name} is not valid JSON: {err.msg} at line {err.lineno:,}, column "
                                  f"{err.colno}. Give an array of objects, or one object a line (.jsonl).") from None
            data = None
        if data is not None:
            if not isinstance(data, list):
                raise FileProblem(f"{name} holds a JSON {type(data).__name__}, not an array of objects: give "
                                  '[{"prompt": "...", "response": "..."}, ...], or one object a line (.jsonl).')
            _check_rows(len(data), name, max_rows)
            bad = [i + 1 for i, item in enumerate(data) if not isinstance(item, dict)]
            if bad:
                raise FileProblem(f"{name}: {rows_text(bad)} of the array {'is' if len(bad) == 1 else 'are'} not "
                                  'JSON objects: each item must be like {"prompt": "...", "response": "..."}.')
            records = data
    if not records:
        for number, line in enumerate(_lines(text), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                hint = " (a CSV file? name it .csv)" if number == 1 and "," in line and line[0] not in "{[" else ""
                raise FileProblem(f"{name}: line {number:,} is not valid JSON{hint}: {err.msg} at column "
                                  f"{err.colno}. Each line must be one JSON object, like "
                                  '{"prompt": "...", "response": "..."}.') from None
            if not isinstance(item, dict):
                raise FileProblem(f"{name}: line {number:,} is a JSON {type(item).__name__}, not an object. Each "
                                  'line must be one JSON object, like {"prompt": "...", "response": "..."}.')
            records.append(item)
            if len(records) > max_rows:
                _check_rows(len(records), name, max_rows)
    _check_rows(len(records), name, max_rows)
    return pd.DataFrame.from_records(records)


def _lines(text: str):
    """The lines of ``text``, split at "\\n" only (JSON strings may hold other line separators), one at a time."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


def _read_parquet(path: Path, name: str, max_bytes: int, max_rows: int) -> pd.DataFrame:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise FileProblem(f"{name}: reading Parquet needs the pyarrow package (pip install pyarrow), or give "
                          "the data as CSV or JSONL.") from None
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        with open(path, "rb") as f:
            head = f.read(4096)
        looks = what_it_looks_like(head)
        if looks is None:
            looks = "JSON text (name it .jsonl or .json)" if text_kind(head) == "json" else "text (CSV? name it .csv)"
        raise FileProblem(f"{name} is not a Parquet file: it looks like {looks}.") from err
    meta = parquet.metadata
    _check_rows(meta.num_rows, name, max_rows)
    data_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if data_bytes > max_bytes:
        raise FileProblem(f"{name} holds {size_text(data_bytes)} of data uncompressed; the limit is "
                          f"{size_text(max_bytes)}. Split it into smaller files.")
    try:
        return parquet.read().to_pandas()
    except pa.ArrowException as err:
        raise FileProblem(f"{name} is a damaged Parquet file: {' '.join(str(err).split())[:200]}.") from err


def _check_rows(rows: int, name: str, max_rows: int) -> None:
    if rows == 0:
        raise FileProblem(f"{name} has no data rows: add at least one row.")
    if rows > max_rows:
        raise FileProblem(f"{name} has more than {max_rows:,} rows, the limit for one file. Split it into files "
                          f"of at most {max_rows:,} rows.")
