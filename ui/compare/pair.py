"""Why A over B: the pair view (two responses side by side, their word diff, their words on one colour scale) and
the smallest cut of A that flips the verdict; with the ``/contrast`` and ``/flip`` APIs (``/whatif`` is in
:mod:`ui.compare.whatif`)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from reward.insight.ranking import percent
from reward.model.requests import check_two, check_unit
from reward.service import RewardService
from ui import text
from ui.page import problems_as_messages, refusals

DIFF_COLORS = {"only in A": "#fca5a5", "only in B": "#93c5fd"}
"""The word diff's two sides on the page."""
FLIP_COLORS = {"taken out": "#fca5a5"}


def scaled_words(words: list[dict], top: float) -> list[tuple[str, float | None]]:
    """The response's words as highlighted text, each value divided by ``top`` (the largest |value| of both
    sides, so that one colour is one push on either side); a word the model did not read is left plain."""
    return [(w["word"], (w["value"] / top if top else 0.0) if w["read"] else None)
            for w in words if w["part"] == "response"]


def diff_view(diff: list[dict]) -> list[tuple[str, str | None]]:
    """The diff as one highlighted text: what both share plain, what only A has and what only B has marked."""
    view: list[tuple[str, str | None]] = []
    for step in diff:
        if step["op"] == "equal":
            view.append((step["a"], None))
            continue
        if step["a"]:
            view.append((step["a"], "only in A"))
        if step["b"]:
            view.append((step["b"], "only in B"))
    return view


def strongest(words: list[dict], n: int = 3) -> str:
    """The ``n`` words of the response that push hardest, with their values, for the summary."""
    ranked = sorted((w for w in words if w["part"] == "response" and w["read"]), key=lambda w: -abs(w["value"]))
    return ", ".join(f"“{w['word'].strip()}” {w['value']:+.2f}" for w in ranked[:n]) or "none"


def bare(label: str) -> str:
    """A ranking label without its score ("#1 · Response 2 (+1.234)" -> "#1 · Response 2"): the summaries say the
    scores themselves."""
    return label.split(" (")[0]


def contrast_summary(label_a: str, label_b: str, result: dict) -> str:
    """What the pair view says in words: scores, margin, chance, and the words that push most."""
    a, b, margin = result["score_a"], result["score_b"], result["margin"]
    label_a, label_b = bare(label_a), bare(label_b)
    verdict = ("The model prefers **A**" if margin > 0 else "The model prefers **B**" if margin < 0 else
               "The model has **no preference**")
    prompt_a = sum(w["value"] for w in result["words_a"] if w["part"] == "prompt")
    prompt_b = sum(w["value"] for w in result["words_b"] if w["part"] == "prompt")
    return (f"**A** {label_a} scores **{a:+.3f}**; **B** {label_b} scores **{b:+.3f}**. Margin **{margin:+.3f}**: "
            f"{verdict}, with a model-implied chance of **{percent(result['chance_a'])}** that A is preferred "
            f"(sigmoid of the margin).\n\nStrongest words in A: {strongest(result['words_a'])}. In B: "
            f"{strongest(result['words_b'])}. The prompt's words add {prompt_a:+.2f} to A's and {prompt_b:+.2f} "
            "to B's.")


def contrast_note(result: dict, top: float) -> str:
    return (f"{text.PAIR_WORDS} Both sides share one scale: full colour is a push of {top:.3f}. Integrated "
            f"gradients took {result['steps_a']} and {result['steps_b']} steps; the words' values miss the score "
            f"differences by {result['completeness_gap_a']:.3f} (A) and {result['completeness_gap_b']:.3f} (B).")


def flip_summary(label_a: str, label_b: str, result: dict) -> str:
    """What the flip search found, in words; every score named is the score of the text shown."""
    label_a, label_b = bare(label_a), bare(label_b)
    unit, n_parts = result["unit"] + "s", result["parts"]
    goal = "at or below" if result["goal"] == "down" else "above"
    head = (f"Looking for the fewest {unit} to take out of **A** ({label_a}, {result['score_a']:+.3f}) to put it "
            f"{goal} **B** ({label_b}, {result['score_b']:+.3f}).")
    if result["reason"] == "no parts":
        return f"{head} A has only one {result['unit']}: nothing can go while something stays."
    runs = f" A's {n_parts} parts are runs of adjacent {unit}, as it is long." if result["grouped"] else ""
    if result["attribution_steps"]:
        runs += (f" Of A's {n_parts} words, the {result['tried']} whose integrated gradients push hardest "
                 "towards the flip were tried.")
    scored = f"{result['passes']} texts scored."
    if result["flipped"]:
        n = len(result["removed"])
        return (f"{head}{runs} **Flipped** by taking out {n} {result['unit']}{'s' * (n != 1)} (marked): A then "
                f"scores **{result['score']:+.3f}**. {scored}")
    direction = "lowers" if result["goal"] == "down" else "raises"
    if not result["removed"]:
        which = f"A's {unit}" if result["tried"] == n_parts else f"the {result['tried']} {unit} tried"
        return (f"{head}{runs} **No flip found**: taking out any one of {which} alone never {direction} its "
                f"score, so the verdict does not hang on any of them. {scored}")
    why = ("every part that moves A the right way was taken out" if result["reason"] == "exhausted" else
           f"the search may score at most {result['max_passes']} texts")
    return (f"{head}{runs} **No flip found**: {why}. The closest it came: **{result['score']:+.3f}** with the "
            f"marked parts taken out. {scored}")


