"""Read tables of (prompt, response) text from files, score them in bounded memory, and write them back.

Both the app's Batch tab and ``python -m reward score`` go through here, so they
accept the same files, refuse the same files with the same messages, and produce
the same scores as the main page (``RewardModel.score_pairs``).

Formats are chosen by the file name's extension: ``.csv``, ``.tsv``, ``.jsonl``
(one JSON object a line), ``.json`` (an array of objects, or JSON lines),
``.parquet``, and ``.gz`` after any of the text ones (``data.jsonl.gz``).

What is refused, and when: every problem with the input (wrong format, not
UTF-8, over :data:`MAX_FILE_BYTES` or :data:`MAX_ROWS`, a missing column, an
empty cell) is found *before scoring starts*, and the whole file is refused with
a :class:`FileProblem` that names the file, the row or column, and what to change.
Once scoring has started, nothing already scored is lost: if it is interrupted,
the rows scored so far are written out (:class:`ScoringInterrupted` says where).

Rows are numbered from 1 in every message, counting data rows only (a CSV
header is not a row); line numbers and byte offsets are the file's own.
"""

from __future__ import annotations

import difflib
import gzip
import io
import itertools
import json
import math
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd

    from .model import RewardModel

MIB = 1024 * 1024
MAX_FILE_BYTES = 100 * MIB
"""Largest input accepted, in bytes, measured uncompressed (a ``.gz`` file's content, a Parquet file's data)."""
MAX_ROWS = 100_000
"""Most data rows accepted in one file (about an hour of BERT-base scoring on a 2-core CPU)."""
CHUNK_ROWS = 2048
"""Rows tokenized and scored together. Within a chunk pairs are sorted by length and scored in
micro-batches of ``batch_size``; a chunk bounds the token ids held at once, whatever the file's size."""

WRITE_ROWS = 10_000
"""Rows checked, or turned into JSON or Parquet, at a time: a big table is never held a second time whole."""

SCORE_COLUMNS = ("score", "tokens", "truncated")
"""The columns that scoring adds, in this order."""

