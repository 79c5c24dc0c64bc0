"""The Evaluate tab: how often the model prefers the response people preferred, on uploaded or sample pairs (or
best-of-N sets), overall and by slice; then from the worst-judged or the wrong pairs to one pair, shown in full,
opened in Compare, or labelled.

Its parts: :mod:`ui.files.slices` (the figures per slice, the pair tables), :mod:`ui.files.picked` (the selected
pair), :mod:`ui.files.labels` (the labels, kept in the browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from reward.config import SAMPLE_BEST_OF_N, SAMPLE_PAIRS, SAMPLE_SLICED_PAIRS, UPLOAD_CHUNK_ROWS, UPLOAD_MAX_ROWS
from reward.insight.trust import pair_points
from reward.jobs.evaluate import Evaluation, evaluate_file
from reward.jobs.labels import LABELS
from reward.jobs.pairs import LAYOUT_NAMES
from reward.jobs.scoring import ScoringInterrupted
from reward.service import RewardService
from reward.tables.columns import suggest_slice_column
from reward.tables.display import empty_note, figure, histogram_frame
from reward.tables.formats import evaluated_name
from reward.tables.outputs import ResultRescued
from ui import charts, text
from ui.page import problems_as_messages

from . import common, labels, picked, slices

NO_PROMPT_COLUMN = "(none: split HH-RLHF dialogues)"
NO_SLICES = slices.NO_SLICES


class Evaluated(NamedTuple):
    """What an evaluation shows; a part is None when the run had nothing for it."""

    summary: str
    margins: object
    worst: object
    reliability: object
    scatter: object
    download: str | None
    evaluation: Evaluation | None = None
    """The evaluation itself (None when scoring stopped part-way): its results feed the pair tables."""
    worst_positions: tuple[int, ...] = ()
    """Where each row of ``worst`` is in ``evaluation.results``."""


def evaluate_upload(service: RewardService, path: str | None, prompt_column: str, chosen_column: str,
                    rejected_column: str, slice_column: str | None = None,
                    progress: gr.Progress | None = None) -> Evaluated:
    """Accuracy on uploaded preference pairs (or best-of-N sets), by slice when ``slice_column`` names one."""
    name = common.upload_name(path, "a file of (prompt, chosen, rejected) pairs, or try the sample pairs")
    prompt = None if not prompt_column or prompt_column == NO_PROMPT_COLUMN else prompt_column
    with problems_as_messages("Evaluating the file", "Try a smaller file") as server_paths:
        out = common.output_path(evaluated_name(name))
        server_paths.append(out)
        try:
            evaluation = evaluate_file(service.model, path, out, prompt_column=prompt,
                                       chosen_column=chosen_column or "chosen",
                                       rejected_column=rejected_column or "rejected",
                                       slice_column=slices.slice_column_of(slice_column), name=name,
                                       progress=common.progress_callback(progress, "Scoring pairs"),
                                       chunk_rows=UPLOAD_CHUNK_ROWS, max_rows=UPLOAD_MAX_ROWS)
            note = ""
        except ResultRescued as kept:
            evaluation, note, out = kept.result, common.rescued_note(kept), kept.rescue
        except ScoringInterrupted as stop:
            return Evaluated(common.stopped_message(stop), None, None, None, None,
                             str(stop.output) if stop.output else None)
    s = evaluation.summary
    summary = headline(s, service) + trust_summary(s) + note
    results = evaluation.results
    worst_at = tuple(slices.worst_positions(results))
    worst = slices.pair_table(results, list(worst_at), s.slice_column)
    return Evaluated(summary, histogram_frame(results["margin"].tolist()), worst,
                     charts.reliability_chart(s.reliability), scatter(evaluation), str(out), evaluation, worst_at)


def headline(s, service: RewardService) -> str:
    """The summary's first lines: the accuracy (best-of-N and pairwise, for sets), its interval and the counts."""
    info = service.describe()
    counts = (f"{s.ties:,} tie{'s' * (s.ties != 1)} · mean margin (chosen minus rejected) **{s.mean_margin:+.3f}** · "
              f"{s.truncated:,} pairs cut at {info.max_length} tokens{empty_note(s.empty, 'pairs').replace(';', ' ·')}"
              f" · read as {LAYOUT_NAMES[s.layout]} · {s.pairs_per_second:.1f} pairs/s.")
    if s.sets is not None:
        return (f"### Best-of-N accuracy {figure(s.best_of_n_accuracy, '.1%')} on {s.sets:,} sets\n"
                f"95% bootstrap interval (over sets) **{figure(s.best_of_n_ci_low, '.1%')} to "
                f"{figure(s.best_of_n_ci_high, '.1%')}** · pairwise accuracy **{figure(s.pairwise_accuracy, '.1%')}** "
                f"on {s.n:,} (chosen, rejected) pairs · {counts}\n\n{text.EVAL_BEST_OF_N_NOTE}\n\n")
    return (f"### Accuracy {s.accuracy:.1%} on {s.n:,} pairs\n"
            f"95% bootstrap interval **{s.ci_low:.1%} to {s.ci_high:.1%}** · {counts}\n\n"
            "Accuracy counts pairs whose chosen response scored strictly above the rejected one (a tie is not a "
            "win)." + (f" {text.CARD_ACCURACY}" if info.is_card_model else "") + "\n\n")


