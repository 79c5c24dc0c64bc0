"""The Compare tab and the ``/score`` API: a prompt and candidate responses in, a ranked table and a bar chart out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import gradio as gr

from reward.config import PAGE_RESPONSE_BOXES, PAGE_START_BOXES
from reward.insight.ranking import response_label
from reward.service import RewardService
from ui.page import load_error_banner, model_panel, ranked_by, refuse_boxes, refuse_request

from .conversation import build_conversation_panel, check_prompt, is_conversation, rank_prompt
from .examples import ExampleSet, card_check
from .pair import build_pair_panel, contrast_choice, flip_choice
from .probes import build_probes_panel
from .ranking import build_ranking_panel
from .share import LINK_JS, SharedComparison, opened_link, restored_note, scored_comparison, share_token
from .whatif import build_whatif_panel, picked_original, whatif_choice
from .why import (
    attribute_choice,
    attribution_shown,
    build_why_panel,
    explain_curve,
    explain_first,
    explain_parts,
    explain_probes,
)

SCORING = dict(concurrency_id="scoring")
"""The page's Score and the API share one concurrency limit and one queue of forward passes."""


@dataclass(frozen=True)
class ResponseBoxes:
    """The prompt and the response boxes: a fixed number of them, the first ``count`` shown."""

    count: gr.State
    prompt: gr.Textbox
    boxes: list[gr.Textbox]

    @property
    def outputs(self) -> list:
        return [self.count, self.prompt, *self.boxes]

    def showing(self, n: int, texts: list[str] | None = None, prompt: str | None = None) -> dict:
        """The first ``n`` boxes shown (the others hidden); with ``texts``, the boxes hold them (the others emptied);
        with ``prompt``, the prompt box holds it."""
        update = {self.count: n, **{box: gr.update(visible=i < n) if texts is None else
                                    gr.update(visible=i < n, value=texts[i] if i < len(texts) else "")
                                    for i, box in enumerate(self.boxes)}}
        return update if prompt is None else {**update, self.prompt: prompt}


@dataclass(frozen=True)
class CompareTab:
    """What the page wires to the Compare tab after building it."""

    open_links: Callable[[gr.Blocks], None]
    """Makes the page open a shared link on load (see :mod:`ui.compare.share`)."""
    open_pair: Callable[[gr.State, gr.Tabs], None]
    """``open_pair(opened, tabs)``: when ``opened`` (a state) changes to ``{prompt, chosen, rejected}``, the page
    switches ``tabs`` to Compare with that pair in the boxes, scores it, explains the chosen response and compares
    the chosen one (A) with the rejected one (B) in the pair view."""


