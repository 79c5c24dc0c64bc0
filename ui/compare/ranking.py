"""The Compare tab's results: the ranking table, the bar chart, the card check and the win matrix, hidden behind one
line that says what to do until a scoring fills them."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from reward.insight.ranking import RankedResponse, plot_frame, ranked_label, ranking_table, win_matrix_frame
from ui import text

from .examples import CARD_AGREES_WITHIN, CardRow, ExampleSet
from .share import SharePanel, build_share_panel


@dataclass(frozen=True)
class RankingPanel:
    """What a scoring fills; ``hint`` stands in their place until then."""

    hint: gr.Markdown
    results: gr.Column
    table: gr.Dataframe
    plot: gr.BarPlot
    card: gr.Markdown
    matrix: gr.Plot

    @property
    def outputs(self) -> list:
        return [self.hint, self.results, self.table, self.plot, self.card, self.matrix]

    def filled(self, ranked: list[RankedResponse], max_length: int, card_rows: list[CardRow],
               example_sets: list[ExampleSet]) -> dict:
        """The panel showing a scoring's ranking."""
        return {self.hint: gr.update(visible=False), self.results: gr.update(visible=True),
                self.table: ranking_table(ranked, max_length), self.plot: plot_frame(ranked),
                self.card: card_check_view(card_rows, example_sets), self.matrix: win_matrix_chart(ranked)}

    def emptied(self) -> dict:
        """The panel as on a fresh page: the hint, nothing else."""
        return {self.hint: gr.update(visible=True), self.results: gr.update(visible=False), self.table: None,
                self.plot: None, self.card: gr.update(value="", visible=False), self.matrix: None}


def build_ranking_panel() -> tuple[RankingPanel, SharePanel]:
    """The results column's parts, and the share panel under them (hidden with them until a scoring)."""
    hint = gr.Markdown(text.RANKING_EMPTY, elem_id="ranking-hint", elem_classes=["empty-hint"])
    with gr.Column(visible=False, elem_id="ranking-results") as results:
        table = gr.Dataframe(label="Ranking (best first)", elem_id="ranking", interactive=False, wrap=True,
                             column_widths=["8%", "14%", "11%", "16%", "13%", "38%"])
        plot = gr.BarPlot(x="Response", y="Reward", sort="-y", label="Reward per response (rank order)",
                          x_title="Response", y_title="Reward (logit)", x_label_angle=0, height=320,
                          elem_id="reward-plot")
        card = gr.Markdown(visible=False, elem_id="card-check")
        matrix = gr.Plot(label="Win matrix: chance row beats column", elem_id="win-matrix")
        gr.Markdown(text.WIN_MATRIX_CAPTION, elem_classes=["hint"])
        share = build_share_panel(note=gr.Markdown(render=False, elem_id="share-note"))
    share.note.render()
    return RankingPanel(hint, results, table, plot, card, matrix), share


def win_matrix_chart(ranked: list[RankedResponse]):
    """The win matrix as an Altair heatmap: rows and columns in rank order, each cell labelled with the row's
    chance against the column (see :func:`reward.insight.ranking.win_matrix`); the diagonal grey, labelled "—"."""
    import altair as alt

    order = [ranked_label(r) for r in ranked]
    side = min(70 * len(ranked) + 80, 640)
    base = alt.Chart(win_matrix_frame(ranked)).encode(
        x=alt.X("Column:N", sort=order, title="… over this response",
                axis=alt.Axis(labelAngle=-30 if len(ranked) > 3 else 0, labelLimit=140)),
        y=alt.Y("Row:N", sort=order, title="Chance this is preferred …", axis=alt.Axis(labelLimit=140)))
    cells = base.mark_rect().encode(
        color=alt.condition("datum.Row == datum.Column", alt.value("#e5e7eb"),
                            alt.Color("Chance:Q", scale=alt.Scale(domain=[0, 1], scheme="redblue"),
                                      legend=alt.Legend(title="Chance", format="%"))),
        tooltip=[alt.Tooltip("Row:N", title="Row"), alt.Tooltip("Column:N", title="Column"),
                 alt.Tooltip("Label:N", title="Chance row preferred")])
    labels = base.mark_text(fontSize=13).encode(
        text="Label:N",
        color=alt.condition("datum.Chance > 0.85 || datum.Chance < 0.15", alt.value("white"), alt.value("black")))
    # The top padding keeps the chart clear of the block's label, which Gradio draws over the plot.
    return (cells + labels).properties(width=side, height=side, padding={"top": 40, "left": 5, "right": 5,
                                                                          "bottom": 5})


def card_check_view(rows: list[CardRow], example_sets: list[ExampleSet]) -> dict:
    """The card-check panel: shown only with rows (see :func:`ui.compare.examples.card_check`)."""
    if not rows:
        return gr.update(value="", visible=False)
    source = next((ex.card_source for ex in example_sets if ex.card_scores), "the model card")
    lines = [text.CARD_CHECK.format(source=source, within=CARD_AGREES_WITHIN), "",
             "| Response | Card | This run | Agrees |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {r.label} | {r.published:+.3f} | {r.live:+.3f} | "
              f"{'✓ yes' if r.agrees else f'✗ no, off by {abs(r.live - r.published):.3f}'} |" for r in rows]
    return gr.update(value="\n".join(lines), visible=True)
