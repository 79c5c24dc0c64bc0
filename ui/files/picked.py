"""The Evaluate tab's selected pair: a click on a row of the worst-judged pairs or of the wrong pairs makes that pair
the selected one, shown in full with its scores and margin. From there it opens in the Compare tab (the tab sets
:attr:`PairPanel.opened`, which the page hands to Compare) or gets a label (:mod:`ui.files.labels`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.insight.slices import slice_name
from reward.jobs.labels import LABELS
from reward.tables.display import figure
from ui import text


def plain(value: object) -> object:
    """A NumPy scalar as the Python value (a NaN score as None), for state that leaves the server."""
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def selection(results: pd.DataFrame, position: int) -> dict:
    """The selected pair: its position in the per-pair results and its row of them (plain values)."""
    return {"position": int(position), "pair": {str(k): plain(v) for k, v in results.iloc[position].to_dict().items()}}


def opened_pair(selected: Mapping | None, previous: Mapping | None) -> dict | None:
    """What "Open in Compare" hands the Compare tab: the pair's ``prompt``, ``chosen``, ``rejected``, its ``row``,
    its ``scores`` [score_chosen, score_rejected], and ``click``, a count that makes each click a new value (so the
    same pair opened twice is seen twice); None with no pair selected."""
    if not selected:
        return None
    pair = selected["pair"]
    click = previous.get("click", 0) + 1 if isinstance(previous, Mapping) else 1
    return {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"], "row": pair["row"],
            "scores": [pair["score_chosen"], pair["score_rejected"]], "click": click}


def pair_heading(pair: Mapping, slice_column: str | None, sets: bool) -> str:
    """One line on the selected pair: its row (and slice), both scores, the margin, and the model's verdict."""
    margin = pair["margin"]
    verdict = (text.EVAL_PAIR_RIGHT if pair["correct"] else
               text.EVAL_PAIR_TIE if margin is not None and margin == 0 else text.EVAL_PAIR_WRONG)
    where = text.EVAL_PAIR_SLICE.format(slice=slice_name(pair[slice_column])) if slice_column else ""
    return text.EVAL_PAIR_HEADING.format(
        row=pair["row"], of_set=text.EVAL_PAIR_OF_SET if sets else "", where=where,
        chosen=figure(pair["score_chosen"], "+.3f"), rejected=figure(pair["score_rejected"], "+.3f"),
        margin=figure(margin, "+.3f"), verdict=verdict)


@dataclass(frozen=True)
class PairPanel:
    """The selected pair in full, its "Open in Compare" button and its label controls (hidden for best-of-N sets:
    the labels panel says why)."""

    selected: gr.State
    """The selected pair (:func:`selection`), or None."""
    opened: gr.State
    """Set by "Open in Compare" (:func:`opened_pair`)."""
    hint: gr.Markdown
    box: gr.Column
    heading: gr.Markdown
    prompt: gr.Textbox
    chosen: gr.Textbox
    rejected: gr.Textbox
    open: gr.Button
    labelling: gr.Column
    label: gr.Radio
    note: gr.Textbox
    save: gr.Button
    status: gr.Markdown

    def emptied(self, evaluated: bool) -> dict:
        """No pair selected: the box hidden, and, after an evaluation, the line saying how to pick one."""
        return {self.selected: None, self.box: gr.update(visible=False),
                self.hint: gr.update(value=text.EVAL_PAIR_EMPTY, visible=evaluated)}

    def showing(self, selected: dict, slice_column: str | None, sets: bool, saved: Mapping | None) -> dict:
        """The pair ``selected`` in full; its label controls start on its saved label (``saved``), if any."""
        pair = selected["pair"]
        return {self.selected: selected, self.hint: gr.update(visible=False), self.box: gr.update(visible=True),
                self.heading: pair_heading(pair, slice_column, sets), self.prompt: pair["prompt"],
                self.chosen: pair["chosen"], self.rejected: pair["rejected"],
                self.labelling: gr.update(visible=not sets),
                self.label: gr.update(value=saved["label"] if saved else None),
                self.note: gr.update(value=saved["note"] if saved else ""),
                self.status: gr.update(value=text.EVAL_LABEL_KEPT.format(label=saved["label"]) if saved else "",
                                       visible=bool(saved))}


def pair_panel() -> PairPanel:
    selected, opened = gr.State(None), gr.State(None)
    hint = gr.Markdown(visible=False, elem_id="eval-pair-hint")
    with gr.Column(visible=False, elem_id="eval-pair") as box:
        heading = gr.Markdown(elem_id="eval-pair-heading")
        prompt = gr.Textbox(label="Prompt", interactive=False, lines=1, max_lines=8, buttons=["copy"],
                            elem_id="eval-pair-prompt")
        with gr.Row(equal_height=False):
            chosen = gr.Textbox(label="Chosen", interactive=False, lines=2, max_lines=14, buttons=["copy"],
                                elem_id="eval-pair-chosen")
            rejected = gr.Textbox(label="Rejected", interactive=False, lines=2, max_lines=14, buttons=["copy"],
                                  elem_id="eval-pair-rejected")
        open_button = gr.Button("Open in Compare", size="sm", elem_id="open-in-compare")
        with gr.Column(elem_id="eval-labelling") as labelling:
            with gr.Row(equal_height=False):
                label = gr.Radio(list(LABELS), label="Your verdict on this pair", elem_id="eval-label")
                note = gr.Textbox(label="Note (optional)", lines=1, max_lines=4, elem_id="eval-label-note")
            save = gr.Button("Save label", size="sm", variant="primary", elem_id="save-label")
            status = gr.Markdown(visible=False, elem_id="eval-label-status")
    return PairPanel(selected, opened, hint, box, heading, prompt, chosen, rejected, open_button, labelling, label,
                     note, save, status)