def flip_view(response: str, removed: list[dict]) -> list[tuple[str, str | None]]:
    """A with the parts taken out marked."""
    view, at = [], 0
    for r in removed:
        if r["start"] > at:
            view.append((response[at:r["start"]], None))
        view.append((r["text"], "taken out"))
        at = r["end"]
    if at < len(response):
        view.append((response[at:], None))
    return view


@dataclass(frozen=True)
class PairPanel:
    """The pair view: two pickers, the one line that says what to do (``hint``), and the comparison (``detail``)
    with the flip search under it."""

    panel: gr.Column
    pick_a: gr.Dropdown
    pick_b: gr.Dropdown
    run: gr.Button
    hint: gr.Markdown
    detail: gr.Column
    summary: gr.Markdown
    diff: gr.HighlightedText
    words_a: gr.HighlightedText
    words_b: gr.HighlightedText
    note: gr.Markdown
    flip_unit: gr.Radio
    flip_run: gr.Button
    flip_result: gr.Markdown
    flip_view: gr.HighlightedText

    @property
    def outputs(self) -> list:
        return [self.panel, self.pick_a, self.pick_b, self.run, *self.compared, *self.flipped]

    @property
    def compared(self) -> list:
        return [self.hint, self.detail, self.summary, self.diff, self.words_a, self.words_b, self.note]

    @property
    def flipped(self) -> list:
        return [self.flip_result, self.flip_view]

    def offered(self, labels: list[str]) -> dict:
        """After a scoring: the panel shown, #1 and #2 picked (with two responses or more), nothing compared."""
        two = len(labels) > 1
        return {self.panel: gr.update(visible=True),
                self.pick_a: gr.update(choices=labels, value=labels[0] if two else None, interactive=two),
                self.pick_b: gr.update(choices=labels, value=labels[1] if two else None, interactive=two),
                self.run: gr.update(visible=two), **self.uncompared(text.PAIR_EMPTY if two else text.PAIR_ONE)}

    def emptied(self) -> dict:
        """As on a fresh page: hidden."""
        return {self.panel: gr.update(visible=False), self.pick_a: gr.update(choices=[], value=None),
                self.pick_b: gr.update(choices=[], value=None), self.run: gr.update(visible=False),
                **self.uncompared(text.PAIR_EMPTY)}

    def uncompared(self, hint: str = text.PAIR_EMPTY) -> dict:
        hidden = gr.update(value=None, visible=False)
        return {self.hint: gr.update(value=hint, visible=True), self.detail: gr.update(visible=False),
                self.summary: "", self.diff: hidden, self.words_a: hidden, self.words_b: hidden, self.note: "",
                self.flip_result: "", self.flip_view: hidden}


def build_pair_panel() -> PairPanel:
    with gr.Column(visible=False, elem_id="pair-view") as panel:
        gr.Markdown("### Why A over B")
        with gr.Row():
            pick_a = gr.Dropdown(label="A", choices=[], value=None, elem_id="pair-a")
            pick_b = gr.Dropdown(label="B", choices=[], value=None, elem_id="pair-b")
        run = gr.Button("Compare A and B", variant="secondary", visible=False, elem_id="pair-btn")
        hint = gr.Markdown(text.PAIR_EMPTY, elem_id="pair-hint", elem_classes=["empty-hint"])
        with gr.Column(visible=False, elem_id="pair-detail") as detail:
            summary = gr.Markdown(elem_id="pair-summary")
            diff = gr.HighlightedText(label="Word diff: what A has that B lacks, and back", color_map=DIFF_COLORS,
                                      show_legend=True, show_inline_category=False, visible=False,
                                      elem_id="pair-diff")
            with gr.Row(equal_height=False):
                words_a = gr.HighlightedText(label="A, word by word", show_legend=True, show_inline_category=False,
                                             visible=False, elem_id="pair-words-a")
                words_b = gr.HighlightedText(label="B, word by word", show_legend=True, show_inline_category=False,
                                             visible=False, elem_id="pair-words-b")
            note = gr.Markdown(elem_id="pair-note", elem_classes=["hint"])
            with gr.Column(elem_id="flip"):
                gr.Markdown(text.FLIP_INTRO)
                with gr.Row():
                    flip_unit = gr.Radio(["sentence", "word"], value="sentence", label="Take out whole",
                                         elem_id="flip-unit")
                    flip_run = gr.Button("Find the smallest flip", size="sm", elem_id="flip-btn")
                flip_result = gr.Markdown(elem_id="flip-result")
                flip_view = gr.HighlightedText(label="A, with the parts taken out marked", color_map=FLIP_COLORS,
                                               show_legend=True, show_inline_category=False, visible=False,
                                               elem_id="flip-view")
    return PairPanel(panel, pick_a, pick_b, run, hint, detail, summary, diff, words_a, words_b, note, flip_unit,
                     flip_run, flip_result, flip_view)