# extension -> format; ".gz" may follow any of the text formats.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
TEXT_FORMATS = ("csv", "tsv", "jsonl", "json")
SUPPORTED = ".csv, .tsv, .jsonl, .json, .parquet (and .csv.gz, .tsv.gz, .jsonl.gz, .json.gz)"

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` as rows are scored."""


class FileProblem(ValueError):
    """A file cannot be used as it is; ``str(err)`` names the file, the row or column, and what to change."""


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

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class ScoredFile:
    """A scored table, kept in memory for a preview, and where it was written."""

    table: pd.DataFrame
    summary: ScoreSummary
    output: Path


# -- naming things in messages -------------------------------------------------------------


def rows_text(rows: Sequence[int], limit: int = 8) -> str:
    """``[3]`` -> "row 3"; ``[3, 9, 12]`` -> "rows 3, 9 and 12"; long lists end with "and N more"."""
    shown = [f"{r:,}" for r in rows[:limit]]
    if len(rows) == 1:
        return f"row {shown[0]}"
    if len(rows) > limit:
        return f"rows {', '.join(shown)} and {len(rows) - limit:,} more"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"


def _columns_text(columns: Sequence[object], limit: int = 20) -> str:
    names = [repr(str(c)) for c in columns[:limit]]
    more = f" and {len(columns) - limit} more" if len(columns) > limit else ""
    return ", ".join(names) + more if names else "(none)"


def _size_text(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n:,} bytes"


# -- formats -------------------------------------------------------------------------------


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


def scored_name(source: str | Path) -> str:
    """The default name of a scored copy: ``pairs.csv`` -> ``pairs.scored.csv`` (same format)."""
    name = Path(source).name
    _fmt, gz = file_format(name)
    suffix = ".gz" if gz else ""
    base = name[: len(name) - len(suffix)]
    stem, ext = os.path.splitext(base)
    return f"{stem}.scored{ext}{suffix}"


def _what_it_looks_like(head: bytes) -> str | None:
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


def _text_kind(head: bytes) -> str:
    """"json" when text starts like JSON, else "csv"."""
    return "json" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")) else "csv"


# -- reading -------------------------------------------------------------------------------


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
        raise FileProblem(f"{name} is {_size_text(size)}; the limit is {_size_text(max_bytes)}. "
                          "Split it into smaller files.")
    if fmt == "parquet":
        return _read_parquet(path, name, max_bytes, max_rows)
    raw = _read_bytes(path, name, gz, max_bytes)
    looks = _what_it_looks_like(raw[:4096])
    if looks is not None:
        raise FileProblem(f"{name} is not a {fmt.upper()} file: it looks like {looks}.")
    text = _decode(raw, name)
    del raw  # the decoded text replaces it; do not hold both
    if fmt in ("csv", "tsv"):
        if _text_kind(text[:4096].encode()) == "json":
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
            looks = _what_it_looks_like(f.read(4096))
        what = f"it looks like {looks}" if looks else f"it cannot be decompressed ({err})"
        raise FileProblem(f"{name} is not a gzip file: {what}. Remove .gz from its name if it is not compressed.")
    if len(raw) > max_bytes:
        raise FileProblem(f"{name} is over {_size_text(max_bytes)} once decompressed; the limit is "
                          f"{_size_text(max_bytes)}. Split it into smaller files.")
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
        looks = _what_it_looks_like(head)
        if looks is None:
            looks = "JSON text (name it .jsonl or .json)" if _text_kind(head) == "json" else "text (CSV? name it .csv)"
        raise FileProblem(f"{name} is not a Parquet file: it looks like {looks}.") from err
    meta = parquet.metadata
    _check_rows(meta.num_rows, name, max_rows)
    data_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if data_bytes > max_bytes:
        raise FileProblem(f"{name} holds {_size_text(data_bytes)} of data uncompressed; the limit is "
                          f"{_size_text(max_bytes)}. Split it into smaller files.")
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


# -- checking the columns to score --------------------------------------------------------------


def _not_text(value: object) -> bool:
    return isinstance(value, (list, tuple, dict, set)) or type(value).__name__ == "ndarray"


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # noqa: PLR0124 - true only for NaN and NaT; pd.NA raises
    except TypeError:
        return True


def check_text_columns(df: pd.DataFrame, columns: dict[str, str], name: str) -> None:
    """Check that each role's column exists and holds non-blank text in every row.

    Numbers are turned into their text (``42`` -> ``"42"``) and UTF-8 bytes are
    decoded, in place; anything else is refused, naming the rows.

    Args:
        df: the table.
        columns: role -> column name, e.g. ``{"prompt": "question", "response": "answer"}``; the
            role names the command-line flag (``--prompt-column``) and the app's picker ("Prompt column").
        name: the file's name, for messages.

    Raises:
        FileProblem: a column is missing, or some cells are empty, blank or not text.
    """
    missing = [(role, col) for role, col in columns.items() if col not in df.columns]
    if missing:
        raise FileProblem(_missing_columns_message(df, missing, name))
    for role, col in columns.items():
        blank: list[int] = []
        not_text: list[int] = []
        undecodable: list[int] = []
        fixed: dict[int, str] = {}  # position -> text, for cells that were numbers or bytes
        column = df[col]
        # A slice at a time: the column is never held a second time as Python strings.
        for start in range(0, len(column), WRITE_ROWS):
            for i, value in enumerate(column.iloc[start:start + WRITE_ROWS].tolist(), start=start):
                if isinstance(value, str):
                    if not value.strip():
                        blank.append(i + 1)
                    continue
                if isinstance(value, (bytes, bytearray)):
                    try:
                        value = bytes(value).decode("utf-8")
                    except UnicodeDecodeError:
                        undecodable.append(i + 1)
                        continue
                elif _not_text(value):
                    not_text.append(i + 1)
                    continue
                elif _missing(value):
                    blank.append(i + 1)
                    continue
                else:
                    value = str(value)
                fixed[i] = value
                if not value.strip():
                    blank.append(i + 1)
        where = f"column {col!r}"
        if undecodable:
            raise FileProblem(f"{name}: {where} is not UTF-8 text in {rows_text(undecodable)}. "
                              "Store the text as UTF-8.")
        if not_text:
            kind = type(column.iloc[not_text[0] - 1]).__name__
            raise FileProblem(f"{name}: {where} holds a {kind}, not text, in {rows_text(not_text)}. "
                              f"Choose a column of plain text for the {role}s.")
        if blank:
            raise FileProblem(f"{name}: {where} is empty in {rows_text(blank)} (rows numbered from 1, header not "
                              f"counted). Fill those cells in or delete those rows; nothing was scored.")
        if fixed:
            values = column.tolist()
            for i, value in fixed.items():
                values[i] = value
            df[col] = values


def _missing_columns_message(df: pd.DataFrame, missing: list[tuple[str, str]], name: str) -> str:
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
    message = (f"{name} has {'; '.join(parts)}. Its columns are: {_columns_text(existing)}. Say which column holds "
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


def check_output_path(destination: str | Path, source: str | Path | None = None) -> Path:
    """Check before any work that ``destination`` can be written in a format we know.

    Raises:
        FileProblem: unknown extension, missing folder, or the same file as the input.
    """
    destination = Path(destination)
    file_format(destination)
    if not destination.parent.is_dir():
        raise FileProblem(f"{destination}: the folder {str(destination.parent)!r} does not exist. Create it, or "
                          "write somewhere else.")
    if source is not None and destination.exists() and destination.resolve() == Path(source).resolve():
        raise FileProblem(f"{destination} is the input file: write the scored copy to another file, e.g. "
                          f"{scored_name(source)}.")
    return destination


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
                          f"{_columns_text(taken)}, which scoring adds. Rename or remove "
                          f"{'it' if len(taken) == 1 else 'them'} first, so that nothing in the file is overwritten.")
    return df


# -- scoring -------------------------------------------------------------------------------------


def score_table(model: RewardModel, df: pd.DataFrame, prompt_column: str = "prompt",
                response_column: str = "response", *, progress: ProgressCallback | None = None,
                chunk_rows: int = CHUNK_ROWS) -> ScoreSummary:
    """Score every row of ``df`` and add ``score``, ``tokens`` and ``truncated`` columns to it, in place.

    Rows keep their order. The table is scored ``chunk_rows`` rows at a time, in
    file order; :meth:`RewardModel.score_pairs` sorts each chunk by length and
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
    done = 0
    start_time = time.perf_counter()
    try:
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            prompts = df[prompt_column].iloc[start:stop].tolist()
            responses = df[response_column].iloc[start:stop].tolist()

            def chunk_progress(d: int, _t: int, offset: int = start) -> None:
                if progress is not None:
                    progress(offset + d, n)

            scored = model.score_pairs(prompts, responses, progress=chunk_progress)
            scores[start:stop] = [s.score for s in scored]
            tokens[start:stop] = [s.tokens for s in scored]
            truncated[start:stop] = [s.truncated for s in scored]
            done = stop
    finally:
        seconds = time.perf_counter() - start_time
        unscored = np.arange(n) >= done
        df["score"] = scores
        df["tokens"] = pd.arrays.IntegerArray(tokens, mask=unscored.copy())
        df["truncated"] = pd.arrays.BooleanArray(truncated, mask=unscored)
    return ScoreSummary(rows=n, truncated=int(truncated.sum()), seconds=seconds, max_length=model.max_length)


def scored_rows(df: pd.DataFrame) -> int:
    """How many rows of a table from :func:`score_table` were scored (all, unless it was interrupted)."""
    return int(df["tokens"].notna().sum()) if "tokens" in df.columns else 0


def score_to_file(model: RewardModel, df: pd.DataFrame, destination: str | Path, prompt_column: str = "prompt",
                  response_column: str = "response", *, progress: ProgressCallback | None = None,
                  chunk_rows: int = CHUNK_ROWS) -> ScoreSummary:
    """:func:`score_table`, then :func:`write_table` to ``destination``.

    Raises:
        ScoringInterrupted: scoring stopped part-way (an error or Ctrl+C, its ``cause``); the rows
            scored so far were written to ``destination``, the others with empty score columns.
    """
    destination = Path(destination)
    try:
        summary = score_table(model, df, prompt_column, response_column, progress=progress, chunk_rows=chunk_rows)
    except FileProblem:
        raise
    except BaseException as err:
        raise stopped(err, scored_rows(df), len(df), "rows", df, destination) from err
    save_or_rescue(df, destination)
    return summary


def save_or_rescue(df: pd.DataFrame, destination: Path) -> Path:
    """Write a finished result; if that fails, save it as JSON lines beside it so the scoring is not lost.

    Raises:
        FileProblem: the write failed; the message says where the rescue copy went.
    """
    try:
        return write_table(df, destination)
    except FileProblem as err:
        rescue = destination.with_name(destination.name + ".rescue.jsonl")
        try:
            write_table(df, rescue)
        except FileProblem:
            raise err from None
        raise FileProblem(f"{err} The complete result was saved as {rescue} instead.") from err


def stopped(cause: BaseException, done: int, total: int, unit: str, partial: pd.DataFrame | None,
            destination: Path | None) -> ScoringInterrupted:
    """A :class:`ScoringInterrupted` for ``cause``, after writing ``partial`` to ``destination`` when
    anything was scored (a failure to write is reported in the message, not raised)."""
    why = ("interrupted" if isinstance(cause, KeyboardInterrupt)
           else f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}".rstrip(": "))
    head = f"Scoring stopped after {done:,} of {total:,} {unit} ({why})."
    output = None
    if done == 0 or partial is None or destination is None:
        tail = " Nothing was written."
    else:
        try:
            output = write_table(partial, destination)
            tail = (f" The {done:,} scored {unit} were written to {destination}"
                    + (f"; {unit} {done + 1:,}-{total:,} have empty score columns." if unit == "rows" and done < total
                       else "."))
        except (FileProblem, OSError) as err:
            tail = f" Writing the scored {unit} to {destination} failed too: {err}"
    return ScoringInterrupted(head + tail, done=done, total=total, output=output, partial=partial, cause=cause)


def score_file(model: RewardModel, source: str | Path, destination: str | Path, prompt_column: str = "prompt",
               response_column: str = "response", *, name: str | None = None,
               progress: ProgressCallback | None = None, chunk_rows: int = CHUNK_ROWS,
               max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS) -> ScoredFile:
    """Read ``source``, score every row, and write it with ``score``, ``tokens`` and ``truncated`` added.

    The output's format follows ``destination``'s extension (:func:`scored_name`
    gives a default name in the input's format). Rows keep their order.

    Raises:
        FileProblem: the input or the destination cannot be used; nothing was scored.
        ScoringInterrupted: scoring stopped part-way; the scored rows were written to ``destination``.
    """
    destination = check_output_path(destination, source)
    df = load_for_scoring(source, prompt_column, response_column, name=name, max_bytes=max_bytes,
                          max_rows=max_rows)
    summary = score_to_file(model, df, destination, prompt_column, response_column, progress=progress,
                            chunk_rows=chunk_rows)
    return ScoredFile(df, summary, destination)


# -- writing -------------------------------------------------------------------------------------


def write_table(df: pd.DataFrame, destination: str | Path) -> Path:
    """Write ``df`` in the format of ``destination``'s extension, atomically (a failed write leaves no half file).

    Raises:
        FileProblem: the extension is unknown, or the table cannot be stored in that format
            (e.g. mixed types in one column for Parquet).
    """
    destination = Path(destination)
    fmt, gz = file_format(destination)
    compression = "gzip" if gz else None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    except OSError as err:
        raise FileProblem(f"{destination}: cannot be written ({err.strerror or err}).") from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt in ("csv", "tsv"):
            # CRLF between rows (RFC 4180) also makes the writer quote any cell holding a lone "\r", which
            # readers would otherwise take for a line break.
            df.to_csv(tmp, sep="\t" if fmt == "tsv" else ",", index=False, compression=compression,
                      lineterminator="\r\n")
        elif fmt in ("jsonl", "json"):
            _write_json(df, tmp, gz, array=fmt == "json")
        else:
            _write_parquet(df, tmp)
        os.replace(tmp, destination)
    except (ValueError, TypeError, OverflowError, ImportError) as err:
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


def _write_json(df: pd.DataFrame, path: Path, gz: bool, *, array: bool) -> None:
    """JSON lines (or an array with one object a line), written ``WRITE_ROWS`` rows at a time."""
    with (gzip.open(path, "wt", encoding="utf-8", newline="\n") if gz
          else open(path, "w", encoding="utf-8", newline="\n")) as f:
        if array:
            f.write("[")
        for start in range(0, len(df), WRITE_ROWS):
            part = df.iloc[start:start + WRITE_ROWS].to_json(orient="records", lines=True, force_ascii=False)
            part = part.rstrip("\n")
            if array:  # JSON escapes line breaks inside strings, so each line is one whole record
                f.write(("," if start else "") + "\n" + part.replace("\n", ",\n"))
            else:
                f.write(part + "\n")
        if array:
            f.write("\n]\n")


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet, one row group per ``WRITE_ROWS`` rows, with one schema for the whole table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(df, preserve_index=False)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(df), WRITE_ROWS):
            part = df.iloc[start:start + WRITE_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))


# -- showing -------------------------------------------------------------------------------------


def preview_frame(df: pd.DataFrame, rows: int = 20, width: int = 160) -> pd.DataFrame:
    """The first ``rows`` rows, with long text cut to ``width`` characters, for showing on a page."""
    head = df.head(rows).copy()
    for col in head.columns:
        if head[col].dtype == object or str(head[col].dtype) in ("str", "string"):
            head[col] = [_cut(v, width) if isinstance(v, str) else v for v in head[col].tolist()]
    return head


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def histogram_frame(values: Sequence[float], bins: int = 30) -> pd.DataFrame:
    """Counts of ``values`` in ``bins`` equal-width bins, for a bar chart; NaN values are left out.

    Returns:
        Columns ``bin`` (a unique label such as "-1.50 to -1.00"), ``start``, ``end``, ``count``.
    """
    import numpy as np
    import pandas as pd

    data = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                      dtype=float)
    if data.size == 0:
        return pd.DataFrame({"bin": [], "start": [], "end": [], "count": []})
    low, high = float(data.min()), float(data.max())
    if low == high:  # one value: one bin around it
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    return pd.DataFrame({
        "bin": [f"{a:+.2f} to {b:+.2f}" for a, b in itertools.pairwise(edges)],
        "start": edges[:-1],
        "end": edges[1:],
        "count": counts,
    })
