"""The Why this score panel and the ``/explain``, ``/attribute`` and ``/probe`` APIs: what moves a response's reward."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.config import ATTRIBUTION_GAP_TARGET, ATTRIBUTION_STEPS
from reward.insight.explain import TRAINED_LENGTH
from reward.model.requests import check_response, check_steps
from reward.service import RewardService
from reward.tables.display import shorten
from ui import text
from ui.page import problems_as_messages, refusals

from .probes import ProbesPanel, probe_choice

TOKEN_COLORS = {"prompt": "#93c5fd", "response": "#86efac", "special": "#d1d5db",
                "prompt, past 400": "#fdba74", "response, past 400": "#fca5a5"}
"""Token parts on the page; tokens past position 400 get a warm colour of their own."""

SENTENCE_LEGEND = ("**Red** sentences raise the reward: without them the response scores lower. **Purple** ones "
                   "lower it: without them it scores higher. The stronger the colour, the bigger the effect, relative "
                   "to the largest one here (the scale above runs from -1 to +1). These are the model's reactions to "
                   "this input, not a judgement of the sentences' truth.")
TOKEN_DETAIL = ("Integrated gradients: how much each token's embedding moved the reward away from a baseline where "
                "every prompt and response token is `[PAD]` (special tokens kept). Red raises the reward, purple "
                "lowers it, relative to the strongest token.")


def _scaled(values: list[float]) -> list[float]:
    """Values scaled to [-1, 1] by the largest magnitude (all zero stays zero)."""
    top = max((abs(v) for v in values), default=0.0)
    return [v / top if top else 0.0 for v in values]


def _token_text(token: str, first: bool) -> str:
    """A WordPiece token as it reads: "##ing" joins the word before it, others start with a space."""
    if token.startswith("##"):
        return token[2:]
    return token if first else " " + token


def sentence_view(explanation: dict) -> dict:
    """The parts highlighted by effect; hidden for an empty response, which has none."""
    parts = explanation["parts"]
    return gr.update(value=list(zip((p["text"] for p in parts), _scaled([p["effect"] for p in parts]))),
                     visible=bool(parts))


def _numbers(part: dict) -> str:
    return str(part["first"]) if part["first"] == part["last"] else f"{part['first']}–{part['last']}"


def effects_table(explanation: dict) -> dict:
    """Each part's effect and the score without it; hidden for an empty response."""
    unit = "Segment" if explanation["unit"] == "segment" else "Sentence"
    columns = ["Sentences" if unit == "Segment" else "#", unit, "Effect", "Score without it"]
    rows = [dict(zip(columns, (_numbers(p), shorten(p["text"], 80), round(p["effect"], 3),
                               round(p["score_without"], 3)))) for p in explanation["parts"]]
    return gr.update(value=pd.DataFrame(rows, columns=columns), visible=bool(rows))


def prefix_frame(explanation: dict):
    """The prefix scores as a line plot value, one point per sentence (per segment for a long answer), in order,
    the sentence numbers as labels; hidden for a one-part answer, where a single point would show an empty chart."""
    labels = [str(p["sentences"]) for p in explanation["prefixes"]]
    frame = pd.DataFrame({"Sentences": labels, "Reward": [p["score"] for p in explanation["prefixes"]]})
    return gr.LinePlot(value=frame, sort=labels, visible=len(labels) > 1)


def summary_text(label: str, explanation: dict) -> str:
    """What was done to explain the score, in words that fit the count of sentences."""
    n, parts = explanation["sentence_count"], len(explanation["parts"])
    head = f"**{label}** scores **{explanation['score']:+.3f}**."
    if n == 0:
        return f"{head} It is empty: there is no sentence to take out."
    if n == 1:
        return (f"{head} Its one sentence was taken out and the rest scored again; with one sentence there is "
                "nothing to unfold, so there is no chart.")
    if explanation["unit"] == "segment":
        return (f"{head} Its {n:,} sentences are too many to take out one by one, so it was explained in {parts} "
                f"segments of about {round(n / parts)} adjacent sentences: each segment was taken out in turn and "
                "the rest scored again; the chart scores the answer cut after each segment.")
    return (f"{head} Each of its {n} sentences was taken out in turn and the rest scored again; the chart scores "
            "the answer cut after each sentence.")


