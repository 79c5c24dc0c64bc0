"""What the file tabs share: their layout, upload checks, output paths, progress, column pickers and histograms."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from reward.config import UPLOAD_MAX_ROWS
from reward.jobs.scoring import ScoringInterrupted
from reward.tables.outputs import ResultRescued
from reward.tables.reading import read_table
from ui.page import log, problems_as_messages, without_paths

FILE_TYPES = [".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".gz"]


@dataclass(frozen=True)
class Picker:
    """A column picker: its label, the usual column name it starts on, its element id, extra choices."""

    label: str
    default: str
    elem_id: str
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileTab:
    """The parts of a file tab that its events use."""

    upload: gr.File
    pickers: list[gr.Dropdown]
    run: gr.Button
    summary: gr.Markdown
    download: gr.File
    sample: gr.Button | None
    option: gr.Checkbox | None
    more_samples: tuple[gr.Button, ...] = ()
    """Further sample buttons, beside ``sample`` (``more_samples``' order)."""


def file_tab(key: str, intro: str, upload_label: str, pickers: list[Picker], run_label: str,
             download_label: str, empty: str, sample_label: str | None = None,
             option_label: str | None = None, more_samples: tuple[tuple[str, str], ...] = ()) -> FileTab:
    """The layout both file tabs share: upload, pickers and button on the left, summary and download on the right.
    Until a run, the summary says what to do (``empty``) and the download is hidden.

    Element ids start with ``key``: ``{key}-file``, ``{key}-btn``, ``{key}-summary``, ``{key}-download``; each of
    ``more_samples`` is a (label, elem_id) of a further sample button beside the first.
    """
    gr.Markdown(intro)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            upload = gr.File(label=upload_label, file_types=FILE_TYPES, elem_id=f"{key}-file")
            sample, more = None, ()
            if sample_label:
                with gr.Row():
                    sample = gr.Button(sample_label, size="sm", elem_id=f"{key}-sample-btn")
                    more = tuple(gr.Button(label, size="sm", elem_id=elem_id) for label, elem_id in more_samples)
            with gr.Row():
                dropdowns = [column_picker(p) for p in pickers]
            option = gr.Checkbox(label=option_label, value=False, elem_id=f"{key}-option") if option_label else None
            run = gr.Button(run_label, variant="primary", elem_id=f"{key}-btn")
        with gr.Column(scale=6, min_width=300):
            summary = gr.Markdown(empty, elem_id=f"{key}-summary")
            download = gr.File(label=download_label, interactive=False, visible=False, elem_id=f"{key}-download")
    return FileTab(upload, dropdowns, run, summary, download, sample, option, more)


def column_picker(picker: Picker) -> gr.Dropdown:
    """A column picker that starts on the usual name; its choices are set from each upload."""
    return gr.Dropdown(label=picker.label, choices=[picker.default, *picker.extra], value=picker.default,
                       allow_custom_value=True, elem_id=picker.elem_id)


def histogram(label: str, x_title: str, elem_id: str) -> gr.BarPlot:
    """A histogram, hidden until a run fills it."""
    return gr.BarPlot(x="bin", y="count", label=label, x_title=x_title, y_title="Count", x_label_angle=-45,
                      height=300, visible=False, elem_id=elem_id)


def sorted_histogram(frame):
    """A histogram frame as a BarPlot value with its bins kept in numeric order; hidden without one (or with no
    values in it), so that no empty frame is shown."""
    if frame is None or not len(frame):
        return gr.update(value=None, visible=False)
    return gr.BarPlot(value=frame, sort=frame["bin"].tolist(), visible=True)


def filled(value) -> dict:
    """A result panel showing ``value``, or hidden when a run had none for it (no empty frame on the page)."""
    return gr.update(value=value, visible=value is not None)


def ran(tab: FileTab, summary: str, download: str | None) -> dict:
    """The summary and download of a run: the summary in place of the hint, the download shown when there is one."""
    return {tab.summary: summary, tab.download: filled(download)}


def upload_name(path: str | None, what: str) -> str:
    """The uploaded file's own name; with no upload, a message that says what to upload."""
    if not path:
        raise gr.Error(f"No file yet: upload {what} first.", print_exception=False)
    return Path(path).name


def output_path(name: str) -> Path:
    """A fresh file in the system's temp folder (where Gradio serves downloads from)."""
    return Path(tempfile.mkdtemp(prefix="reward-")) / name


def progress_callback(progress: gr.Progress | None, what: str):
    """A ``progress(done, total)`` callback that moves the page's progress bar, or None."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress((done, total), desc=what, unit="rows")
    return report


def stopped_message(stop: ScoringInterrupted) -> str:
    """The interruption's message with server paths reduced to file names, also shown as a warning."""
    text = without_paths(str(stop), *([stop.output] if stop.output is not None else []))
    if stop.cause is not None and not isinstance(stop.cause, KeyboardInterrupt):
        # What was scored is kept and the person told; whoever runs the server needs the bug itself.
        log.error("a file job stopped part-way", exc_info=stop.cause)
    gr.Warning(text)
    return f"**Stopped part-way.** {text}"


def rescued_note(kept: ResultRescued) -> str:
    """What the summary says when the download had to be the rescue copy (also shown as a warning)."""
    text = without_paths(str(kept), kept.rescue)
    gr.Warning(text)
    return f"\n\n**The download is the rescue copy (JSON lines).** {text}"


def rounded(frame):
    """Floats to 3 decimals for reading (the downloads keep full precision)."""
    return frame.round({c: 3 for c in frame.columns if frame[c].dtype.kind == "f"})


def columns_of(path: str | None) -> list[str]:
    """The columns of an uploaded file, for the pickers; a bad file is reported at once."""
    name = upload_name(path, "a file")
    with problems_as_messages("Reading the file", "Check that the file is a table"):
        columns = [str(c) for c in read_table(path, name=name, max_rows=UPLOAD_MAX_ROWS).columns]
    if not columns:
        raise gr.Error(f"{name} has rows but no columns (e.g. JSON objects with no keys): give each row its "
                       'prompt and response, like {"prompt": "...", "response": "..."}.', print_exception=False)
    return columns
