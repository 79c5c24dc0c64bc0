"""The trust charts the file tabs share (Altair, shown through ``gr.Plot``): the reliability plot and
score against length.

Each chart carries its own title and a one-line caption (the subtitle) saying how to read it.
"""

from __future__ import annotations

import altair as alt
import gradio as gr
import pandas as pd

from reward.config import SCATTER_MAX_POINTS

WIDTH, HEIGHT = 460, 320
SIDE_COLOURS = {"chosen": "#2f7d32", "rejected": "#c62828", "response": "#4f46e5"}


def plot(label: str, elem_id: str) -> gr.Plot:
    """A plot slot for one of these charts, hidden until a run fills it (the chart's own title stands in for the
    label)."""
    return gr.Plot(label=label, show_label=False, visible=False, elem_id=elem_id, min_width=300)


def reliability_chart(table: list[dict]) -> alt.LayerChart | None:
    """Confidence against accuracy per bin, with the diagonal y = x; dots sized and labelled by their count.

    ``table`` is :func:`reward.insight.trust.reliability_table`'s; None when it has no pairs.
    """
    rows = [r for r in table if r["count"]]
    if not rows:
        return None
    points = pd.DataFrame({
        "confidence": [r["mean_confidence"] for r in rows], "accuracy": [r["accuracy"] for r in rows],
        "count": [r["count"] for r in rows],
        "bin": [f"{r['bin_low']:.2f} to {r['bin_high']:.2f}" for r in rows],
    })
    x = alt.X("confidence:Q", title="Model's confidence in its pick, sigmoid(|margin|) (bin mean)",
              scale=alt.Scale(domain=[0.5, 1.0]))
    y = alt.Y("accuracy:Q", title="Share of pairs it got right", scale=alt.Scale(domain=[0.0, 1.0]),
              axis=alt.Axis(format="%"))
    diagonal = alt.Chart(pd.DataFrame({"confidence": [0.5, 1.0], "accuracy": [0.5, 1.0]})).mark_line(
        color="#888888", strokeDash=[6, 4]).encode(x=x, y=y)
    base = alt.Chart(points).encode(x=x, y=y)
    dots = base.mark_circle(color="#4f46e5", opacity=0.8).encode(
        size=alt.Size("count:Q", scale=alt.Scale(range=[40, 600]), legend=None),  # the labels give the counts
        tooltip=[alt.Tooltip("bin:N", title="Confidence bin"), alt.Tooltip("count:Q", title="Pairs"),
                 alt.Tooltip("confidence:Q", title="Mean confidence", format=".3f"),
                 alt.Tooltip("accuracy:Q", title="Accuracy", format=".1%")])
    labels = base.mark_text(dy=-14, fontSize=11).encode(text="count:Q")
    return alt.layer(diagonal, dots, labels).properties(
        width=WIDTH, height=HEIGHT,
        title=alt.TitleParams("Calibration: how sure against how often right", subtitle=(
            "Each dot is a bin of pairs (label: how many); below the dashed line the model is overconfident.")))


def length_scatter(points: pd.DataFrame, total: int) -> alt.Chart | None:
    """Score against length in characters, one dot per response, coloured by side.

    ``points`` has columns ``row``, ``side``, ``length``, ``score`` (from :func:`reward.insight.trust.pair_points` or
    :func:`reward.insight.trust.response_points`); ``total`` is how many pairs (or rows) they were drawn from, so the
    caption can say when a sample is shown. None when there is nothing to draw.
    """
    if points is None or not len(points):
        return None
    sides = [s for s in SIDE_COLOURS if s in set(points["side"])]
    unit = "pairs" if "chosen" in sides or "rejected" in sides else "rows"
    drawn = points["row"].nunique()
    shown = (f"A fixed sample of {drawn:,} of the {total:,} {unit} is drawn (at most {SCATTER_MAX_POINTS:,} dots)."
             if drawn < total else f"All {total:,} {unit}.")
    scale = alt.Scale(domain=sides, range=[SIDE_COLOURS[s] for s in sides])
    colour = alt.Color("side:N", title="Response", scale=scale, legend=alt.Legend() if len(sides) > 1 else None)
    return alt.Chart(points).mark_circle(size=40, opacity=0.6).encode(
        x=alt.X("length:Q", title="Response length (characters)"),
        y=alt.Y("score:Q", title="Reward (score)"),
        color=colour,
        tooltip=[alt.Tooltip("row:Q", title="Row"), alt.Tooltip("side:N", title="Response"),
                 alt.Tooltip("length:Q", title="Characters"), alt.Tooltip("score:Q", title="Score", format=".3f")],
    ).properties(width=WIDTH, height=HEIGHT, title=alt.TitleParams("Score against length", subtitle=[
        "A cloud rising to the right means longer answers score higher, whatever they say.", shown]))