def scatter(evaluation: Evaluation):
    """Score against length: both sides of every pair; for sets, each answer of a set once."""
    points, total = pair_points(evaluation.results)
    if evaluation.summary.sets is None:
        return charts.length_scatter(points, total)
    once = points.drop_duplicates(["row", "side", "length", "score"]).reset_index(drop=True)
    return charts.length_scatter(once, evaluation.summary.sets, unit="sets")


def trust_summary(s) -> str:
    """The summary's "How far to trust it" lines: the length baseline, the length groups, Spearman, ECE."""
    equal = s.n - s.n_chosen_longer - s.n_chosen_shorter
    rho, ece = figure(s.score_length_spearman, "+.2f"), figure(s.ece, ".3f")
    return (f"**How far to trust it.** A judge that always picks the longer answer would score "
            f"**{figure(s.longer_baseline_accuracy, '.1%')}** here. The model's accuracy is "
            f"**{figure(s.accuracy_chosen_longer, '.1%')}** on the {s.n_chosen_longer:,} "
            f"pair{'s' * (s.n_chosen_longer != 1)} whose chosen answer is longer and **{figure(s.accuracy_chosen_shorter, '.1%')}** on the "
            f"{s.n_chosen_shorter:,} whose chosen answer is shorter (pairs of equal length, {equal:,} here, are in "
            f"neither group). Score against length (Spearman, all "
            f"{s.responses or 2 * s.n:,} responses): **{rho}** · calibration error (ECE): **{ece}** (0 is perfect).")


def column_choices(columns: list[str], slice_column: str | None = None) -> tuple[dict, dict, dict, dict]:
    """The four pickers set from a file's columns: prompt, chosen, rejected (their usual names when there), and the
    slice column (``slice_column``, else the suggested one, else no slices)."""
    prompt = "prompt" if "prompt" in columns else NO_PROMPT_COLUMN
    by = slice_column or suggest_slice_column(columns) or NO_SLICES
    return (gr.update(choices=[*columns, NO_PROMPT_COLUMN], value=prompt),
            gr.update(choices=columns, value="chosen" if "chosen" in columns else columns[0]),
            gr.update(choices=columns, value="rejected" if "rejected" in columns else columns[-1]),
            gr.update(choices=[NO_SLICES, *columns], value=by))


@dataclass(frozen=True)
class EvaluateTab:
    """What the Evaluate tab offers the rest of the page."""

    opened: gr.State
    """Set by "Open in Compare" to a new dict each click: ``{"prompt", "chosen", "rejected", "row", "scores":
    [score_chosen, score_rejected], "click"}`` (:func:`ui.files.picked.opened_pair`); its ``.change`` is the cue to
    open that pair in Compare."""
    open_button: gr.Button
    """The "Open in Compare" button (``#open-in-compare``)."""


