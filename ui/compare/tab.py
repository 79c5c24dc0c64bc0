"""The Compare tab and the ``/score`` API: a prompt and candidate responses in, a ranked table and a bar chart out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import gradio as gr

from reward.config import PAGE_RESPONSE_BOXES, PAGE_START_BOXES
from reward.insight.ranking import (
    RankedResponse,
    plot_frame,
    ranked_label,
    ranking_table,
    response_label,
    win_matrix_frame,
)
from reward.service import RankingResult, RewardService
from ui import text
from ui.page import load_error_banner, model_panel, problems_as_messages, refuse_boxes, refuse_request

from .examples import CARD_AGREES_WITHIN, CardRow, ExampleSet, card_check
from .probes import build_probes_panel, probe_choice
from .share import (
    LINK_JS,
    SharedComparison,
    build_share_panel,
    opened_link,
    restored_note,
    scored_comparison,
    share_token,
)
from .why import attribute_choice, build_why_panel, explain_choice

SCORING = dict(concurrency_id="scoring")
"""The page's Score and the API share one concurrency limit and one queue of forward passes."""


def rank(service: RewardService, prompt, responses) -> RankingResult:
    """Rank, with every problem turned into a message for the person or the API caller."""
    with problems_as_messages("Scoring", "Try fewer or shorter responses"):
        return service.rank(prompt, responses)


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


