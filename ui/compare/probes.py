"""The Probes panel under Why this score: the chosen response's score under edits a sound judge would ignore or punish."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.insight.probes import KINDS, ORIGINAL, ProbeReport, against
from reward.service import RewardService
from reward.tables.display import shorten
from ui import text
from ui.page import problems_as_messages

PROBE_COLUMNS = ["Probe", "Change", "Score", "What a sound judge would do", "Against it?", "Text scored"]


@dataclass(frozen=True)
class ProbesPanel:
    panel: gr.Column
    table: gr.Dataframe
    note: gr.Markdown

    @property
    def outputs(self) -> list:
        return [self.panel, self.table, self.note]

    def emptied(self) -> dict:
        """Hidden and empty: nothing is picked."""
        return {self.panel: gr.update(visible=False), self.table: None, self.note: ""}


def build_probes_panel() -> ProbesPanel:
    """The panel, hidden until a response picked under Why this score fills it."""
    with gr.Column(visible=False, elem_id="probes-panel") as panel:
        gr.Markdown(text.PROBES_INTRO)
        note = gr.Markdown(elem_id="probes-note")
        table = gr.Dataframe(label="Probes of the chosen response, biggest change first", interactive=False,
                             wrap=True, column_widths=["14%", "9%", "9%", "30%", "14%", "24%"], max_height=900,
                             elem_id="probes")
    return ProbesPanel(panel, table, note)


def probe_table(report: ProbeReport) -> pd.DataFrame:
    """One row per probe, the original first; the text column shows what changed (the prompt for prompt probes)."""
    rows = []
    for row in report.rows:
        kind = KINDS.get(row.probe)
        shown = row.prompt if row.probe in ("no prompt", "unrelated prompt") else row.response
        rows.append({"Probe": row.probe, "Change": f"{row.change:+.3f}" if kind else "—", "Score": f"{row.score:+.3f}",
                     "What a sound judge would do": kind.note if kind else "The response as it was scored.",
                     "Against it?": ("⚠ " + against(row.probe, row.change)) if against(row.probe, row.change) else "",
                     "Text scored": shorten(shown, 60) if shown else "(empty prompt)"})
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)


def probe_summary(label: str, report: ProbeReport) -> str:
    """In plain words: which probes go against what a sound judge would do, and which were skipped."""
    flagged = [(r.probe, against(r.probe, r.change)) for r in report.rows if r.probe != ORIGINAL]
    flagged = [(name, why) for name, why in flagged if why]
    probes = len(report.rows) - 1
    if flagged:
        text_ = (f"**{len(flagged)} of {probes} probes of {label} go against what a sound judge would do:** "
                 + "; ".join(f"{name}: {why}" for name, why in flagged) + ".")
    else:
        text_ = f"**None of the {probes} probes of {label} goes against what a sound judge would do.**"
    if report.skipped:
        text_ += " Skipped: " + "; ".join(f"{name} ({why})" for name, why in report.skipped.items()) + "."
    return text_


def probe_choice(service: RewardService, probes: ProbesPanel, scored: dict | None, label: str | None) -> dict:
    """The panel, shown, with the table and summary for the chosen response of the last scoring (nothing changes
    without one)."""
    if not scored or not label or label not in scored["responses"]:
        return gr.skip()
    with problems_as_messages("Probing", "Try a shorter response"):
        report = service.probe(scored["prompt"], scored["responses"][label])
    return {probes.panel: gr.update(visible=True), probes.table: probe_table(report),
            probes.note: probe_summary(label, report)}