def token_view(tokens: list[dict], late_from: int) -> list[tuple[str, str]]:
    return [(_token_text(t["token"], i == 0),
             t["part"] if t["part"] == "special" or t["position"] < late_from else f"{t['part']}, past {late_from}")
            for i, t in enumerate(tokens)]


def token_note(explanation: dict, late_from: int) -> str:
    tokens = explanation["tokens"]
    parts = {part: sum(t["part"] == part for t in tokens) for part in ("prompt", "response", "special")}
    text = (f"The model read **{len(tokens)} tokens**: {parts['prompt']} of the prompt, {parts['response']} of the "
            f"response and {parts['special']} special ones (`[CLS]` first, `[SEP]` after each part).")
    dropped = explanation["dropped"]
    if dropped["prompt"] or dropped["response"]:
        text += (f" **The pair was cut** to fit the model: the last {dropped['prompt']:,} tokens of the prompt and "
                 f"the last {dropped['response']:,} of the response were dropped, unread.")
    late = sum(t["position"] >= late_from for t in tokens)
    if late:
        text += (f" The {late} tokens from position {late_from} on (marked) lie past what the model was fine-tuned "
                 f"on: its training cut every input at {late_from} tokens.")
    return text


def word_view(words: list[dict]) -> list[tuple[str, float | None]]:
    """The prompt's words, a separator, then the response's, each coloured by its value relative to the strongest
    word; a word the model did not read is left plain."""
    scaled = iter(_scaled([w["value"] for w in words]))
    view: list[tuple[str, float | None]] = []
    for i, w in enumerate(words):
        if i and w["part"] == "response" and words[i - 1]["part"] == "prompt":
            view.append((" ‖ ", None))
        value = next(scaled)
        view.append((w["word"], value if w["read"] else None))
    return view


def attribution_views(result: dict, unit: str = "tokens") -> tuple[list[tuple[str, float]], str]:
    """The token detail as highlighted text, by word or by token, with its note."""
    tokens = result["tokens"]
    if unit == "words" and result.get("words") is not None:
        view = word_view(result["words"])
    else:
        view = list(zip((_token_text(t["token"], i == 0) for i, t in enumerate(tokens)),
                        _scaled([t["value"] for t in tokens])))
    gap = result["completeness_gap"]
    spread = abs(result["score"] - result["baseline_score"])
    tried = result["steps_tried"]
    chosen = ("" if len(tried) < 2 else
              f" (tried {', '.join(map(str, tried[:-1]))} first: the gap was still over {ATTRIBUTION_GAP_TARGET:.0%})")
    by_word = (" Shown by word: each word's value is the sum of its WordPiece pieces' (‖ parts the prompt from the "
               "response)." if unit == "words" and result.get("words") is not None else "")
    note = (f"{TOKEN_DETAIL}{by_word} Reward {result['score']:+.3f}, baseline {result['baseline_score']:+.3f}; the "
            f"attributions add up to {sum(t['value'] for t in tokens):+.3f}, off by {gap:.3f}"
            + (f" ({gap / spread:.1%} of the difference)" if spread else "") + f" after {result['steps']} steps"
            + chosen + ".")
    return view, note


