"""Labels a person puts on evaluated pairs, the labels file, and the accuracy with the "label wrong" pairs left out.

Looking at the pairs the model gets wrong, a person decides for each whose fault it is: :data:`LABELS` (the model is
right, the model is wrong, the file's label is wrong, unsure), with a free-text note. A label record carries the pair
and its scores (:data:`LABEL_COLUMNS`: ``row``, ``prompt``, ``chosen``, ``rejected``, ``score_chosen``,
``score_rejected``, ``margin``, ``correct``, ``label``, ``note``) and any other keys of the pair after them, in their
order (a ``slice``, say). ``row`` is the pair's row in the evaluated file, from 1, as in the per-pair results.

The labels file is CSV or JSONL (:func:`write_labels`, :func:`labels_bytes`), written and read by the project's own
table code (:mod:`reward.tables`), so every text comes back exactly (line breaks, quotes, commas, unicode, a leading
``=``) and every score to the last bit. In JSONL every value keeps its type; in CSV the columns above are typed back
when read (``row`` whole, the scores floats, ``correct`` true/false) and any other column comes back as text.
A missing value is None (an empty CSV cell, a JSON null; a NaN score is written as missing).

``python -m reward evaluate PAIRS --labels LABELS`` reads a labels file (:func:`read_labels`), checks that it
belongs to PAIRS before anything is scored (:meth:`LabelsFile.check`: each label's pair row exists and has the same
prompt, chosen and rejected texts), and reports beside the raw accuracy the accuracy without the pairs labelled
"label wrong" (:meth:`LabelsFile.summarize`, :class:`LabelSummary`), judged on this run's scores.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import MAX_FILE_BYTES, MAX_ROWS
from reward.model.requests import json_kind
from reward.tables.formats import FileProblem, columns_text, file_format, frame_from_records, rows_text, text_kind
from reward.tables.reading import read_table
from reward.tables.writing import write_table

from .pairs import PairSet

if TYPE_CHECKING:
    import pandas as pd

MODEL_RIGHT, MODEL_WRONG, LABEL_WRONG, UNSURE = "model right", "model wrong", "label wrong", "unsure"
LABELS = (MODEL_RIGHT, MODEL_WRONG, LABEL_WRONG, UNSURE)
"""The labels a pair can get, in the order a page offers them."""
LABEL_COLUMNS = ("row", "prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin", "correct",
                 "label", "note")
"""A label record's own keys, in the order a labels file holds them; other keys of the pair follow."""
REQUIRED_COLUMNS = ("row", "prompt", "chosen", "rejected", "label")
"""What a labels file must have: which pair, its texts (to check it is the same pair), and the label."""
TEXT_COLUMNS = ("prompt", "chosen", "rejected")
COLUMN_KINDS = {"row": "row", **dict.fromkeys(TEXT_COLUMNS, "text"), "note": "text", "label": "label",
                **dict.fromkeys(("score_chosen", "score_rejected", "margin"), "score"),
                **dict.fromkeys(("correct", "tie", "truncated"), "flag"),
                **dict.fromkeys(("tokens_chosen", "tokens_rejected"), "count")}
"""The columns whose values are checked and, read from CSV, typed: a label record's own, and the other columns of
the per-pair results (:data:`reward.jobs.evaluate.RESULT_COLUMNS`) a record made from a results row carries."""
LABEL_FORMATS = ("csv", "jsonl")
_TRUE, _FALSE = ("True", "true"), ("False", "false")
_LABELS_TEXT = ", ".join(f'"{label}"' for label in LABELS)


# -- records ------------------------------------------------------------------------------------------------------


def label_record(pair: Mapping, label: str, note: str = "") -> dict:
    """The label record of one evaluated pair: :data:`LABEL_COLUMNS` first, then the pair's other keys in their order.

    Args:
        pair: a row of the per-pair results (``evaluation.results.iloc[i].to_dict()``) or any mapping with at least
            ``row``, ``prompt``, ``chosen`` and ``rejected``; NumPy values become plain Python, a NaN score None.
        label: one of :data:`LABELS`.
        note: free text ("" for none).

    Raises:
        FileProblem: the label is not one of :data:`LABELS`, or a value is not of its kind (one line).
    """
    known = {key: pair[key] for key in LABEL_COLUMNS if key in pair and key not in ("label", "note")}
    record = {**known, "label": label, "note": note, **{k: v for k, v in pair.items() if k not in LABEL_COLUMNS}}
    return _typed({key: _plain(value) for key, value in record.items()}, "the label", None)