def build_evaluate_tab(service: RewardService) -> EvaluateTab:
    tab = common.file_tab(
        "eval",
        "How often does the model prefer the response people preferred? Upload (prompt, chosen, rejected) pairs: "
        "columns with those names, or `chosen`/`rejected` whole dialogues as in Anthropic's HH-RLHF (split at the "
        "last shared \"Assistant:\" turn), or chat-message lists; a rejected column of lists is read as best-of-N "
        "sets. Pick a slice column (a category, subset, source) to see the figures per slice. No file at hand? Try "
        "a sample.",
        "Preference pairs",
        [common.Picker("Prompt column", "prompt", "eval-prompt-column", (NO_PROMPT_COLUMN,)),
         common.Picker("Chosen column", "chosen", "eval-chosen-column"),
         common.Picker("Rejected column", "rejected", "eval-rejected-column"),
         common.Picker("Slice column", NO_SLICES, "eval-slice-column")],
        "Evaluate", "Per-pair results", text.EVALUATE_EMPTY, sample_label="Try the sample pairs",
        more_samples=((text.EVAL_SAMPLE_SLICED, "eval-sample-sliced-btn"),
                      (text.EVAL_SAMPLE_BEST_OF_N, "eval-sample-best-of-n-btn")))
    by_slice = slices.slice_panel()
    hist = common.histogram("Margins: score(chosen) minus score(rejected)", "Margin", "eval-histogram")
    with gr.Row():
        reliability = charts.plot("Calibration (reliability plot)", "eval-reliability")
        length = charts.plot("Score against length", "eval-length-scatter")
    worst = gr.Dataframe(label="The worst-judged pairs (most negative margin first)", interactive=False, wrap=True,
                         visible=False, elem_id="eval-worst")
    wrong = slices.wrong_pairs()
    pair = picked.pair_panel()
    marks = labels.labels_panel()
    evaluated = gr.State(None)

    def pick_columns(path):
        if not path:
            return gr.update(), gr.update(), gr.update(), gr.update()
        return column_choices(common.columns_of(path))

    def run_evaluation(path, prompt, chosen, rejected, slice_choice, progress=gr.Progress()) -> dict:
        evaluated_now = evaluate_upload(service, path, prompt, chosen, rejected, slice_choice, progress)
        run = evaluated_now.evaluation
        state = None if run is None else {
            "results": run.results, "summary": run.summary, "sets": run.summary.sets is not None,
            "slice_column": run.summary.slice_column, "name": Path(path).name,
            "key": labels.file_key(path, Path(path).name), "worst": list(evaluated_now.worst_positions)}
        # The tables are hidden here and shown by show_analysis: a table shown again with other columns starts
        # afresh (updated in place, its old column widths would widen the page on a phone).
        hidden = gr.update(value=None, visible=False)
        return {**common.ran(tab, evaluated_now.summary, evaluated_now.download),
                hist: common.sorted_histogram(evaluated_now.margins),
                reliability: common.filled(evaluated_now.reliability), length: common.filled(evaluated_now.scatter),
                **by_slice.charted(None if run is None else run.summary), by_slice.table: hidden, worst: hidden,
                wrong.table: hidden, evaluated: state}

    def show_analysis(state: dict | None, store) -> dict:
        if state is None:
            return {**wrong.filled(None, None), **pair.emptied(False), **marks.filled(None)}
        results, by = state["results"], state["slice_column"]
        records = [] if state["sets"] else labels.label_records(store, state["key"], results)
        return {**by_slice.tabled(state["summary"]), **wrong.filled(results, by), **pair.emptied(True),
                worst: gr.update(value=slices.pair_table(results, state["worst"], by), visible=True,
                                 column_widths=slices.pair_widths(by)),
                **marks.filled(records, state["name"], state["sets"])}

    def refilter(state: dict | None, choice: str) -> dict:
        if state is None:
            return gr.skip()
        return wrong.filled(state["results"], state["slice_column"], choice, choices=False)

    def pick(state: dict | None, store, positions: list[int], evt: gr.SelectData) -> dict:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not state or not isinstance(row, int) or not 0 <= row < len(positions):
            return gr.skip()
        chosen = picked.selection(state["results"], positions[row])
        saved = None if state["sets"] else labels.saved_label(store, state["key"], chosen["pair"])
        return pair.showing(chosen, state["slice_column"], state["sets"], saved)

    def pick_worst(state: dict | None, store, evt: gr.SelectData) -> dict:
        return pick(state, store, state["worst"] if state else [], evt)

    def pick_wrong(state: dict | None, choice: str, store, evt: gr.SelectData) -> dict:
        positions = slices.wrong_positions(state["results"], state["slice_column"], choice) if state else []
        return pick(state, store, positions, evt)

    def save_label(state: dict | None, selected: dict | None, label: str | None, note: str | None, store) -> dict:
        if not state or not selected or state["sets"]:
            return gr.skip()
        if label not in LABELS:
            return {pair.status: gr.update(value=text.EVAL_LABEL_PICK, visible=True)}
        kept = labels.with_label(store, state["key"], selected["pair"], label, note or "")
        records = labels.label_records(kept, state["key"], state["results"])
        return {marks.store: kept, **marks.filled(records, state["name"]),
                pair.status: gr.update(value=text.EVAL_LABEL_SAVED.format(row=selected["pair"]["row"], label=label),
                                       visible=True)}

    def sample(path: Path, slice_column: str | None) -> dict:
        return {tab.upload: str(path), **dict(zip(tab.pickers, column_choices(common.columns_of(str(path)),
                                                                             slice_column)))}

    inputs = [tab.upload, *tab.pickers]
    outputs = [tab.summary, hist, worst, reliability, length, tab.download, by_slice.table, by_slice.chart,
               by_slice.caption, wrong.table, evaluated]
    analysis = [by_slice.table, worst, wrong.filter, wrong.note, wrong.table, pair.selected, pair.box, pair.hint,
                marks.hint, marks.table, marks.csv, marks.jsonl]
    shown = [pair.selected, pair.hint, pair.box, pair.heading, pair.prompt, pair.chosen, pair.rejected,
             pair.labelling, pair.label, pair.note, pair.status]
    one_file_job = dict(api_visibility="private", concurrency_id="files", concurrency_limit=1)
    page_only = dict(api_visibility="private", queue=False)
    tab.upload.change(pick_columns, tab.upload, tab.pickers, api_visibility="private")
    for button, path, by in ((tab.sample, SAMPLE_PAIRS, None), (tab.more_samples[0], SAMPLE_SLICED_PAIRS, "category"),
                             (tab.more_samples[1], SAMPLE_BEST_OF_N, "subset")):
        button.click(partial(sample, path, by), None, inputs, **page_only).then(
            run_evaluation, inputs, outputs, **one_file_job).success(
            show_analysis, [evaluated, marks.store], analysis, **page_only)
    tab.run.click(run_evaluation, inputs, outputs, **one_file_job).success(
        show_analysis, [evaluated, marks.store], analysis, **page_only)
    wrong.filter.input(refilter, [evaluated, wrong.filter], [wrong.note, wrong.table], **page_only)
    worst.select(pick_worst, [evaluated, marks.store], shown, **page_only)
    wrong.table.select(pick_wrong, [evaluated, wrong.filter, marks.store], shown, **page_only)
    # Queued, not page-only: a state's .change (Compare's cue) fires only for an event that runs in the queue.
    pair.open.click(picked.opened_pair, [pair.selected, pair.opened], pair.opened, api_visibility="private")
    pair.save.click(save_label, [evaluated, pair.selected, pair.label, pair.note, marks.store],
                    [marks.store, marks.hint, marks.table, marks.csv, marks.jsonl, pair.status], **page_only)
    return EvaluateTab(pair.opened, pair.open)
