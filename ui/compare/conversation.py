"""A prompt that is a conversation: the Compare tab reads a prompt written as ``User:`` / ``Assistant:`` turns as one,
scores the responses as answers to its last turn, and shows the flattened text and what truncation cut, earliest
turns first; and the ``/score_chat`` API."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from reward.insight.conversation import looks_like_conversation
from reward.service import RankingResult, RewardService
from reward.tables.display import shorten
from ui.page import problems_as_messages, ranked_by, refusals

TURN_COLUMNS = ["Turn", "Role", "Text", "Tokens", "Read"]
READING = ("**Read as a conversation** of {n} turn{s}: the responses answer its last (user) turn. It is flattened "
           "to one prompt exactly as the Evaluate tab flattens a dialogue (below), and that text is what the model "
           "scores. {cut}")


def is_conversation(prompt: object) -> bool:
    """The page reads a prompt as a conversation when it starts with a turn (``User:``, ``Human:``, ...)."""
    return looks_like_conversation(prompt)


def rank_prompt(service: RewardService, prompt: str, responses: list[str]) -> RankingResult:
    """Rank ``responses`` to ``prompt``, read as a conversation when it is one, with problems as messages."""
    return ranked_by(service.rank_chat if is_conversation(prompt) else service.rank, prompt, responses)


def check_prompt(service: RewardService, prompt: object, responses: object) -> object:
    """The page's check of a scoring: a conversation's rules for one, ``/score``'s otherwise."""
    if is_conversation(prompt):
        return service.check_chat(prompt, responses)
    return service.check(prompt, responses)


@dataclass(frozen=True)
class ConversationPanel:
    """What the page shows of a conversation prompt: hidden for a plain prompt."""

    panel: gr.Column
    note: gr.Markdown
    flattened: gr.Code
    turns: gr.Dataframe

    @property
    def outputs(self) -> list:
        return [self.panel, self.note, self.flattened, self.turns]

    def emptied(self) -> dict:
        return {self.panel: gr.update(visible=False), self.note: "", self.flattened: None, self.turns: None}

    def filled(self, service: RewardService, prompt: str, responses: list[str]) -> dict:
        """The panel for a scoring: shown with what the model read for a conversation, hidden otherwise."""
        if not is_conversation(prompt):
            return self.emptied()
        with problems_as_messages("Reading the conversation"):
            read = service.inspect_chat(prompt, responses).as_dict()
        turns = read["turns"]
        rows = [{"Turn": t["turn"], "Role": t["role"], "Text": shorten(t["text"], 80), "Tokens": t["tokens"],
                 "Read": "none (cut)" if t["dropped"] else
                 f"{min(t['read'])}–{max(t['read'])} (cut)" if t["cut"] and min(t["read"]) != max(t["read"]) else
                 f"{min(t['read'])} (cut)" if t["cut"] else "all"} for t in turns]
        cut = [t["turn"] for t in turns if t["cut"]]
        said = (f"Truncation cut turn{'s' * (len(cut) > 1)} {', '.join(map(str, cut))} (the model reads the first "
                f"{read['max_length']} tokens of a prompt and response together, so the latest turns go first): "
                "shorten the conversation so the model reads its last turn." if cut else
                "The model read every turn.")
        return {self.panel: gr.update(visible=True),
                self.note: READING.format(n=len(turns), s="s" * (len(turns) != 1), cut=said),
                self.flattened: read["prompt"], self.turns: pd.DataFrame(rows, columns=TURN_COLUMNS)}


def build_conversation_panel() -> ConversationPanel:
    with gr.Column(visible=False, elem_id="conversation") as panel:
        gr.Markdown("### The conversation")
        note = gr.Markdown(elem_id="conversation-note")
        flattened = gr.Code(label="The prompt the model scores (flattened)", language=None, interactive=False,
                            lines=4, max_lines=12, elem_id="conversation-flattened")
        turns = gr.Dataframe(label="Turns, earliest first: tokens, and how many the model read", interactive=False,
                             wrap=True, column_widths=["8%", "12%", "56%", "10%", "14%"], elem_id="conversation-turns")
    return ConversationPanel(panel, note, flattened, turns)


def add_score_chat_api(demo: gr.Blocks, service: RewardService, scoring: dict) -> None:
    """``/score_chat``: ``/score`` for a conversation, with its limits, validator and queue (``scoring``)."""

    def score_chat(messages: list[dict], responses: list[str]) -> list[dict]:
        """Score candidate responses to the last (user) turn of a conversation and rank them, best first. The
        conversation is flattened to one prompt as the Evaluate tab flattens a dialogue (a lone user message as
        itself; longer ones as "Human: ...", "Assistant: ..." turns joined by blank lines) and scored exactly as
        /score scores that text; records as /score's.

        Args:
            messages: The conversation, earliest first: a list of {"role", "content"} messages with role "user",
                "assistant" or "system", the last one the user's.
            responses: The candidate responses to its last turn, one text each; blank ones are skipped but count
                toward the limit.
        """
        return [r.record() for r in ranked_by(service.rank_chat, messages, responses).ranked]

    endpoint = gr.api(score_chat, api_name="score_chat", concurrency_limit=service.settings.concurrency, **scoring)
    demo.fns[endpoint["id"]].validator = lambda messages, responses: refusals(
        lambda: service.check_chat(messages, responses), 2, lambda err: 0 if err.field in ("messages", "prompt") else 1)