@dataclass(frozen=True)
class WhyPanel:
    """The Why this score panel's parts that events update: the picker, and under it either the one line that says
    what to do (``hint``) or the explanation of the picked response (``detail``)."""

    panel: gr.Column
    picker: gr.Dropdown
    hint: gr.Markdown
    detail: gr.Column
    progress: gr.Markdown
    summary: gr.Markdown
    sentences: gr.HighlightedText
    effects: gr.Dataframe
    prefixes: gr.LinePlot
    tokens: gr.HighlightedText
    token_note: gr.Markdown
    attribute: gr.Button
    attribution: gr.HighlightedText
    attribution_note: gr.Markdown
    attribution_unit: gr.Radio
    attribution_result: gr.State

    @property
    def outputs(self) -> list:
        """Everything an event here may update."""
        return [self.panel, self.picker, *self.explained]

    @property
    def explained(self) -> list:
        """What a new explanation fills (and the token detail it clears)."""
        return [self.hint, self.detail, self.progress, self.summary, self.sentences, self.effects, self.prefixes,
                self.tokens, self.token_note, self.attribute, *self.attributed]

    @property
    def attributed(self) -> list:
        """What the token detail fills."""
        return [self.attribution, self.attribution_note, self.attribution_unit, self.attribution_result]

    def offered(self, labels: list[str]) -> dict:
        """The panel after a scoring: its responses offered in the picker, nothing explained yet."""
        return {self.panel: gr.update(visible=True), self.picker: gr.update(choices=labels, value=None),
                **self.unexplained()}

    def emptied(self) -> dict:
        """The panel as on a fresh page: hidden, with nothing to offer."""
        return {self.panel: gr.update(visible=False), self.picker: gr.update(choices=[], value=None),
                **self.unexplained()}

    def unexplained(self) -> dict:
        """Nothing explained: the hint shown, every part of the detail emptied and hidden."""
        # The detail column stays; each part in it is hidden until the explanation fills it.
        hidden = gr.update(value=None, visible=False)
        return {self.hint: gr.update(visible=True), self.detail: gr.update(visible=True), self.progress: hidden,
                self.summary: "", self.sentences: hidden, self.effects: hidden, self.prefixes: hidden,
                self.tokens: hidden, self.token_note: "", self.attribute: gr.update(visible=False),
                self.attribution: hidden, self.attribution_note: "", self.attribution_unit: gr.update(visible=False),
                self.attribution_result: None}


def build_why_panel() -> WhyPanel:
    """The panel, hidden until a scoring gives it responses to explain; its detail, until one is picked."""
    with gr.Column(visible=False, elem_id="why-panel") as panel:
        gr.Markdown("### Why this score")
        picker = gr.Dropdown(label="Explain response (or click its row in the ranking)", choices=[], value=None,
                             interactive=True, elem_id="why-picker")
        hint = gr.Markdown(text.WHY_EMPTY, elem_id="why-hint", elem_classes=["empty-hint"])
        with gr.Column(elem_id="why-detail") as detail:
            progress = gr.Markdown(visible=False, elem_id="why-progress", elem_classes=["hint"])
            summary = gr.Markdown(elem_id="why-summary")
            with gr.Row(equal_height=False):
                with gr.Column(scale=6, min_width=300):
                    sentences = gr.HighlightedText(label="Sentences that move the reward", show_legend=True,
                                                   show_inline_category=False, visible=False,
                                                   elem_id="why-sentences")
                    gr.Markdown(SENTENCE_LEGEND, elem_classes=["hint"])
                    effects = gr.Dataframe(label="Each sentence's effect: the reward minus the reward without it",
                                           interactive=False, wrap=True, column_widths=["9%", "57%", "14%", "20%"],
                                           visible=False, elem_id="why-effects")
                with gr.Column(scale=4, min_width=300):
                    prefixes = gr.LinePlot(x="Sentences", y="Reward", label="Reward as the answer unfolds",
                                           x_title="Sentences so far", y_title="Reward (logit)", height=280,
                                           visible=False, elem_id="why-prefixes")
            tokens = gr.HighlightedText(label="What the model read", color_map=TOKEN_COLORS, show_legend=True,
                                        show_inline_category=False, visible=False, elem_id="why-tokens")
            token_note = gr.Markdown(elem_id="why-token-note")
            attribute = gr.Button("Token detail (integrated gradients)", size="sm", visible=False,
                                  elem_id="why-attribute-btn")
            attribution_unit = gr.Radio(["words", "tokens"], value="words", label="Show the detail by",
                                        visible=False, elem_id="why-attribution-unit")
            attribution = gr.HighlightedText(label="Token detail", show_legend=True, show_inline_category=False,
                                             visible=False, elem_id="why-attribution")
            attribution_note = gr.Markdown(elem_id="why-attribution-note")
    return WhyPanel(panel, picker, hint, detail, progress, summary, sentences, effects, prefixes, tokens, token_note,
                    attribute, attribution, attribution_note, attribution_unit, gr.State(None))


