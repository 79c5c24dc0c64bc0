"""The Evaluate tab's error analysis by slice: the table and chart of the figures per slice, and the pair tables
(the worst-judged pairs, and every wrong pair with a slice filter) that lead to one pair.

Each pair table row is a pair of the per-pair results (:attr:`reward.jobs.evaluate.Evaluation.results`); the
position of each shown row in those results is computed here, so that a click on a row finds its pair.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.config import WORST_PAIRS_SHOWN
from reward.insight.slices import slice_names
from reward.tables.display import figure, preview_frame
from ui import charts, text

NO_SLICES = "(no slices)"
"""The slice picker's choice for no slice column."""
ALL_SLICES = "all slices"
"""The wrong-pairs filter's value for every slice."""
PAIR_COLUMNS = ["row", "margin", "score_chosen", "score_rejected", "prompt", "chosen", "rejected"]
"""What a pair table shows, in this order (``slice`` after ``row`` when the evaluation has a slice column)."""
TEXT_WIDTH = 120


def slice_column_of(choice: str | None) -> str | None:
    """The slice picker's choice as a column name, None for no slices."""
    return None if not choice or choice == NO_SLICES else choice


# -- figures per slice ---------------------------------------------------------------------------------------------


def slices_frame(summary) -> pd.DataFrame | None:
    """The figures per slice of an :class:`~reward.jobs.evaluate.EvaluationSummary` as a table to read, in the
    summary's order (largest slice first); None without a slice column.

    Columns: slice, n, accuracy, 95% interval, longer-answer baseline, mean margin, then ECE for a pair file, or
    pairs and pairwise accuracy for best-of-N sets (where n counts sets and ECE is undefined).
    """
    if summary.slices is None:
        return None
    sets = summary.sets is not None
    rows = []
    for r in summary.slices:
        row = {"slice": r["slice"], "n": r["n"], "accuracy": figure(r["accuracy"], ".1%"),
               "95% interval": f"{figure(r['ci_low'], '.1%')} to {figure(r['ci_high'], '.1%')}",
               "longer-answer baseline": figure(r["longer_baseline_accuracy"], ".1%"),
               "mean margin": figure(r["mean_margin"], "+.3f")}
        if sets:
            row.update({"pairs": r["pairs"], "pairwise accuracy": figure(r["pairwise_accuracy"], ".1%")})
        else:
            row["ECE"] = figure(r["ece"], ".3f")
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SlicePanel:
    """The slices' table, chart and the line saying how to read them: hidden without a slice column."""

    table: gr.Dataframe
    chart: gr.Plot
    caption: gr.Markdown

    def charted(self, summary) -> dict:
        """The chart and its caption for ``summary`` (hidden without slices)."""
        if summary is None or summary.slices is None:
            return {self.chart: gr.update(value=None, visible=False), self.caption: gr.update(visible=False)}
        sets = summary.sets is not None
        return {self.chart: gr.update(value=charts.slice_chart(summary.slices, best_of_n=sets), visible=True),
                self.caption: gr.update(value=text.EVAL_SLICES_CAPTION_SETS if sets else text.EVAL_SLICES_CAPTION,
                                        visible=True)}

    def tabled(self, summary) -> dict:
        """The table for ``summary`` (hidden without slices)."""
        frame = None if summary is None else slices_frame(summary)
        if frame is None:
            return {self.table: gr.update(value=None, visible=False)}
        share = f"{100 / len(frame.columns):.1f}%"  # widths in shares let the table narrow on a phone
        return {self.table: gr.update(value=frame, visible=True, column_widths=[share] * len(frame.columns),
                                      label=text.EVAL_SLICES_LABEL.format(column=summary.slice_column,
                                                                          count=len(frame)))}


def slice_panel() -> SlicePanel:
    table = gr.Dataframe(interactive=False, wrap=True, visible=False, elem_id="eval-slices")
    chart = charts.plot("Accuracy by slice", "eval-slice-chart")
    caption = gr.Markdown(visible=False, elem_id="eval-slices-caption")
    return SlicePanel(table, chart, caption)


# -- pair tables ----------------------------------------------------------------------------------------------------


def worst_positions(results: pd.DataFrame, k: int = WORST_PAIRS_SHOWN) -> list[int]:
    """Positions in ``results`` of the ``k`` worst-judged pairs: most negative margin first, equal margins in file
    order (as :func:`reward.jobs.evaluate.worst_pairs` orders them)."""
    order = results.reset_index(drop=True).sort_values("margin", kind="stable", na_position="first")
    return [int(i) for i in order.index[:k]]


