"""The Score a file tab: every row of an uploaded file scored, the file given back with the scores added."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from reward.config import MAX_FILE_BYTES, MIB, UPLOAD_CHUNK_ROWS, UPLOAD_MAX_ROWS
from reward.insight.trust import response_points, score_length_spearman, text_lengths
from reward.jobs.scoring import ScoringInterrupted, score_file
from reward.service import RewardService
from reward.tables.columns import suggest_columns
from reward.tables.display import empty_note, figure, histogram_frame, preview_frame
from reward.tables.formats import scored_name
from reward.tables.outputs import ResultRescued
from reward.tables.writing import NEUTRALIZE_MARK
from ui import charts, text
from ui.page import problems_as_messages

from . import common


class ScoredFile(NamedTuple):
    """What a file scoring shows; a part is None when the run had nothing for it."""

    summary: str
    preview: object
    histogram: object
    scatter: object
    download: str | None


def score_upload(service: RewardService, path: str | None, prompt_column: str, response_column: str,
                 progress: gr.Progress | None = None, neutralize_formulas: bool = False) -> ScoredFile:
    """Score every row of an uploaded file."""
    name = common.upload_name(path, "a CSV, JSONL or Parquet file of prompts and responses")
    with problems_as_messages("Scoring the file", "Try a smaller file") as server_paths:
        out = common.output_path(scored_name(name))
        server_paths.append(out)
        try:
            result = score_file(service.model, path, out, prompt_column or "prompt", response_column or "response",
                                name=name, progress=common.progress_callback(progress, "Scoring"),
                                chunk_rows=UPLOAD_CHUNK_ROWS, max_rows=UPLOAD_MAX_ROWS,
                                neutralize_formulas=bool(neutralize_formulas))
            note = ""
        except ResultRescued as kept:
            result, note = kept.result, common.rescued_note(kept)
        except ScoringInterrupted as stop:
            partial = stop.partial
            scores = partial["score"].tolist() if partial is not None and "score" in partial else []
            return ScoredFile(common.stopped_message(stop),
                              None if partial is None else common.rounded(preview_frame(partial)),
                              histogram_frame(scores), None, str(stop.output) if stop.output else None)
    df, summary = result.table, result.summary
    responses, scores = df[response_column or "response"].tolist(), df["score"].tolist()
    rho = score_length_spearman(scores, text_lengths(responses))
    cut = f", {summary.truncated:,} cut at {summary.max_length} tokens" if summary.truncated else ""
    summary = (f"**Scored {summary.rows:,} rows** of `{name}` in {summary.seconds:.1f} s "
            f"({summary.rows_per_second:.1f} rows/s){cut}{empty_note(summary.empty, 'rows')}. "
            f"Mean reward {df['score'].mean():+.3f}; score against response length in characters: Spearman "
            f"**{figure(rho, '+.2f')}** (near 0: length does not drive the "
            f"score). The download keeps the rows in their original order with `score`, `tokens` and `truncated` "
            f"added.{note}")
    scatter = charts.length_scatter(response_points(responses, scores), len(df))
    return ScoredFile(summary, common.rounded(preview_frame(df)), histogram_frame(scores), scatter, str(result.output))


def build_batch_tab(service: RewardService) -> None:
    tab = common.file_tab(
        "batch",
        f"Upload a file of prompts and responses (CSV, TSV, JSONL, JSON or Parquet, also gzipped; up to "
        f"{UPLOAD_MAX_ROWS:,} rows and {MAX_FILE_BYTES // MIB} MB here, more with `python -m reward score`). "
        "Every row is scored; the download is your file, rows in their order, with `score`, `tokens` and "
        "`truncated` columns added.",
        "File to score",
        [common.Picker("Prompt column", "prompt", "batch-prompt-column"),
         common.Picker("Response column", "response", "batch-response-column")],
        "Score file", "Scored file", text.BATCH_EMPTY,
        option_label=f"Spreadsheet-safe CSV/TSV: put {NEUTRALIZE_MARK} before text starting with = + - @ so a "
                     "spreadsheet shows it instead of running it as a formula (off: text comes back exactly)")
    hist = common.histogram("Scores (histogram)", "Reward", "batch-histogram")
    scatter = charts.plot("Score against length", "batch-length-scatter")
    preview = gr.Dataframe(label="Preview (first rows)", interactive=False, wrap=True, visible=False,
                           elem_id="batch-preview")

    def pick_columns(path):
        if not path:
            return gr.update(), gr.update()
        columns = common.columns_of(path)
        prompt, response = suggest_columns(columns)
        return (gr.update(choices=columns, value=prompt or columns[0]),
                gr.update(choices=columns, value=response or columns[min(1, len(columns) - 1)]))

    def run_batch(path, prompt, response, neutralize, progress=gr.Progress()) -> dict:
        scored = score_upload(service, path, prompt, response, progress, neutralize)
        return {**common.ran(tab, scored.summary, scored.download), preview: common.filled(scored.preview),
                hist: common.sorted_histogram(scored.histogram), scatter: common.filled(scored.scatter)}

    tab.upload.change(pick_columns, tab.upload, tab.pickers, api_visibility="private")
    tab.run.click(run_batch, [tab.upload, *tab.pickers, tab.option],
                  [tab.summary, preview, hist, scatter, tab.download], api_visibility="private", concurrency_id="files",
                  concurrency_limit=1)