def _picked(scored: dict | None, label: str | None) -> tuple[str, str] | None:
    """The (prompt, response) of the chosen response of the last scoring, or None without one."""
    if not scored or not label or label not in scored.get("responses", {}):
        return None
    return scored["prompt"], scored["responses"][label]


def _explained(service: RewardService, pair: tuple[str, str], step: int) -> dict:
    """The explanation as far as its ``step``-th part (0: the score and the tokens; 1: the parts' effects; 2: the
    prefixes too). The parts before it come from the model's cache of scored pairs, so each step costs its own."""
    with problems_as_messages("Explaining", "Try a shorter response"):
        steps = service.explain_steps(*pair)
        for _ in range(step):
            next(steps)
        return next(steps).as_dict()


# The panel fills in four events, each started when the one before has finished (``.success``), each showing
# its part as soon as it is ready: the score and the tokens read, then each sentence's effect, then the answer as
# it unfolds, then the probes. (One generator event streaming the four parts lost parts on the page: Gradio sends
# a generator's updates as differences, and a part shown in one update was sometimes never drawn.)

def explain_first(service: RewardService, why: WhyPanel, probes: ProbesPanel, scored: dict | None,
                  label: str | None) -> dict:
    """The first part for the chosen response: its score and the tokens read, with a line saying what comes next
    (nothing changes without a chosen response)."""
    pair = _picked(scored, label)
    if pair is None:
        return gr.skip()
    explanation = _explained(service, pair, 0)
    n = explanation["sentence_count"]
    next_up = f"⏳ Taking out each {explanation['unit']} in turn…" if n else "⏳ Probing…"
    return {**probes.emptied(), **why.unexplained(), why.hint: gr.update(visible=False),
            why.progress: gr.update(value=next_up, visible=True),
            why.summary: f"**{label}** scores **{explanation['score']:+.3f}**.",
            why.tokens: gr.update(value=token_view(explanation["tokens"], TRAINED_LENGTH), visible=True),
            why.token_note: token_note(explanation, TRAINED_LENGTH), why.attribute: gr.update(visible=True)}


def explain_parts(service: RewardService, why: WhyPanel, scored: dict | None, label: str | None) -> dict:
    """The second part: each sentence's (or segment's) effect, and what the summary says was done."""
    pair = _picked(scored, label)
    if pair is None:
        return gr.skip()
    explanation = _explained(service, pair, 1)
    unfolds = explanation["sentence_count"] > 1
    return {why.summary: summary_text(label, explanation), why.sentences: sentence_view(explanation),
            why.effects: effects_table(explanation),
            why.progress: gr.update(value="⏳ Scoring the answer as it unfolds…" if unfolds else "⏳ Probing…",
                                    visible=True)}


def explain_curve(service: RewardService, why: WhyPanel, scored: dict | None, label: str | None) -> dict:
    """The third part: the answer scored as it unfolds (no chart for a one-part answer)."""
    pair = _picked(scored, label)
    if pair is None:
        return gr.skip()
    return {why.prefixes: prefix_frame(_explained(service, pair, 2)),
            why.progress: gr.update(value="⏳ Probing…", visible=True)}


def explain_probes(service: RewardService, why: WhyPanel, probes: ProbesPanel, scored: dict | None,
                   label: str | None) -> dict:
    """The last part: the probes, and the progress line gone."""
    if _picked(scored, label) is None:
        return gr.skip()
    return {**probe_choice(service, probes, scored, label), why.progress: gr.update(value="", visible=False)}


