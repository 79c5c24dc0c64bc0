"""Write a table in the format its file name asks for, atomically, a slice at a time."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .config import WRITE_ROWS
from .formats import FileProblem, file_format

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd


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
