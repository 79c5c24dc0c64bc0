"""Read a Parquet file into a table: types kept exactly, repeated names, broken text and deep nesting refused."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .formats import (
    FileProblem,
    check_row_count,
    repeated,
    repeated_columns_text,
    rows_text,
    size_text,
    text_kind,
    what_it_looks_like,
)

if TYPE_CHECKING:
    import pandas as pd


def read_parquet(path: Path, name: str, max_bytes: int, max_rows: int) -> pd.DataFrame:
    """A Parquet file as a table (see :func:`reward.tables.reading.read_table`); FileProblem when it cannot be."""
    import pandas as pd

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise FileProblem(f"{name}: reading Parquet needs the pyarrow package (pip install pyarrow), or give "
                          "the data as CSV or JSONL.") from None
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        if "deeply nested" in str(err):
            raise FileProblem(f"{name} holds values nested too deep to read (lists or structs inside each other "
                              "deeper than Parquet readers follow). Flatten those columns, or store them as text "
                              "(JSON strings).") from err
        with open(path, "rb") as f:
            head = f.read(4096)
        looks = what_it_looks_like(head)
        if looks is None:
            looks = "JSON text (name it .jsonl or .json)" if text_kind(head) == "json" else "text (CSV? name it .csv)"
        raise FileProblem(f"{name} is not a Parquet file: it looks like {looks}.") from err
    meta = parquet.metadata
    check_row_count(meta.num_rows, name, max_rows)
    data_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if data_bytes > max_bytes:
        raise FileProblem(f"{name} holds {size_text(data_bytes)} of data uncompressed; the limit is "
                          f"{size_text(max_bytes)}. Split it into smaller files.")
    twice = repeated(parquet.schema_arrow.names)
    if twice:
        raise FileProblem(f"{name} has {repeated_columns_text(twice)}. Give each column its own name; a table "
                          "cannot hold two columns of one name.")
    try:
        table = parquet.read()
        for i, field in enumerate(table.schema):
            _refuse_broken_text(table.column(i), field.name, name)
        df = table.to_pandas(types_mapper=_nullable)
    except (pa.ArrowException, UnicodeDecodeError) as err:
        raise FileProblem(f"{name} is a damaged Parquet file: {' '.join(str(err).split())[:200]}.") from err
    for field in table.schema:  # whole numbers and booleans: nullable only where some are missing
        if field.name in df.columns and table.column(field.name).null_count == 0 and _nullable(field.type):
            df[field.name] = df[field.name].to_numpy(dtype=field.type.to_pandas_dtype())
        elif field.name in df.columns and pa.types.is_nested(field.type):
            # Lists and structs as plain Python values: pandas would turn a list of whole numbers with a
            # missing one into floats (9007199254740993 -> 9007199254740992.0).
            df[field.name] = pd.Series(table.column(field.name).to_pylist(), index=df.index, dtype=object)
    named = [n for n in df.index.names if n is not None]  # a named index (pandas' to_parquet) is a column too
    if named:
        twice = repeated([*named, *df.columns])
        if twice:
            raise FileProblem(f"{name} has {repeated_columns_text(twice)} (one as its index). Give each column its "
                              "own name; a table cannot hold two columns of one name.")
        df = df.reset_index(level=named)
    df.index = pd.RangeIndex(len(df))
    return df


def _nullable(arrow_type):
    """The pandas type that holds a Parquet column of whole numbers or booleans with missing values exactly."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).replace("uint", "UInt").replace("int", "Int"))
    return pd.BooleanDtype() if pa.types.is_boolean(arrow_type) else None


def _refuse_broken_text(column, column_name: str, name: str) -> None:
    """Refuse Parquet text that is not UTF-8 (pyarrow reads it unchecked; it would fail later), naming the rows."""
    import pyarrow as pa

    try:
        column.validate(full=True)
        return
    except pa.ArrowInvalid as err:
        if "utf8" not in str(err).lower().replace("-", ""):
            raise
    rows, offset = [], 0
    for chunk in column.chunks:
        for i in range(len(chunk)):
            try:
                chunk.slice(i, 1).validate(full=True)
            except pa.ArrowInvalid:
                rows.append(offset + i + 1)
        offset += len(chunk)
    raise FileProblem(f"{name}: column {str(column_name)!r} holds text that is not valid UTF-8 in {rows_text(rows)} "
                      "(half of a UTF-16 surrogate pair, or broken bytes), which cannot be read as text. Fix those "
                      "values where the file was made.")
