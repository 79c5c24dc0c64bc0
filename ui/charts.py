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


def length_scatter(points: pd.DataFrame, total: int, unit: str | None = None) -> alt.Chart | None:
    """Score against length in characters, one dot per response, coloured by side.

    ``points`` has columns ``row``, ``side``, ``length``, ``score`` (from :func:`reward.insight.trust.pair_points` or
    :func:`reward.insight.trust.response_points`); ``total`` is how many pairs (or rows) they were drawn from, so the
    caption can say when a sample is shown; ``unit`` names what they are ("sets": each answer of a best-of-N set once;
    by default pairs, or rows for responses). None when there is nothing to draw.
    """
    if points is None or not len(points):
        return None
    sides = [s for s in SIDE_COLOURS if s in set(points["side"])]
    unit = unit or ("pairs" if "chosen" in sides or "rejected" in sides else "rows")
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


def slice_chart(records: list[dict], best_of_n: bool = False) -> alt.LayerChart | None:
    """Accuracy per slice, one row each in the records' order (largest first): a dot with its 95% interval as a bar,
    a tick where always picking the longer answer lands, and a dashed rule at 50%.

    ``records`` are :attr:`~reward.jobs.evaluate.EvaluationSummary.slices`; with ``best_of_n`` their accuracy is
    per set. None when there are none.
    """
    if not records:
        return None
    unit = "sets" if best_of_n else "pairs"
    rows = pd.DataFrame({
        "slice": [f"{r['slice']} ({r['n']:,})" for r in records], "name": [r["slice"] for r in records],
        "n": [r["n"] for r in records], "accuracy": [r["accuracy"] for r in records],
        "ci_low": [r["ci_low"] for r in records], "ci_high": [r["ci_high"] for r in records],
        "longer": [r["longer_baseline_accuracy"] for r in records],
    })
    scale = alt.Scale(domain=[0.0, 1.0])
    x = alt.X("accuracy:Q", title=f"{'Best-of-N accuracy' if best_of_n else 'Accuracy'} ({unit} judged right)",
              scale=scale, axis=alt.Axis(format="%"))
    y = alt.Y("slice:N", sort=rows["slice"].tolist(), title=None)
    tooltip = [alt.Tooltip("name:N", title="Slice"), alt.Tooltip("n:Q", title=unit.capitalize()),
               alt.Tooltip("accuracy:Q", title="Accuracy", format=".1%"),
               alt.Tooltip("ci_low:Q", title="95% interval from", format=".1%"),
               alt.Tooltip("ci_high:Q", title="95% interval to", format=".1%"),
               alt.Tooltip("longer:Q", title="Always pick the longer", format=".1%")]
    base = alt.Chart(rows).encode(y=y, tooltip=tooltip)
    coin = alt.Chart(pd.DataFrame({"accuracy": [0.5]})).mark_rule(color="#888888", strokeDash=[6, 4]).encode(x=x)
    interval = base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)").mark_rule(
        color="#4f46e5", strokeWidth=3, opacity=0.5).encode(x=alt.X("ci_low:Q", scale=scale), x2="ci_high:Q")
    longer = base.mark_tick(color="#c62828", thickness=3, size=18).encode(x=alt.X("longer:Q", scale=scale))
    dots = base.mark_circle(color="#4f46e5", size=110, opacity=1.0).encode(x=x)
    return alt.layer(coin, interval, longer, dots).properties(
        width=WIDTH, height=max(120, 34 * len(records)),
        title=alt.TitleParams(f"{'Best-of-N accuracy' if best_of_n else 'Accuracy'} by slice, largest first",
                              subtitle=["Dot and bar: the model's accuracy and its 95% interval;",
                                        "red tick: always picking the longer answer; dashed line: 50%."]))