def build_compare_tab(service: RewardService, examples: list[ExampleSet], banner: gr.Markdown,
                      panel: gr.Markdown) -> Callable[[gr.Blocks], None]:
    """The Compare tab's inputs, ranking and chart, and their events; ``banner`` and ``panel`` are
    the header's load-error banner and model panel, refreshed after each scoring.

    Returns the function that makes ``demo`` open a shared link on load (see :mod:`ui.compare.share`)."""
    settings = service.settings
    # Every box shown is sent (a blank one too), and every item sent counts against the
    # limit: the page never shows more boxes than a request may carry.
    most = min(PAGE_RESPONSE_BOXES, settings.max_responses)
    start = min(PAGE_START_BOXES, most)
    count = gr.State(start)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            gr.Markdown("**Try an example**")
            with gr.Row():
                example_buttons = [gr.Button(ex.title, size="sm", variant="secondary") for ex in examples]
            prompt = gr.Textbox(label="Prompt", lines=2, max_lines=8, elem_id="prompt",
                                placeholder="The question or instruction the responses answer")
            boxes = [
                gr.Textbox(label=f"Response {i + 1}", placeholder="A candidate response", lines=3, max_lines=12,
                           visible=i < start, elem_id=f"response-{i + 1}")
                for i in range(PAGE_RESPONSE_BOXES)
            ]
            with gr.Row():
                add_btn = gr.Button("Add response", size="sm", elem_id="add-btn")
                remove_btn = gr.Button("Remove last", size="sm", elem_id="remove-btn")
                clear_btn = gr.Button("Clear all", size="sm", elem_id="clear-btn")
            score_btn = gr.Button("Score", variant="primary", elem_id="score-btn")
            gr.Markdown(f"Up to {most} responses here ({settings.max_responses} through the API, blank ones "
                        f"counted), {settings.max_chars:,} characters each. Blank responses are skipped.",
                        elem_classes=["hint"])
        with gr.Column(scale=6, min_width=320):
            table = gr.Dataframe(label="Ranking (best first)", elem_id="ranking", interactive=False, wrap=True,
                                 column_widths=["8%", "14%", "11%", "16%", "13%", "38%"])
            plot = gr.BarPlot(x="Response", y="Reward", sort="-y", label="Reward per response (rank order)",
                              x_title="Response", y_title="Reward (logit)", x_label_angle=0, height=320,
                              elem_id="reward-plot")
            card = gr.Markdown(visible=False, elem_id="card-check")
            matrix = gr.Plot(label="Win matrix: chance row beats column",
                             elem_id="win-matrix")
            gr.Markdown(text.WIN_MATRIX_CAPTION, elem_classes=["hint"])
            share = build_share_panel()
    scored = gr.State(None)  # the last scoring's prompt and responses, for the Why this score panel
    why = build_why_panel()
    probes = build_probes_panel()

    def show(n: int) -> list:
        return [gr.update(visible=i < n) for i in range(PAGE_RESPONSE_BOXES)]

    def add(n: int):
        if n >= most:
            gr.Warning(f"The page holds at most {most} responses.")
        n = min(n + 1, most)
        return n, *show(n)

    def remove(n: int, *texts: str):
        if n <= 1:
            return n, *[gr.update() for _ in range(PAGE_RESPONSE_BOXES)]
        n -= 1
        # The removed box is emptied so that showing it again starts blank.
        return n, *[gr.update(visible=i < n, value="" if i == n else texts[i]) for i in range(PAGE_RESPONSE_BOXES)]

    def clear():
        n = start
        return (n, "", *[gr.update(visible=i < n, value="") for i in range(PAGE_RESPONSE_BOXES)], None, None, None,
                gr.update(visible=False), None, gr.update(value="", visible=False), gr.update(visible=False),
                gr.update(value="", visible=False), "")

    def load_example(ex: ExampleSet):
        texts = ex.responses[:most]
        n = max(len(texts), 1)
        return (n, ex.prompt,
                *[gr.update(visible=i < n, value=texts[i] if i < len(texts) else "")
                  for i in range(PAGE_RESPONSE_BOXES)])

    def score_page(prompt_text: str, n: int, *texts: str):
        result = rank(service, prompt_text, list(texts[:n]))
        labels = [f"#{r.rank} · {response_label(r.index)} ({r.score:+.3f})" for r in result.ranked]
        scored = {"prompt": prompt_text, "responses": {label: r.response for label, r in zip(labels, result.ranked)},
                  "labels": labels,
                  **scored_comparison(prompt_text, list(texts[:n]), result.ranked, service.describe().model)}
        live = [(r.response, r.score) for r in result.ranked]
        return (ranking_table(result.ranked, settings.max_length), plot_frame(result.ranked),
                model_panel(service, result), load_error_banner(service), scored,
                gr.update(choices=labels, value=None), gr.update(visible=True),
                *[None] * (len(why.explained) - 1), "", win_matrix_chart(result.ranked),
                card_check_view(card_check(service.describe(), examples, prompt_text, live), examples),
                gr.update(visible=True), None, "", gr.update(value="", visible=False), "")

    def pick_row(scored: dict | None, evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not scored or not isinstance(row, int) or not 0 <= row < len(scored["labels"]):
            return gr.update()
        return scored["labels"][row]

    def check_page(prompt_text: str, n: int, *texts: str):
        # Inputs are (prompt, count, box 1, box 2, ...): a response's message goes on its box.
        return refuse_boxes(service.check, prompt_text, list(texts[:n]), 2 + PAGE_RESPONSE_BOXES, 2)

    # Page-only events skip the queue: they are instant and must not wait behind scoring.
    page_only = dict(api_visibility="private", queue=False)
    add_btn.click(add, count, [count, *boxes], **page_only)
    remove_btn.click(remove, [count, *boxes], [count, *boxes], **page_only)
    clear_btn.click(clear, None, [count, prompt, *boxes, table, plot, scored, why.panel, matrix, card, probes.panel,
                                  share.link, share.note], **page_only)
    for button, ex in zip(example_buttons, examples):
        button.click(lambda ex=ex: load_example(ex), None, [count, prompt, *boxes], **page_only)
    scoring_outputs = [table, plot, panel, banner, scored, why.picker, why.panel, *why.explained, matrix, card,
                       probes.panel, probes.table, probes.note, share.link, share.note]
    gr.on(triggers=[score_btn.click, prompt.submit], fn=score_page, inputs=[prompt, count, *boxes],
          outputs=scoring_outputs, api_visibility="private", validator=check_page,
          concurrency_limit=settings.concurrency, **SCORING)
    table.select(pick_row, scored, why.picker, **page_only)
    why.picker.change(lambda state, label: explain_choice(service, state, label), [scored, why.picker],
                      why.explained, api_visibility="private", concurrency_limit=settings.concurrency, **SCORING)
    why.picker.change(lambda state, label: probe_choice(service, state, label), [scored, why.picker],
                      [probes.table, probes.note], api_visibility="private", concurrency_limit=settings.concurrency,
                      **SCORING)
    why.attribute.click(lambda state, label: attribute_choice(service, state, label), [scored, why.picker],
                        [why.attribution, why.attribution_note], api_visibility="private",
                        concurrency_id="attribute", concurrency_limit=1)
    share.button.click(share_token, scored, [share.token, share.link, share.note], **page_only).then(
        None, share.token, share.link, js=LINK_JS, **page_only)

    def open_link(request: gr.Request):
        shared, problem = opened_link(request, most, settings.max_chars)
        if shared is None:
            return None, gr.update(), gr.update(), *[gr.update()] * PAGE_RESPONSE_BOXES, problem
        n = len(shared.responses)
        # Kept as a plain dict: Gradio compares a state's old and new values by hashing them.
        return (asdict(shared), n, shared.prompt, *[gr.update(visible=i < n, value=shared.responses[i] if i < n else "")
                                            for i in range(PAGE_RESPONSE_BOXES)], "")

    def score_opened(shared, prompt_text: str, n: int, *texts: str):
        if shared is None:
            return [gr.update()] * len(scoring_outputs)
        shared = SharedComparison(**shared)
        *shown, _, _ = score_page(prompt_text, n, *texts)
        now = shown[scoring_outputs.index(scored)]
        ranking_now = SharedComparison(now["prompt"], now["boxes"], now["scores"], now["model"]).ranking()
        return (*shown, gr.update(visible=False), restored_note(shared, ranking_now, now["model"]))

    opened = gr.State(None)

    # Only a page opened from a link scores on load: the state changes only then.
    opened.change(score_opened, [opened, prompt, count, *boxes], scoring_outputs, api_visibility="private",
                  concurrency_limit=settings.concurrency, **SCORING)

    def on_load(demo: gr.Blocks) -> None:
        demo.load(open_link, None, [opened, count, prompt, *boxes, share.note], api_visibility="private")

    return on_load


def add_score_api(demo: gr.Blocks, service: RewardService) -> None:
    """The ``/score`` endpoint, with the same limits, validator and queue as the page's Score."""

    def score(prompt: str, responses: list[str]) -> list[dict]:
        """Score candidate responses to a prompt and rank them, best first.

        Each record has rank (1 = best), index (position in `responses`, from 0),
        response, score (the raw reward logit), tokens (read by the model, special
        tokens included) and truncated (cut at the model's length limit).
        Blank responses are skipped, but count toward the most responses one
        request may carry.

        Args:
            prompt: The question or instruction the responses answer.
            responses: The candidate responses, one text each; blank ones are skipped but count toward the limit.
        """
        return [r.record() for r in rank(service, prompt, responses).ranked]

    endpoint = gr.api(score, api_name="score", concurrency_limit=service.settings.concurrency, **SCORING)
    # gr.api (Gradio 6.31) takes no validator argument; the event it made takes one
    # like any other, so requests over the limits are refused before they queue.
    demo.fns[endpoint["id"]].validator = refuse_request(service.check)
