"""The Evaluate tab: how often the model prefers the response people preferred, on uploaded or sample pairs."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from reward.config import SAMPLE_PAIRS, UPLOAD_CHUNK_ROWS, UPLOAD_MAX_ROWS, WORST_PAIRS_SHOWN
from reward.insight.trust import pair_points
from reward.jobs.evaluate import evaluate_file, worst_pairs
from reward.jobs.pairs import LAYOUT_NAMES
from reward.jobs.scoring import ScoringInterrupted
from reward.service import RewardService
from reward.tables.display import empty_note, figure, histogram_frame, preview_frame
from reward.tables.formats import evaluated_name
from reward.tables.outputs import ResultRescued
from ui import charts, text
from ui.page import problems_as_messages

from . import common

NO_PROMPT_COLUMN = "(none: split HH-RLHF dialogues)"
WORST_COLUMNS = ["row", "margin", "score_chosen", "score_rejected", "prompt", "chosen", "rejected"]


class Evaluated(NamedTuple):
    """What an evaluation shows; a part is None when the run had nothing for it."""

    summary: str
    margins: object
    worst: object
    reliability: object
    scatter: object
    download: str | None


def evaluate_upload(service: RewardService, path: str | None, prompt_column: str, chosen_column: str,
                    rejected_column: str, progress: gr.Progress | None = None) -> Evaluated:
    """Accuracy on uploaded preference pairs."""
    name = common.upload_name(path, "a file of (prompt, chosen, rejected) pairs, or try the sample pairs")
    prompt = None if not prompt_column or prompt_column == NO_PROMPT_COLUMN else prompt_column
    with problems_as_messages("Evaluating the file", "Try a smaller file") as server_paths:
        out = common.output_path(evaluated_name(name))
        server_paths.append(out)
        try:
            evaluation = evaluate_file(service.model, path, out, prompt_column=prompt,
                                       chosen_column=chosen_column or "chosen",
                                       rejected_column=rejected_column or "rejected", name=name,
                                       progress=common.progress_callback(progress, "Scoring pairs"),
                                       chunk_rows=UPLOAD_CHUNK_ROWS, max_rows=UPLOAD_MAX_ROWS)
            note = ""
        except ResultRescued as kept:
            evaluation, note, out = kept.result, common.rescued_note(kept), kept.rescue
        except ScoringInterrupted as stop:
            return Evaluated(common.stopped_message(stop), None, None, None, None,
                             str(stop.output) if stop.output else None)
    s = evaluation.summary
    info = service.describe()
    summary = (f"### Accuracy {s.accuracy:.1%} on {s.n:,} pairs\n"
               f"95% bootstrap interval **{s.ci_low:.1%} to {s.ci_high:.1%}** · {s.ties:,} tie{'s' * (s.ties != 1)} · "
               f"mean margin (chosen minus rejected) **{s.mean_margin:+.3f}** · {s.truncated:,} pairs cut at "
               f"{info.max_length} tokens{empty_note(s.empty, 'pairs').replace(';', ' ·')} · "
               f"read as {LAYOUT_NAMES[s.layout]} · {s.pairs_per_second:.1f} pairs/s.\n\n"
               "Accuracy counts pairs whose chosen response scored strictly above the rejected one (a tie is not a "
               "win)." + (f" {text.CARD_ACCURACY}" if info.is_card_model else "") + "\n\n" + trust_summary(s) + note)
    worst = common.rounded(preview_frame(worst_pairs(evaluation.results, WORST_PAIRS_SHOWN)[WORST_COLUMNS], width=120))
    points, total = pair_points(evaluation.results)
    return Evaluated(summary, histogram_frame(evaluation.results["margin"].tolist()), worst,
                     charts.reliability_chart(s.reliability), charts.length_scatter(points, total), str(out))


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
            f"{2 * s.n:,} responses): **{rho}** · calibration error (ECE): **{ece}** (0 is perfect).")


def build_evaluate_tab(service: RewardService) -> None:
    tab = common.file_tab(
        "eval",
        "How often does the model prefer the response people preferred? Upload (prompt, chosen, rejected) pairs: "
        "columns with those names, or `chosen`/`rejected` whole dialogues as in Anthropic's HH-RLHF (split at the "
        "last shared \"Assistant:\" turn), or chat-message lists. No file at hand? Try the sample pairs.",
        "Preference pairs",
        [common.Picker("Prompt column", "prompt", "eval-prompt-column", (NO_PROMPT_COLUMN,)),
         common.Picker("Chosen column", "chosen", "eval-chosen-column"),
         common.Picker("Rejected column", "rejected", "eval-rejected-column")],
        "Evaluate", "Per-pair results", text.EVALUATE_EMPTY, sample_label="Try the sample pairs")
    hist = common.histogram("Margins: score(chosen) minus score(rejected)", "Margin", "eval-histogram")
    with gr.Row():
        reliability = charts.plot("Calibration (reliability plot)", "eval-reliability")
        scatter = charts.plot("Score against length", "eval-length-scatter")
    worst = gr.Dataframe(label=f"The {WORST_PAIRS_SHOWN} worst-judged pairs (most negative margin first)",
                         interactive=False, wrap=True, visible=False, elem_id="eval-worst")

    def pick_columns(path):
        if not path:
            return gr.update(), gr.update(), gr.update()
        columns = common.columns_of(path)
        prompt = "prompt" if "prompt" in columns else NO_PROMPT_COLUMN
        return (gr.update(choices=[*columns, NO_PROMPT_COLUMN], value=prompt),
                gr.update(choices=columns, value="chosen" if "chosen" in columns else columns[0]),
                gr.update(choices=columns, value="rejected" if "rejected" in columns else columns[-1]))

    def run_evaluation(path, prompt, chosen, rejected, progress=gr.Progress()) -> dict:
        evaluated = evaluate_upload(service, path, prompt, chosen, rejected, progress)
        return {**common.ran(tab, evaluated.summary, evaluated.download),
                hist: common.sorted_histogram(evaluated.margins), worst: common.filled(evaluated.worst),
                reliability: common.filled(evaluated.reliability), scatter: common.filled(evaluated.scatter)}

    inputs, outputs = [tab.upload, *tab.pickers], [tab.summary, hist, worst, reliability, scatter, tab.download]
    one_file_job = dict(api_visibility="private", concurrency_id="files", concurrency_limit=1)
    tab.upload.change(pick_columns, tab.upload, tab.pickers, api_visibility="private")
    tab.sample.click(lambda: str(SAMPLE_PAIRS), None, tab.upload, api_visibility="private", queue=False).then(
        run_evaluation, inputs, outputs, **one_file_job)
    tab.run.click(run_evaluation, inputs, outputs, **one_file_job)