def attribute_choice(service: RewardService, why: WhyPanel, scored: dict | None, label: str | None,
                     unit: str) -> dict:
    """The token detail of the chosen response, shown by ``unit`` (words or tokens), with the switch shown."""
    if not scored or not label or label not in scored["responses"]:
        raise gr.Error("Score some responses and choose one to explain first.", print_exception=False)
    with problems_as_messages("Attributing", "Try a shorter response"):
        result = service.attribute(scored["prompt"], scored["responses"][label]).as_dict()
    return {**attribution_shown(why, result, unit), why.attribution_unit: gr.update(visible=True),
            why.attribution_result: result}


def attribution_shown(why: WhyPanel, result: dict | None, unit: str) -> dict:
    """The token detail drawn from an attribution already made, by words or by tokens (no model work)."""
    if result is None:
        return gr.skip()
    view, note = attribution_views(result, unit)
    return {why.attribution: gr.update(value=view, visible=True), why.attribution_note: note}


def refuse_pair(service: RewardService, prompt, response, *steps) -> list[dict]:
    """The validator of one (prompt, response) pair, and the steps if given: the limits of ``/score``, in words for
    the one response."""

    def check() -> None:
        check_response(prompt, response, service.settings)
        if steps:
            check_steps(steps[0])

    return refusals(check, 2 + len(steps), lambda err: {"prompt": 0, "steps": 2}.get(err.field, 1))


def add_explain_api(demo: gr.Blocks, service: RewardService) -> None:
    """``/explain``, ``/attribute`` and ``/probe``, refused before the queue like ``/score``."""

    def explain(prompt: str, response: str) -> dict:
        """Why one response scores as it does: the tokens the model read (and any dropped), each sentence's
        effect (score minus the score without it) and the score of each prefix of whole sentences.

        Args:
            prompt: The question or instruction the response answers.
            response: The response to explain.
        """
        with problems_as_messages("Explaining", "Try a shorter response"):
            return service.explain(prompt, response).as_dict()

    def attribute(prompt: str, response: str, steps: int = ATTRIBUTION_STEPS) -> dict:
        """Integrated gradients per token (baseline: prompt and response tokens as [PAD]), with the score,
        the baseline score and the completeness gap.

        Args:
            prompt: The question or instruction the response answers.
            response: The response to attribute.
            steps: Integrated-gradient steps, 1 to 256 (each is a forward and a backward pass).
        """
        with problems_as_messages("Attributing", "Try fewer steps or a shorter response"):
            return service.attribute(prompt, response, steps).as_dict()

    def probe(prompt: str, response: str) -> list[dict]:
        """How one response's score moves under edits a sound judge would mostly ignore or punish. Rows have
        probe, prompt and response (exactly the texts scored), score (raw reward) and change (score minus the
        original's). Row one is the original (change 0.0); then, biggest absolute change first: "no prompt"
        (empty prompt), "unrelated prompt" (a fixed unrelated question), "repeated twice" (joined by a line
        break), "first half" (the first half of its sentences), "sentences shuffled" (fixed seed),
        "pleasantry appended" (" I hope this helps!"), "upper-cased", "lower-cased". A one-sentence response has
        no "first half" or "sentences shuffled" row. A sound judge lowers the score for the two prompt probes,
        barely moves it for "lower-cased", and does not raise it for the others.

        Args:
            prompt: The question or instruction the response answers.
            response: The response to probe.
        """
        with problems_as_messages("Probing", "Try a shorter response"):
            return service.probe(prompt, response).records()

    for fn, name, limit in ((explain, "explain", service.settings.concurrency), (attribute, "attribute", 1),
                            (probe, "probe", service.settings.concurrency)):
        endpoint = gr.api(fn, api_name=name, concurrency_id=name, concurrency_limit=limit)
        demo.fns[endpoint["id"]].validator = lambda prompt, response, *steps: refuse_pair(
            service, prompt, response, *steps)