def _pair(scored: dict | None, label_a: str | None, label_b: str | None) -> tuple[str, str, str]:
    responses = (scored or {}).get("responses", {})
    if label_a not in responses or label_b not in responses:
        raise gr.Error("Score some responses, then pick A and B among them.", print_exception=False)
    if label_a == label_b:
        raise gr.Error("A and B are the same response: pick two different ones.", print_exception=False)
    return scored["prompt"], responses[label_a], responses[label_b]


def contrast_choice(service: RewardService, pair: PairPanel, scored: dict | None, label_a: str | None,
                    label_b: str | None) -> dict:
    """The pair view filled for the picked A and B."""
    prompt, a, b = _pair(scored, label_a, label_b)
    with problems_as_messages("Comparing", "Try shorter responses"):
        result = service.contrast(prompt, a, b).as_dict()
    top = max((abs(w["value"]) for w in result["words_a"] + result["words_b"] if w["part"] == "response"),
              default=0.0)
    return {**pair.uncompared(), pair.hint: gr.update(visible=False), pair.detail: gr.update(visible=True),
            pair.summary: contrast_summary(label_a, label_b, result),
            pair.diff: gr.update(value=diff_view(result["diff"]), visible=True),
            pair.words_a: gr.update(value=scaled_words(result["words_a"], top), visible=True),
            pair.words_b: gr.update(value=scaled_words(result["words_b"], top), visible=True),
            pair.note: contrast_note(result, top)}


def flip_choice(service: RewardService, pair: PairPanel, scored: dict | None, label_a: str | None,
                label_b: str | None, unit: str) -> dict:
    """The flip search's answer for the picked A and B."""
    prompt, a, b = _pair(scored, label_a, label_b)
    with problems_as_messages("Looking for a flip", "Try whole sentences or shorter responses"):
        result = service.flip(prompt, a, b, unit).as_dict()
    return {pair.flip_result: flip_summary(label_a, label_b, result),
            pair.flip_view: gr.update(value=flip_view(a, result["removed"]), visible=bool(result["removed"]))}


def refuse_two(check_inputs, inputs: int) -> list[dict]:
    """The validator's verdicts for an endpoint whose inputs are (prompt, first, second, ...): the message goes on
    the input at fault (``unit`` is the fourth)."""
    return refusals(check_inputs, inputs, lambda err: {"prompt": 0, "unit": 3}.get(err.field, 1 + (err.index or 0)))


def check(service: RewardService, prompt, first, second, names=("Response A", "Response B"), *unit):
    """The check of two responses (and a flip's unit), as the service makes it, for a validator."""

    def checked() -> None:
        check_two(prompt, first, second, service.settings, names)
        if unit:
            check_unit(unit[0])

    return checked


def add_pair_api(demo: gr.Blocks, service: RewardService) -> None:
    """``/contrast`` and ``/flip``, refused before the queue like ``/score``."""

    def contrast(prompt: str, response_a: str, response_b: str) -> dict:
        """Why the model prefers one response to another: both scores, the margin (A minus B), the model-implied
        chance that A is preferred (sigmoid of the margin), the word diff ([{op, a, b}], op one of equal, insert,
        delete, replace; the a pieces join to A and the b pieces to B) and each side's integrated-gradients
        attribution summed into words ([{word, part, start, end, value, tokens, read}], offsets into the prompt or
        the response as part says), with each side's completeness gap.

        Args:
            prompt: The question or instruction both responses answer.
            response_a: The first response to compare (A).
            response_b: The second response to compare (B).
        """
        with problems_as_messages("Comparing", "Try shorter responses"):
            return service.contrast(prompt, response_a, response_b).as_dict()

    def flip(prompt: str, response_a: str, response_b: str, unit: str = "sentence") -> dict:
        """The fewest sentences (or words) of A whose removal turns the verdict: A above B falls to B's score or
        below; A not above B rises above it. Greedy, scored again after each removal, within a stated number of
        texts scored. Returns flipped, unit, removed ([{text, start, end}] offsets into A), text (A without them),
        score (of that text), score_a, score_b, goal (down or up), passes, max_passes, parts, grouped and reason.

        Args:
            prompt: The question or instruction both responses answer.
            response_a: The response to take parts out of.
            response_b: The response it is compared with.
            unit: "sentence" or "word": what is taken out.
        """
        with problems_as_messages("Looking for a flip", "Try whole sentences or shorter responses"):
            return service.flip(prompt, response_a, response_b, unit).as_dict()

    contrasted = gr.api(contrast, api_name="contrast", concurrency_id="attribute", concurrency_limit=1)
    demo.fns[contrasted["id"]].validator = lambda prompt, a, b: refuse_two(check(service, prompt, a, b), 3)
    flipped = gr.api(flip, api_name="flip", concurrency_id="explain", concurrency_limit=service.settings.concurrency)
    demo.fns[flipped["id"]].validator = lambda prompt, a, b, unit="sentence": refuse_two(
        check(service, prompt, a, b, ("Response A", "Response B"), unit), 4)