def _plain(value: object) -> object:
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # NumPy scalars as Python numbers and bools
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _typed(record: dict, name: str, row: int | None, *, from_csv: bool = False) -> dict:
    """``record`` with the columns of known kind checked and typed (a CSV cell's text turned into its value)."""
    where = f"{name}, row {row:,}" if row is not None else name
    out = dict(record)
    for column, value in record.items():
        kind = COLUMN_KINDS.get(column)
        if kind is None:
            continue
        if from_csv and isinstance(value, str) and kind != "text" and column != "label":
            value = _from_text(value, kind)
        if kind == "row" or kind == "count":
            value = int(value) if isinstance(value, float) and value.is_integer() else value
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= (kind == "row")
            ok = ok or (kind == "count" and value is None)
            wanted = "a pair's row number (a whole number from 1)" if kind == "row" else "a whole number"
        elif kind == "score":
            value = float(value) if isinstance(value, int) and not isinstance(value, bool) else value  # JSON's 5
            value = None if isinstance(value, float) and math.isnan(value) else value
            ok, wanted = value is None or isinstance(value, float), "a number"
        elif kind == "flag":
            ok, wanted = value is None or isinstance(value, bool), "true or false"
        elif column == "label":
            ok, wanted = value in LABELS, f"a label: use one of {_LABELS_TEXT}"
        else:
            ok, wanted = isinstance(value, str) or (column == "note" and value is None), "text"
        if not ok:
            short = isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(repr(value)) <= 40
            shown = repr(value) if short else json_kind(value)
            raise FileProblem(f"{where}, column {column!r}: {shown} is not {wanted}.")
        out[column] = value
    return out


def _from_text(text: str, kind: str) -> object:
    """A CSV cell's value for a column of ``kind`` (an empty cell is missing); the text itself when it is not one."""
    if not text:
        return None
    if kind in ("row", "count"):
        return int(text) if text.isascii() and text.isdigit() else text
    if kind == "flag":
        return True if text in _TRUE else False if text in _FALSE else text
    try:
        return float(text)
    except ValueError:
        return text


def _checked(records: Sequence[Mapping], name: str, *, from_csv: bool = False) -> list[dict]:
    """Every record typed and checked, each pair labelled once; raises :class:`FileProblem` naming the row."""
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        raise FileProblem(f"{name}: the labels must be a list of label records, not a {type(records).__name__}.")
    checked, seen = [], {}
    for i, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise FileProblem(f"{name}, row {i:,}: a label record must be an object, not a {type(record).__name__}.")
        missing = [c for c in REQUIRED_COLUMNS if c not in record]
        if missing:
            raise FileProblem(f"{name}, row {i:,} has no {columns_text(missing)}: a label needs {_required()}.")
        record = _typed(dict(record), name, i, from_csv=from_csv)
        if record["row"] in seen:
            raise FileProblem(f"{name}: {rows_text([seen[record['row']], i])} both label pair row "
                              f"{record['row']:,}; keep one label per pair.")
        seen[record["row"]] = i
        checked.append(record)
    return checked


def _required() -> str:
    return ", ".join(REQUIRED_COLUMNS[:-1]) + " and " + REQUIRED_COLUMNS[-1]


