"""The labels a person puts on evaluated pairs in the Evaluate tab: kept in the browser, shown in a table, and
downloaded as CSV or JSON lines (written by :mod:`reward.jobs.labels`).

The browser keeps them in its localStorage (``gr.BrowserState``), so a page reload and a new evaluation of the same
file show them again. Gradio encrypts that store with a key made at each launch: after a restart of the server the
old store cannot be read and the labels start afresh (the page says so; the downloads keep them). What it keeps is small: per file (its name and the SHA-256 of its bytes), per pair (its row and
a hash of its three texts, so that a label never lands on another pair), the label and the note. The label records
(the pair, its scores, the label: :func:`reward.jobs.labels.label_record`) are made again from each evaluation's
per-pair results. A store sent by a browser is read with care: anything that is not a label is left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from reward.jobs.labels import LABELS, label_record, write_labels
from reward.tables.display import shorten
from ui import text

from . import common

STORAGE_KEY = "reward-evaluate-labels"
"""Where the labels lie in the browser's localStorage."""
FILE_HASH_CHUNK = 1 << 20
TABLE_TEXT_WIDTH = 60


def file_key(path: str, name: str) -> str:
    """The key of a file's labels: its name and the SHA-256 of its bytes (the same file gives the same key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(FILE_HASH_CHUNK), b""):
            digest.update(block)
    return f"{name}#{digest.hexdigest()[:32]}"


def pair_key(pair: Mapping) -> str:
    """The key of a pair's label within its file: its row and a hash of its prompt, chosen and rejected texts."""
    texts = json.dumps([pair["prompt"], pair["chosen"], pair["rejected"]], ensure_ascii=False)
    return f"{int(pair['row'])}#{hashlib.sha256(texts.encode('utf-8')).hexdigest()[:16]}"


def file_labels(store: object, key: str | None) -> dict[str, dict]:
    """The labels kept for the file ``key``: pair key -> ``{"label", "note"}``; whatever is not a label is left
    out (a store that is not a mapping, an unknown label, a note that is not text)."""
    files = store if isinstance(store, Mapping) else {}
    kept = files.get(key) if key is not None else None
    if not isinstance(kept, Mapping):
        return {}
    return {str(k): {"label": v["label"], "note": v.get("note") if isinstance(v.get("note"), str) else ""}
            for k, v in kept.items() if isinstance(v, Mapping) and v.get("label") in LABELS}


def with_label(store: object, key: str, pair: Mapping, label: str, note: str) -> dict:
    """A new store with ``pair``'s label in file ``key`` set to ``label`` and ``note`` (a pair has one label:
    saving again replaces it)."""
    files = {k: v for k, v in store.items() if isinstance(v, Mapping)} if isinstance(store, Mapping) else {}
    files[key] = {**file_labels(files, key), pair_key(pair): {"label": label, "note": note or ""}}
    return files


def label_records(store: object, key: str | None, results: pd.DataFrame) -> list[dict]:
    """The label records of the pairs of ``results`` (the per-pair results) labelled in file ``key``, in file
    order: each pair's row of the results, with its label and note (:func:`reward.jobs.labels.label_record`)."""
    kept = file_labels(store, key)
    if not kept:
        return []
    records = []
    for i, pair in enumerate(results[["row", "prompt", "chosen", "rejected"]].itertuples(index=False)):
        saved = kept.get(pair_key(pair._asdict()))
        if saved is not None:
            records.append(label_record(results.iloc[i].to_dict(), saved["label"], saved["note"]))
    return records


def saved_label(store: object, key: str | None, pair: Mapping) -> dict | None:
    """The label and note kept for ``pair``, or None."""
    return file_labels(store, key).get(pair_key(pair))


def labels_table(records: list[dict]) -> pd.DataFrame:
    """The labels as a table to read: row, label, note, and the pair's texts shortened."""
    return pd.DataFrame({
        "row": [r["row"] for r in records], "label": [r["label"] for r in records],
        "note": [r["note"] or "" for r in records],
        **{side: [shorten(r[side], TABLE_TEXT_WIDTH) for r in records] for side in ("prompt", "chosen", "rejected")},
    })


def label_files(records: list[dict], name: str) -> tuple[Path, Path]:
    """The labels written as CSV and as JSON lines in fresh temp files (where Gradio serves downloads from),
    named after the evaluated file."""
    stem = Path(name).name.split(".")[0] or "pairs"
    return (write_labels(records, common.output_path(f"{stem}.labels.csv")),
            write_labels(records, common.output_path(f"{stem}.labels.jsonl")))


@dataclass(frozen=True)
class LabelsPanel:
    """The labels of the evaluated file: a line when there are none (or for sets), the table, two downloads."""

    store: gr.BrowserState
    hint: gr.Markdown
    table: gr.Dataframe
    csv: gr.DownloadButton
    jsonl: gr.DownloadButton

    def filled(self, records: list[dict] | None, name: str = "", sets: bool = False) -> dict:
        """Show ``records`` (None: no evaluation, all hidden); for best-of-N sets, the line saying why there are
        no labels."""
        if records is None or sets or not records:
            hint = text.EVAL_LABELS_SETS if sets else text.EVAL_LABELS_EMPTY
            return {self.hint: gr.update(value=hint, visible=records is not None),
                    self.table: gr.update(value=None, visible=False), self.csv: gr.update(value=None, visible=False),
                    self.jsonl: gr.update(value=None, visible=False)}
        csv, jsonl = label_files(records, name)
        return {self.hint: gr.update(value=text.EVAL_LABELS_NOTE.format(count=len(records),
                                                                      s="s" * (len(records) != 1)), visible=True),
                self.table: gr.update(value=labels_table(records), visible=True,
                                      column_widths=["6%", "12%", "19%", "21%", "21%", "21%"]),
                self.csv: gr.update(value=str(csv), visible=True),
                self.jsonl: gr.update(value=str(jsonl), visible=True)}


def labels_panel() -> LabelsPanel:
    store = gr.BrowserState({}, storage_key=STORAGE_KEY)
    hint = gr.Markdown(visible=False, elem_id="eval-labels-hint")
    table = gr.Dataframe(label="Labelled pairs, in file order", interactive=False, wrap=True, visible=False,
                         elem_id="eval-labels")
    with gr.Row():
        csv = gr.DownloadButton("Download labels (CSV)", visible=False, size="sm", elem_id="eval-labels-csv")
        jsonl = gr.DownloadButton("Download labels (JSON lines)", visible=False, size="sm",
                                  elem_id="eval-labels-jsonl")
    return LabelsPanel(store, hint, table, csv, jsonl)