def build_compare_tab(service: RewardService, examples: list[ExampleSet], banner: gr.Markdown,
                      panel: gr.Markdown) -> CompareTab:
    """The Compare tab's inputs, ranking and chart, and their events; ``banner`` and ``panel`` are
    the header's load-error banner and model panel, refreshed after each scoring.

    Every handler here returns a dict keyed by component, so that adding a panel cannot shift another's value.
    Returns what the page wires to the tab from outside (:class:`CompareTab`)."""
    settings = service.settings
    # Every box shown is sent (a blank one too), and every item sent counts against the
    # limit: the page never shows more boxes than a request may carry.
    most = min(PAGE_RESPONSE_BOXES, settings.max_responses)
    start = min(PAGE_START_BOXES, most)
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
            ranking, share = build_ranking_panel()
    inputs = ResponseBoxes(gr.State(start), prompt, boxes)
    scored = gr.State(None)  # the last scoring's prompt and responses, for the Why this score panel
    conversation = build_conversation_panel()
    why = build_why_panel()
    probes = build_probes_panel()
    pair = build_pair_panel()
    whatif = build_whatif_panel()
    results = [*ranking.outputs, panel, banner, scored, *why.outputs, *probes.outputs, *share.outputs,
               *pair.outputs, *whatif.outputs, *conversation.outputs]
    """Everything a scoring (or a cleared page) updates."""

    def add(n: int) -> dict:
        if n >= most:
            gr.Warning(f"The page holds at most {most} responses.")
        return inputs.showing(min(n + 1, most))

    def remove(n: int, *texts: str) -> dict:
        if n <= 1:
            return gr.skip()
        # The removed box is emptied so that showing it again starts blank.
        return inputs.showing(n - 1, list(texts[:n - 1]))

    def clear() -> dict:
        return {**inputs.showing(start, [], prompt=""), **ranking.emptied(), scored: None, **why.emptied(),
                **probes.emptied(), **share.emptied(), **pair.emptied(), **whatif.emptied(), **conversation.emptied()}

    def load_example(ex: ExampleSet) -> dict:
        texts = ex.responses[:most]
        return inputs.showing(max(len(texts), 1), texts, prompt=ex.prompt)

    def score_page(prompt_text: str, n: int, *texts: str) -> dict:
        result = rank_prompt(service, prompt_text, list(texts[:n]))
        labels = [f"#{r.rank} · {response_label(r.index)} ({r.score:+.3f})" for r in result.ranked]
        # A conversation is scored, explained and compared as the flattened text the model reads.
        scored_prompt = service.check_chat(prompt_text, list(texts[:n])).prompt if is_conversation(prompt_text) \
            else prompt_text
        last = {**scored_comparison(prompt_text, list(texts[:n]), result.ranked, service.describe().model),
                "prompt": scored_prompt, "typed": prompt_text,
                "responses": {label: r.response for label, r in zip(labels, result.ranked)},
                "labels": labels, "indices": {label: r.index for label, r in zip(labels, result.ranked)}}
        live = [(r.response, r.score) for r in result.ranked]
        card_rows = card_check(service.describe(), examples, prompt_text, live)
        return {**ranking.filled(result.ranked, settings.max_length, card_rows, examples),
                panel: model_panel(service, result), banner: load_error_banner(service), scored: last,
                **why.offered(labels), **probes.emptied(), **share.emptied(), **pair.offered(labels),
                **whatif.offered(labels, last), **conversation.filled(service, prompt_text, list(texts[:n]))}

    def pick_row(last: dict | None, evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not last or not isinstance(row, int) or not 0 <= row < len(last["labels"]):
            return gr.skip()
        return last["labels"][row]

    def check_page(prompt_text: str, n: int, *texts: str):
        # Inputs are (prompt, count, box 1, box 2, ...): a response's message goes on its box.
        return refuse_boxes(lambda p, b: check_prompt(service, p, b), prompt_text, list(texts[:n]),
                            2 + PAGE_RESPONSE_BOXES, 2)

    # Page-only events skip the queue: they are instant and must not wait behind scoring.
    page_only = dict(api_visibility="private", queue=False)
    add_btn.click(add, inputs.count, inputs.outputs, **page_only)
    remove_btn.click(remove, [inputs.count, *boxes], inputs.outputs, **page_only)
    clear_btn.click(clear, None, [*inputs.outputs, *results], **page_only)
    for button, ex in zip(example_buttons, examples):
        button.click(partial(load_example, ex), None, inputs.outputs, **page_only)
    on_the_model = dict(api_visibility="private", concurrency_limit=settings.concurrency, **SCORING)
    gr.on(triggers=[score_btn.click, prompt.submit], fn=score_page, inputs=[prompt, inputs.count, *boxes],
          outputs=results, validator=check_page, **on_the_model)
    ranking.table.select(pick_row, scored, why.picker, **page_only)

    # Named functions, not partials or lambdas: on ZeroGPU, spaces.GPU wraps each model event by its name.
    def explain_picked(last: dict | None, label: str | None) -> dict:
        return explain_first(service, why, probes, last, label)

    def explain_picked_parts(last: dict | None, label: str | None) -> dict:
        return explain_parts(service, why, last, label)

    def explain_picked_curve(last: dict | None, label: str | None) -> dict:
        return explain_curve(service, why, last, label)

    def probe_picked(last: dict | None, label: str | None) -> dict:
        return explain_probes(service, why, probes, last, label)

    def attribute_picked(last: dict | None, label: str | None, unit: str) -> dict:
        return attribute_choice(service, why, last, label, unit)

    picked = [scored, why.picker]
    why.picker.change(explain_picked, picked, [*why.explained, *probes.outputs], **on_the_model).success(
        explain_picked_parts, picked, [why.summary, why.sentences, why.effects, why.progress], **on_the_model).success(
        explain_picked_curve, picked, [why.prefixes, why.progress], **on_the_model).success(
        probe_picked, picked, [*probes.outputs, why.progress], **on_the_model)
    why.attribute.click(attribute_picked, [scored, why.picker, why.attribution_unit], why.attributed,
                        api_visibility="private", concurrency_id="attribute", concurrency_limit=1)

    def switch_unit(result: dict | None, unit: str) -> dict:
        return attribution_shown(why, result, unit)

    why.attribution_unit.change(switch_unit, [why.attribution_result, why.attribution_unit],
                                [why.attribution, why.attribution_note], **page_only)
    def compare_picked(last: dict | None, label_a: str | None, label_b: str | None) -> dict:
        return contrast_choice(service, pair, last, label_a, label_b)

    def flip_picked(last: dict | None, label_a: str | None, label_b: str | None, unit: str) -> dict:
        return flip_choice(service, pair, last, label_a, label_b, unit)

    def score_edit(last: dict | None, label: str | None, edited: str, kept: list | None) -> dict:
        return whatif_choice(service, whatif, last, label, edited, kept)

    def edit_picked(last: dict | None, label: str | None) -> dict:
        return picked_original(whatif, last, label)

    pair.run.click(compare_picked, [scored, pair.pick_a, pair.pick_b], pair.compared + pair.flipped,
                   api_visibility="private",
                   concurrency_id="attribute", concurrency_limit=1)
    def uncompare() -> dict:
        return pair.uncompared()

    for picker in (pair.pick_a, pair.pick_b):
        picker.input(uncompare, None, pair.compared + pair.flipped, **page_only)
    pair.flip_run.click(flip_picked, [scored, pair.pick_a, pair.pick_b, pair.flip_unit], pair.flipped,
                        api_visibility="private", concurrency_id="explain", concurrency_limit=settings.concurrency)
    whatif.pick.input(edit_picked, [scored, whatif.pick], [whatif.original, whatif.edit], **page_only)
    whatif.run.click(score_edit, [scored, whatif.pick, whatif.edit, whatif.kept], whatif.answered, **on_the_model)
    share.button.click(share_token, scored, [share.token, share.link, share.note], **page_only).then(
        None, share.token, share.link, js=LINK_JS, **page_only)

    def open_link(request: gr.Request) -> dict:
        shared, problem = opened_link(request, most, settings.max_chars, service.check)
        if shared is None:
            return {opened: None, share.note: problem}
        # Kept as a plain dict: Gradio compares a state's old and new values by hashing them.
        return {opened: asdict(shared), **inputs.showing(len(shared.responses), shared.responses,
                                                         prompt=shared.prompt), share.note: ""}

    def score_opened(shared, prompt_text: str, n: int, *texts: str) -> dict:
        if shared is None:
            return gr.skip()
        shared = SharedComparison(**shared)
        try:
            shown = score_page(prompt_text, n, *texts)
        except gr.Error as err:
            # Opening was not asked for by a click: what stopped the scoring (a model that cannot load, boxes
            # edited meanwhile) is said in the link's note, with the comparison left in the boxes to score.
            return {share.note: f"**Opened from a shared link, but not scored.** {err.message}",
                    banner: load_error_banner(service)}
        now = shown[scored]
        ranking_now = SharedComparison(now["typed"], now["boxes"], now["scores"], now["model"]).ranking()
        return {**shown, share.link: gr.update(visible=False), share.note: restored_note(shared, ranking_now,
                                                                                         now["model"])}

    opened = gr.State(None)

    # Only a page opened from a link scores on load: the state changes only then.
    opened.change(score_opened, [opened, prompt, inputs.count, *boxes], results, **on_the_model)

    def on_load(demo: gr.Blocks) -> None:
        demo.load(open_link, None, [opened, *inputs.outputs, share.note], api_visibility="private")

    def open_pair(pair_state: gr.State, tabs: gr.Tabs) -> None:
        def show_pair(pair: dict | None) -> dict:
            if not pair:
                return gr.skip()
            return {tabs: gr.Tabs(selected="compare"),
                    **inputs.showing(2, [pair["chosen"], pair["rejected"]], prompt=pair["prompt"])}

        def score_pair(pair: dict | None, prompt_text: str, n: int, *texts: str) -> dict:
            if not pair:
                return gr.skip()
            return score_page(prompt_text, n, *texts)

        def pick_pair(pair: dict | None, last: dict | None) -> dict:
            # Response 1 is the chosen one, Response 2 the rejected one, whatever their ranks.
            if not pair or not last:
                return gr.skip()
            chosen, rejected = (next(label for label, i in last["indices"].items() if i == k) for k in (0, 1))
            return {why.picker: chosen, pair_panel.pick_a: chosen, pair_panel.pick_b: rejected}

        def compare_pair(pair: dict | None, last: dict | None, label_a: str | None, label_b: str | None) -> dict:
            if not pair:
                return gr.skip()
            return contrast_choice(service, pair_panel, last, label_a, label_b)

        pair_panel = pair
        pair_state.change(show_pair, pair_state, [tabs, *inputs.outputs], **page_only).then(
            score_pair, [pair_state, prompt, inputs.count, *boxes], results, **on_the_model).success(
            pick_pair, [pair_state, scored], [why.picker, pair.pick_a, pair.pick_b], **page_only).success(
            compare_pair, [pair_state, scored, pair.pick_a, pair.pick_b], pair.compared + pair.flipped,
            api_visibility="private", concurrency_id="attribute", concurrency_limit=1)

    return CompareTab(on_load, open_pair)


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
        return [r.record() for r in ranked_by(service.rank, prompt, responses).ranked]

    endpoint = gr.api(score, api_name="score", concurrency_limit=service.settings.concurrency, **SCORING)
    # gr.api (Gradio 6.31) takes no validator argument; the event it made takes one
    # like any other, so requests over the limits are refused before they queue.
    demo.fns[endpoint["id"]].validator = refuse_request(service.check)