def labels_frame(records: Sequence[Mapping], *, name: str = "the labels") -> pd.DataFrame:
    """The records as a table, :data:`LABEL_COLUMNS` first, then any other keys in order of first appearance."""
    import pandas as pd

    records = _checked(records, name)
    frame = frame_from_records(records) if records else pd.DataFrame(columns=list(LABEL_COLUMNS))
    ordered = [c for c in LABEL_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


# -- the labels file ----------------------------------------------------------------------------------------------


def write_labels(records: Sequence[Mapping], destination: str | Path, *, neutralize_formulas: bool = False) -> Path:
    """Write label records to ``destination``, CSV or JSONL by its extension (``.gz`` after it too), atomically.

    ``neutralize_formulas`` (CSV only) puts a ``'`` before text that a spreadsheet would run as a formula; it is off by
    default, so that the file reads back exactly.

    Raises:
        FileProblem: a record is not a valid label (names its row), or the file cannot be written.
    """
    fmt, _gz = file_format(destination)
    if fmt not in LABEL_FORMATS:
        raise FileProblem(f"{Path(destination).name}: a labels file is .csv or .jsonl, not .{fmt}.")
    return write_table(labels_frame(records, name=Path(destination).name), destination,
                       neutralize_formulas=neutralize_formulas)


def labels_bytes(records: Sequence[Mapping], fmt: str = "csv", *, neutralize_formulas: bool = False) -> bytes:
    """The labels file's bytes, ``fmt`` "csv" or "jsonl" (what a download button serves); see :func:`write_labels`."""
    if fmt not in LABEL_FORMATS:
        raise FileProblem(f"a labels file is csv or jsonl, not {fmt!r}.")
    with tempfile.TemporaryDirectory(prefix="labels-") as folder:
        return write_labels(records, Path(folder) / f"labels.{fmt}", neutralize_formulas=neutralize_formulas
                            ).read_bytes()


@dataclass(frozen=True)
class LabelsFile:
    """Label records as read from a labels file (see :func:`read_labels`)."""

    records: list[dict]
    """One record per labelled pair, in the file's order, typed (see the module's docstring)."""
    name: str
    """The file's name, for messages."""

    def check(self, pairs: PairSet | pd.DataFrame, pairs_name: str | None = None) -> None:
        """Refuse labels that do not belong to ``pairs`` (see :func:`check_labels`)."""
        if isinstance(pairs, PairSet):
            pairs, pairs_name = pairs.frame, pairs_name or pairs.name
        check_labels(pairs, self.records, labels_name=self.name, pairs_name=pairs_name or "the pairs")

    def summarize(self, results: pd.DataFrame, pairs_name: str = "the pairs") -> LabelSummary:
        """The labels' figures on the per-pair ``results`` (see :func:`summarize_labels`)."""
        return summarize_labels(results, self.records, labels_name=self.name, pairs_name=pairs_name)


def read_labels(source: str | Path | bytes, *, name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
                max_rows: int = MAX_ROWS) -> LabelsFile:
    """Read a labels file (CSV or JSONL, by its name; bytes as an upload holds them) and check every label.

    Args:
        source: the file, or its bytes (then ``name`` gives its format; without it, JSON lines are told from CSV
            by their first character).
        name: how to call it in messages; its extension picks the format.

    Raises:
        FileProblem: one line naming the file, and the row and column at fault: the file cannot be read, lacks a
            column of :data:`REQUIRED_COLUMNS`, has a label not in :data:`LABELS` (or a value not of its kind),
            or labels one pair twice.
    """
    if isinstance(source, (bytes, bytearray)):
        name = name or ("labels.jsonl" if text_kind(bytes(source[:4096])) == "json" else "labels.csv")
        file_format(name)
        with tempfile.TemporaryDirectory(prefix="labels-") as folder:
            path = Path(folder) / f"upload{''.join(Path(name).suffixes[-2:])}"
            path.write_bytes(source)
            return read_labels(path, name=name, max_bytes=max_bytes, max_rows=max_rows)
    name = name or Path(source).name
    fmt, _gz = file_format(name)
    if fmt not in LABEL_FORMATS:
        raise FileProblem(f"{name}: a labels file is .csv or .jsonl, not .{fmt}.")
    df = read_table(source, name=name, max_bytes=max_bytes, max_rows=max_rows)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FileProblem(f"{name} has no column{'s' if len(missing) > 1 else ''} {columns_text(missing)} (its columns are: "
                          f"{columns_text(list(df.columns))}). A labels file needs {_required()} columns: save it "
                          "again from the Evaluate tab, or add them.")
    columns = {str(c): _column_values(df[c]) for c in df.columns}
    records = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return LabelsFile(_checked(records, name, from_csv=fmt == "csv"), name)


def _column_values(column: pd.Series) -> list:
    """A column's values as plain Python, missing ones None."""
    return [_plain(v) for v in column.to_numpy(dtype=object, na_value=None).tolist()]


# -- labels against the evaluated pairs ---------------------------------------------------------------------------


def check_labels(pairs: pd.DataFrame, records: Sequence[Mapping], *, labels_name: str = "the labels",
                 pairs_name: str = "the pairs") -> None:
    """Refuse labels that belong to another file: each label's ``row`` must be a pair of ``pairs`` (a frame with
    ``row``, ``prompt``, ``chosen``, ``rejected``: a :class:`~reward.jobs.pairs.PairSet`'s or the per-pair results)
    whose three texts equal the label's, exactly.

    Raises:
        FileProblem: one line naming the first label that does not match, its column, and how many do not.
    """
    at = {int(row): i for i, row in enumerate(pairs["row"].tolist())}
    texts = {column: pairs[column].tolist() for column in TEXT_COLUMNS}
    wrong = []
    for number, record in enumerate(records, start=1):
        i = at.get(record["row"])
        if i is None:
            why = f"{pairs_name} has no pair row {record['row']:,} (it has {len(at):,} pairs)"
            wrong.append((number, "row", why))
            continue
        differs = [c for c in TEXT_COLUMNS if texts[c][i] != record[c]]
        if differs:
            why = f"the {differs[0]} of pair row {record['row']:,} in {pairs_name} differs from the label's"
            wrong.append((number, differs[0], why))
    if wrong:
        number, column, why = wrong[0]
        raise FileProblem(f"{labels_name}, row {number:,}, column {column!r}: {why}"
                          + (f" ({len(wrong):,} of its {len(records):,} labels do not match)" if len(wrong) > 1
                             else "") + f". These labels belong to another file (or to another version of "
                          f"{pairs_name}): give the labels saved from this file's evaluation.")


@dataclass(frozen=True)
class LabelSummary:
    """What the labels say about an evaluation."""

    count: int
    """Pairs labelled."""
    by_label: dict[str, int]
    """Pairs per label, every label of :data:`LABELS` (0 when unused), in that order."""
    label_wrong: int
    """Pairs labelled "label wrong": the file's preference is mistaken, so the model's verdict on them says nothing."""
    n_without_label_wrong: int
    correct_without_label_wrong: int
    accuracy_without_label_wrong: float | None
    """Share of the other pairs whose chosen response scored strictly above the rejected one; None with no pair."""
    file: str
    """The labels file's name."""

    def as_dict(self) -> dict:
        """``count``, ``label_wrong``, ``accuracy_without_label_wrong``, ``n_without_label_wrong``,
        ``correct_without_label_wrong``, ``by_label`` (label -> pairs) and ``file``."""
        return {"count": self.count, "label_wrong": self.label_wrong,
                "accuracy_without_label_wrong": self.accuracy_without_label_wrong,
                "n_without_label_wrong": self.n_without_label_wrong,
                "correct_without_label_wrong": self.correct_without_label_wrong, "by_label": dict(self.by_label),
                "file": self.file}

    def line(self) -> str:
        """One line for the terminal."""
        counts = ", ".join(f"{n:,} {label}" for label, n in self.by_label.items())
        accuracy = ("no pair is left" if self.accuracy_without_label_wrong is None else
                    f"accuracy {self.accuracy_without_label_wrong:.2%} ({self.correct_without_label_wrong:,} of "
                    f"{self.n_without_label_wrong:,} pairs)")
        return (f"labels ({self.file}): {self.count:,} pairs labelled ({counts}); without the {self.label_wrong:,} "
                f"pairs labelled \"{LABEL_WRONG}\": {accuracy}")


def summarize_labels(results: pd.DataFrame, records: Sequence[Mapping], *, labels_name: str = "the labels",
                     pairs_name: str = "the pairs") -> LabelSummary:
    """The labels' figures on an evaluation's per-pair ``results`` (``row``, the texts, ``correct``): how many pairs
    got each label, and the accuracy over every pair not labelled "label wrong", judged on these results' scores
    (not the scores the label file carries).

    Raises:
        FileProblem: the labels belong to another file (see :func:`check_labels`).
    """
    records = _checked(records, labels_name)
    check_labels(results, records, labels_name=labels_name, pairs_name=pairs_name)
    left_out = {r["row"] for r in records if r["label"] == LABEL_WRONG}
    tally = Counter(r["label"] for r in records)
    kept = [bool(c) for row, c in zip(results["row"].tolist(), results["correct"].tolist()) if row not in left_out]
    return LabelSummary(count=len(records), by_label={label: tally[label] for label in LABELS},
                        label_wrong=len(left_out), n_without_label_wrong=len(kept),
                        correct_without_label_wrong=sum(kept),
                        accuracy_without_label_wrong=sum(kept) / len(kept) if kept else None, file=labels_name)