def wrong_positions(results: pd.DataFrame, slice_column: str | None, chosen: str | None = ALL_SLICES) -> list[int]:
    """Positions in ``results`` of every wrong pair (``correct`` false: the chosen answer scored at or below the
    rejected one), in file order; only those of slice ``chosen`` unless it is :data:`ALL_SLICES`."""
    wrong = [i for i, right in enumerate(results["correct"].tolist()) if not right]
    if slice_column is None or chosen in (None, ALL_SLICES):
        return wrong
    names = slice_names(results[slice_column].tolist())
    return [i for i in wrong if names[i] == chosen]


def pair_table(results: pd.DataFrame, positions: list[int], slice_column: str | None) -> pd.DataFrame:
    """The pairs at ``positions`` as a table to read: :data:`PAIR_COLUMNS` (and ``slice``), texts shortened,
    floats to 3 decimals."""
    part = results.iloc[positions]
    frame = part[PAIR_COLUMNS].reset_index(drop=True)
    if slice_column is not None:
        frame.insert(1, "slice", slice_names(part[slice_column].tolist()))
    shown = preview_frame(frame, rows=len(frame), width=TEXT_WIDTH)
    return shown.round({c: 3 for c in shown.columns if shown[c].dtype.kind == "f"})


def pair_widths(slice_column: str | None) -> list[str]:
    """Column widths of a pair table: narrow numbers, the rest shared by the three texts."""
    numbers = ["5%", *(["10%"] if slice_column is not None else []), "7%", "8%", "8%"]
    text_width = (100 - sum(int(w[:-1]) for w in numbers)) / 3
    return numbers + [f"{text_width:.1f}%"] * 3


def filter_choices(results: pd.DataFrame, slice_column: str) -> list[tuple[str, str]]:
    """The wrong-pairs filter's choices: every slice, then each slice that has wrong pairs (most first), each
    labelled with its count of wrong pairs."""
    wrong = wrong_positions(results, None)
    names = slice_names(results[slice_column].tolist())
    counts = Counter(names[i] for i in wrong)
    choices = [(f"{ALL_SLICES} ({len(wrong):,})", ALL_SLICES)]
    choices.extend((f"{name} ({count:,})", name) for name, count in counts.most_common())
    return choices


@dataclass(frozen=True)
class WrongPairs:
    """The table of every wrong pair, its slice filter (shown only with a slice column) and a line about it."""

    filter: gr.Dropdown
    note: gr.Markdown
    table: gr.Dataframe

    def filled(self, results: pd.DataFrame | None, slice_column: str | None, chosen: str = ALL_SLICES,
               choices: bool = True) -> dict:
        """Show the wrong pairs of slice ``chosen`` (``choices``: also set the filter's choices, on a new run)."""
        if results is None:
            return {self.filter: gr.update(visible=False), self.note: gr.update(visible=False),
                    self.table: gr.update(value=None, visible=False)}
        positions = wrong_positions(results, slice_column, chosen)
        where = "" if chosen in (None, ALL_SLICES) else text.EVAL_WRONG_IN.format(slice=chosen)
        if positions:
            note = text.EVAL_WRONG_NOTE.format(count=len(positions), s="s" * (len(positions) != 1), where=where,
                                               total=len(results))
        else:
            note = text.EVAL_WRONG_NONE.format(where=where)
        out = {self.note: gr.update(value=note, visible=True),
               self.table: gr.update(value=pair_table(results, positions, slice_column) if positions else None,
                                     visible=bool(positions), column_widths=pair_widths(slice_column))}
        if choices:
            out[self.filter] = (gr.update(choices=filter_choices(results, slice_column), value=ALL_SLICES,
                                          visible=True) if slice_column is not None else
                                gr.update(choices=[(ALL_SLICES, ALL_SLICES)], value=ALL_SLICES, visible=False))
        return out


def wrong_pairs() -> WrongPairs:
    with gr.Row(equal_height=False):
        choice = gr.Dropdown(label="Wrong pairs of the slice", choices=[(ALL_SLICES, ALL_SLICES)], value=ALL_SLICES,
                             visible=False, scale=1, min_width=200, elem_id="eval-wrong-slice")
        note = gr.Markdown(visible=False, elem_id="eval-wrong-note")
    table = gr.Dataframe(label="Wrong pairs (chosen scored at or below rejected), in file order", interactive=False,
                         wrap=True, visible=False, max_height=420, elem_id="eval-wrong")
    return WrongPairs(choice, note, table)
