"""The Models tab and the ``/score_models`` API: one prompt's responses ranked by several reward models side by side."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from reward.config import DISPUTES_SHOWN, MODELS_TAB_BOXES
from reward.insight.ranking import response_label
from reward.lineup import Lineup, LineupResult

from . import text
from .page import problems_as_messages, refuse_boxes, refuse_request

MODELS = dict(concurrency_id="models")
"""The tab's Score and the API share one concurrency limit."""
DISPUTED_MARK = "⇄"
DISPUTED_STYLE = "background-color: #fde68a; font-weight: 600"


def rank_all(lineup: Lineup, prompt, responses) -> LineupResult:
    with problems_as_messages("Scoring with every model", "Try fewer or shorter responses"):
        return lineup.rank(prompt, responses)


def rankings_table(result: LineupResult):
    """One column per model, best first; a model that failed shows its reason in its first cell, and every
    response in a dispute is marked and highlighted. Returns a pandas Styler."""
    rows = max((len(r.ranked) for r in result.rankings if r.ranked is not None), default=1)
    disputed = result.disputed()
    columns: dict[str, list[str]] = {"Rank": [str(i) for i in range(1, rows + 1)]}
    marked: dict[str, list[bool]] = {"Rank": [False] * rows}
    for ranking in result.rankings:
        if ranking.ranked is None:
            columns[ranking.model] = [f"Not available: {ranking.error}"] + [""] * (rows - 1)
            marked[ranking.model] = [False] * rows
            continue
        columns[ranking.model] = [(f"{DISPUTED_MARK} " if r.index in disputed else "")
                                  + f"{response_label(r.index)} ({r.score:+.3f})" for r in ranking.ranked]
        marked[ranking.model] = [r.index in disputed for r in ranking.ranked]
    frame = pd.DataFrame(columns)
    flags = pd.DataFrame(marked)
    return frame.style.apply(lambda _: flags.map(lambda hit: DISPUTED_STYLE if hit else ""), axis=None)


def agreement_table(result: LineupResult) -> pd.DataFrame:
    rows = [{"Model": a.first, "Other model": a.second,
             "Kendall's tau-b": "— (undefined)" if a.tau is None else f"{a.tau:+.3f}",
             "Pairs ordered differently": f"{a.discordant} of {a.pairs}" if a.tau is not None else "—"}
            for a in result.agreements]
    return pd.DataFrame(rows, columns=["Model", "Other model", "Kendall's tau-b", "Pairs ordered differently"])


def disputes_text(result: LineupResult) -> str:
    working = [r for r in result.rankings if r.ranked is not None]
    if len(working) < 2:
        return "Fewer than two models scored these responses: nothing to compare."
    if not result.disputes:
        return "**No disputes**: every model orders every pair of responses the same way (ties aside)."
    n = len(result.disputes)
    intro = (f"**{n} disputed pair{'s' * (n != 1)}** (marked {DISPUTED_MARK} above): one model scores the first "
             "response higher, another the second.")
    lines = [intro]
    for d in result.disputes[:DISPUTES_SHOWN]:
        a, b = response_label(d.first), response_label(d.second)
        lines.append(f"- **{a} and {b}**: {a} higher for {', '.join(f'`{m}`' for m in d.prefer_first)}; "
                     f"{b} higher for {', '.join(f'`{m}`' for m in d.prefer_second)}.")
    if len(result.disputes) > DISPUTES_SHOWN:
        lines.append(f"- and {len(result.disputes) - DISPUTES_SHOWN} more pairs.")
    return "\n".join(lines)


def build_models_tab(lineup: Lineup) -> None:
    """Prompt and response boxes, one Score for every model, the rankings side by side, tau and the disputes."""
    settings = lineup.settings
    most = min(MODELS_TAB_BOXES, settings.max_responses)
    listed = ", ".join(f"`{name}`" for name in lineup.names)
    gr.Markdown(f"The same prompt and responses scored by each model ({listed}; the first is the main model), "
                "ranked side by side. Kendall's tau-b says how much two rankings agree (+1 the same order, -1 "
                "reversed); a pair of responses two models order differently is *disputed* and highlighted.",
                elem_classes=["hint"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            prompt = gr.Textbox(label="Prompt", lines=2, max_lines=8, elem_id="models-prompt",
                                placeholder="The question or instruction the responses answer")
            boxes = [gr.Textbox(label=f"Response {i + 1}", lines=2, max_lines=10, elem_id=f"models-response-{i + 1}",
                                placeholder="A candidate response (blank ones are skipped)") for i in range(most)]
            run = gr.Button("Score with every model", variant="primary", elem_id="models-btn")
        with gr.Column(scale=6, min_width=320):
            hint = gr.Markdown(text.MODELS_EMPTY, elem_id="models-hint", elem_classes=["empty-hint"])
            with gr.Column(visible=False, elem_id="models-results") as results:
                table = gr.Dataframe(label="Rankings side by side (best first)", interactive=False, wrap=True,
                                     elem_id="models-rankings")
                tau = gr.Dataframe(label="Agreement between models", interactive=False, wrap=True,
                                   elem_id="models-tau")
                found = gr.Markdown(elem_id="models-disputes")

    def score_page(prompt_text: str, *texts: str) -> dict:
        result = rank_all(lineup, prompt_text, list(texts))
        return {hint: gr.update(visible=False), results: gr.update(visible=True), table: rankings_table(result),
                tau: agreement_table(result), found: disputes_text(result)}

    def check_page(prompt_text: str, *texts: str):
        return refuse_boxes(lineup.check, prompt_text, list(texts), 1 + most, 1)

    gr.on(triggers=[run.click, prompt.submit], fn=score_page, inputs=[prompt, *boxes],
          outputs=[hint, results, table, tau, found],
          api_visibility="private", validator=check_page, concurrency_limit=settings.concurrency, **MODELS)


def add_models_api(demo: gr.Blocks, lineup: Lineup) -> None:
    """``/score_models``, with the limits, validator and messages of ``/score``."""

    def score_models(prompt: str, responses: list[str]) -> list[dict]:
        """Score candidate responses to a prompt with every reward model this app serves, side by side.

        One record per model and response, each model's best first: model (its name; the main
        model comes first), rank (1 = best), index (position in `responses`, from 0), score (the
        raw reward logit), tokens (read by the model) and truncated. A model that could not be
        loaded gives one record {model, error} with the reason.

        Args:
            prompt: The question or instruction the responses answer.
            responses: The candidate responses, one text each; blank ones are skipped but count toward the limit.
        """
        return rank_all(lineup, prompt, responses).records()

    endpoint = gr.api(score_models, api_name="score_models", concurrency_limit=lineup.settings.concurrency, **MODELS)
    demo.fns[endpoint["id"]].validator = refuse_request(lineup.check)
