"""The what-if editor: an editable copy of a response pinned beside the original, the edit scored with its change,
its rank among the other responses and its word diff, and a short history of the edits tried; and ``/whatif``."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.config import WHATIF_HISTORY
from reward.insight.ranking import response_label
from reward.service import RewardService
from reward.tables.display import shorten
from ui import text
from ui.page import problems_as_messages

from .pair import check, diff_view, refuse_two

HISTORY_COLUMNS = ["#", "Response", "Edit", "Score", "Change", "Rank"]


@dataclass(frozen=True)
class WhatIfPanel:
    """The editor: the response picked, the original (read only) and the edit, the verdict on the edit, and the
    edits kept (``kept`` holds their rows)."""

    panel: gr.Column
    pick: gr.Dropdown
    original: gr.Textbox
    edit: gr.Textbox
    run: gr.Button
    result: gr.Markdown
    diff: gr.HighlightedText
    history: gr.Dataframe
    kept: gr.State

    @property
    def outputs(self) -> list:
        return [self.panel, self.pick, self.original, self.edit, *self.answered]

    @property
    def answered(self) -> list:
        return [self.result, self.diff, self.history, self.kept]

    def offered(self, labels: list[str], scored: dict) -> dict:
        """After a scoring: the top response in the editor, no edit scored yet, the history emptied."""
        first = scored["responses"][labels[0]]
        return {self.panel: gr.update(visible=True), self.pick: gr.update(choices=labels, value=labels[0]),
                self.original: first, self.edit: first, **self.unanswered()}

    def emptied(self) -> dict:
        return {self.panel: gr.update(visible=False), self.pick: gr.update(choices=[], value=None),
                self.original: "", self.edit: "", **self.unanswered()}

    def unanswered(self) -> dict:
        return {self.result: text.WHATIF_EMPTY, self.diff: gr.update(value=None, visible=False),
                self.history: gr.update(value=None, visible=False), self.kept: []}


def build_whatif_panel() -> WhatIfPanel:
    with gr.Column(visible=False, elem_id="what-if") as panel:
        gr.Markdown("### What if")
        pick = gr.Dropdown(label="Edit response", choices=[], value=None, elem_id="what-if-pick")
        with gr.Row(equal_height=True):
            original = gr.Textbox(label="Original (as scored)", lines=4, max_lines=12, interactive=False,
                                  elem_id="what-if-original")
            edit = gr.Textbox(label="Your edit", lines=4, max_lines=12, elem_id="what-if-edit")
        run = gr.Button("Score the edit", variant="secondary", elem_id="what-if-btn")
        result = gr.Markdown(text.WHATIF_EMPTY, elem_id="what-if-result")
        diff = gr.HighlightedText(label="The edit: what the original had (A) and what the edit has (B)",
                                  color_map={"only in A": "#fca5a5", "only in B": "#93c5fd"}, show_legend=True,
                                  show_inline_category=False, visible=False, elem_id="what-if-diff")
        history = gr.Dataframe(label="Edits tried (latest first)", interactive=False, wrap=True, visible=False,
                               column_widths=["6%", "16%", "42%", "12%", "12%", "12%"], elem_id="what-if-history")
    return WhatIfPanel(panel, pick, original, edit, run, result, diff, history, gr.State([]))


def picked_original(panel: WhatIfPanel, scored: dict | None, label: str | None) -> dict:
    """The editor holding the picked response, as original and as the edit to change."""
    responses = (scored or {}).get("responses", {})
    if label not in responses:
        return gr.skip()
    return {panel.original: responses[label], panel.edit: responses[label]}


def edit_summary(diff: list[dict], width: int = 70) -> str:
    """The edit in a line: what went (−) and what came (+)."""
    parts = []
    for step in diff:
        if step["op"] == "equal":
            continue
        if step["a"].strip():
            parts.append(f"−“{step['a'].strip()}”")
        if step["b"].strip():
            parts.append(f"+“{step['b'].strip()}”")
    return shorten(" ".join(parts), width) if parts else "(only spacing changed)" if any(
        s["op"] != "equal" for s in diff) else "(no change)"


def others(scored: dict, label: str) -> list[float]:
    """The scores of the other responses of the scoring (blank boxes have none)."""
    index = scored["indices"][label]
    return [s for i, s in enumerate(scored["scores"]) if s is not None and i != index]


def whatif_choice(service: RewardService, panel: WhatIfPanel, scored: dict | None, label: str | None, edited: str,
                  kept: list[dict] | None) -> dict:
    """The edit scored beside the original: both scores, the change, the new rank, the diff, and the history."""
    responses = (scored or {}).get("responses", {})
    if label not in responses:
        raise gr.Error("Score some responses and pick one to edit first.", print_exception=False)
    with problems_as_messages("Scoring the edit", "Try a shorter edit"):
        result = service.whatif(scored["prompt"], responses[label], edited).as_dict()
    rest = others(scored, label)
    before = 1 + sum(s > result["score"] for s in rest)
    after = 1 + sum(s > result["edited_score"] for s in rest)
    n = len(rest) + 1
    moved = "keeps its rank" if after == before else ("moves up" if after < before else "moves down")
    verdict = (f"The original scores **{result['score']:+.3f}**, the edit **{result['edited_score']:+.3f}**: a "
               f"change of **{result['change']:+.3f}**. Among the {n} responses the edit would rank **#{after}** "
               f"(the original is #{before}): it {moved}.")
    rows = [{"#": len(kept or []) + 1, "Response": response_label(scored["indices"][label]),
             "Edit": edit_summary(result["diff"]), "Score": round(result["edited_score"], 3),
             "Change": round(result["change"], 3), "Rank": f"{after} of {n}"}, *(kept or [])][:WHATIF_HISTORY]
    return {panel.result: verdict, panel.diff: gr.update(value=diff_view(result["diff"]), visible=True),
            panel.history: gr.update(value=pd.DataFrame(rows, columns=HISTORY_COLUMNS), visible=True),
            panel.kept: rows}


def add_whatif_api(demo: gr.Blocks, service: RewardService) -> None:
    """``/whatif``, refused before the queue like ``/score``, in the scoring queue (it scores two texts)."""

    def whatif(prompt: str, response: str, edited: str) -> dict:
        """Score a response and an edited copy of it: score (the original's), edited_score, change (edited minus
        original) and the word diff from one to the other ([{op, a, b}], op one of equal, insert, delete, replace).

        Args:
            prompt: The question or instruction the response answers.
            response: The response as it is.
            edited: The response as edited.
        """
        with problems_as_messages("Scoring the edit", "Try a shorter edit"):
            return service.whatif(prompt, response, edited).as_dict()

    endpoint = gr.api(whatif, api_name="whatif", concurrency_id="scoring",
                      concurrency_limit=service.settings.concurrency)
    demo.fns[endpoint["id"]].validator = lambda prompt, r, e: refuse_two(
        check(service, prompt, r, e, ("The response", "The edited response")), 3)
