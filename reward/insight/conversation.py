"""A prompt that is a conversation: read it, flatten it to one prompt, and say which of its turns the model read.

A conversation is a list of ``{"role", "content"}`` messages (roles ``user``, ``assistant``, ``system``; the content
text, or a list of ``{"type": "text", "text"}`` parts as a Gradio chatbot sends it), or text whose turns start on a
line of their own with ``User:`` (or ``Human:``), ``Assistant:`` or ``System:``. The candidate responses answer its
last turn, which must be the user's.

It is flattened exactly as Evaluate flattens the history of a chat-message pair (:func:`flatten_conversation`, which
:mod:`reward.jobs.pairs` uses too): a lone user message is itself; longer conversations are written HH-RLHF style,
``"Human: ...\\n\\nAssistant: ...\\n\\nHuman: ..."``, each turn's content stripped of surrounding white space. The
flattened text is the prompt, under the limits of any prompt (:func:`reward.model.requests.check_prompt`).

The model reads the flattened prompt and a response together, cut to ``max_length`` tokens by the card's
LongestFirst truncation, which drops tokens from the *end* of the longer side: a long conversation loses its
latest turns first, the question the responses answer included. :func:`inspect_conversation` says, turn by turn,
how many of each turn's tokens the model read with each response.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from reward.config import Settings
from reward.model.requests import (
    InvalidRequest,
    ScoringRequest,
    check_characters,
    check_prompt,
    check_request,
    json_kind,
)

ROLES = ("user", "assistant", "system")
"""The roles a message may have."""
ROLE_NAMES = {"user": "Human", "assistant": "Assistant", "system": "System"}
"""How each role is written in the flattened prompt (HH-RLHF's names)."""
TEXT_ROLES = {"User": "user", "Human": "user", "Assistant": "assistant", "System": "system"}
"""The prefixes that start a turn in a conversation given as text, and the role each stands for."""
_TURN_START = re.compile(r"^[ \t]*(User|Human|Assistant|System):", re.MULTILINE)
FIELD = "messages"
"""The request field :class:`~reward.model.requests.InvalidRequest` names for a conversation."""
_SHAPE = ('a list of {"role", "content"} messages, or text with each turn on a new line starting "User:", '
          '"Assistant:" or "System:"')


# -- flattening ---------------------------------------------------------------------------------------------------


def flatten_conversation(messages: Sequence[Mapping]) -> str:
    """The conversation as one prompt: a lone user message as itself (stripped), longer ones HH-style.

    >>> flatten_conversation([{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": " Hello! "},
    ...                       {"role": "user", "content": "Bye?"}])
    'Human: Hi?\\n\\nAssistant: Hello!\\n\\nHuman: Bye?'
    """
    return _flatten(messages)[0]


def _flatten(messages: Sequence[Mapping]) -> tuple[str, list[tuple[int, int]]]:
    """The flattened text, and each message's ``(start, end)`` span in it (its "Human: " label included)."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        text = messages[0]["content"].strip()
        return text, [(0, len(text))]
    pieces = [f"{ROLE_NAMES.get(m['role'], m['role'].capitalize())}: {m['content'].strip()}" for m in messages]
    spans, at = [], 0
    for piece in pieces:
        spans.append((at, at + len(piece)))
        at += len(piece) + 2
    return "\n\n".join(pieces), spans


# -- reading ------------------------------------------------------------------------------------------------------


def looks_like_conversation(text: object) -> bool:
    """Whether ``text`` is a conversation written as text: it starts (after white space) with a turn's prefix."""
    return isinstance(text, str) and (m := _TURN_START.search(text)) is not None and not text[:m.start()].strip()


def read_conversation(value: object, settings: Settings | None = None) -> list[dict]:
    """A conversation as a list of ``{"role", "content"}`` messages (text content), earliest first.

    Args:
        value: a list of messages, or text with ``User:`` / ``Human:`` / ``Assistant:`` / ``System:`` turns (see the
            module's docstring). Keys of a message other than role and content (a chatbot's ``metadata``) are left out.
            In text, every line that starts with a prefix starts a turn, and each turn's content is stripped; a turn
            with such a line inside it must be sent as messages.
        settings: when given, the flattened conversation must also pass the limits of a prompt (``max_chars``).

    Raises:
        InvalidRequest: (field ``"messages"``, ``index`` the turn at fault from 0) one line saying what to change:
            not a list or text; empty; a message that is not an object, lacks its role or content, has another
            role, or content that is not text; a last turn that is not the user's, or is blank; a broken character.
    """
    if isinstance(value, str):
        messages = _messages_from_text(value)
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        messages = [_message(item, i) for i, item in enumerate(value)]
    else:
        raise InvalidRequest(f"The conversation must be {_SHAPE}, not {json_kind(value)}.", FIELD)
    if not messages:
        raise InvalidRequest("The conversation is empty: give at least the user's message that the responses "
                             "answer.", FIELD)
    last = len(messages) - 1
    if messages[last]["role"] != "user":
        raise InvalidRequest(f"The conversation's last turn (turn {last + 1}) is the {messages[last]['role']}'s: the "
                             "responses answer the last turn, so it must be the user's. Remove it, or send it as "
                             "one of the responses.", FIELD, last)
    if not messages[last]["content"].strip():
        raise InvalidRequest(f"The conversation's last turn (turn {last + 1}, the user's) is blank: write the "
                             "message the responses answer.", FIELD, last)
    for i, message in enumerate(messages):
        check_characters(message["content"], f"Turn {i + 1} of the conversation", FIELD, i)
    if settings is not None:
        try:
            check_prompt(flatten_conversation(messages), settings)
        except InvalidRequest as err:
            raise InvalidRequest(f"{err} (Here the prompt is the whole conversation, flattened to one text: each "
                                 "turn as \"Human: ...\", \"Assistant: ...\".)", FIELD) from None
    return messages


def _messages_from_text(text: str) -> list[dict]:
    starts = list(_TURN_START.finditer(text))
    if not text.strip():
        return []
    if not starts:
        raise InvalidRequest("The conversation text has no turns: start each turn on a new line with \"User:\" "
                             "(or \"Human:\"), \"Assistant:\" or \"System:\"" +
                             (", or send the messages themselves as a list, not as JSON text" if
                              text.lstrip().startswith("[") else "") + ".", FIELD)
    if text[:starts[0].start()].strip():
        raise InvalidRequest("The conversation text has text before its first turn: start it with \"User:\" (or "
                             "\"Human:\"), \"Assistant:\" or \"System:\", or delete what comes before.", FIELD, 0)
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return [{"role": TEXT_ROLES[m.group(1)], "content": text[m.end():end].strip()} for m, end in zip(starts, ends)]


def _message(item: object, i: int) -> dict:
    where = f"Turn {i + 1} of the conversation"
    if not isinstance(item, Mapping):
        raise InvalidRequest(f"{where} must be a {{\"role\", \"content\"}} object, not {json_kind(item)}.", FIELD, i)
    missing = " and no ".join(f'"{key}"' for key in ("role", "content") if key not in item)
    if missing:
        raise InvalidRequest(f"{where} has no {missing}: give each message a "
                             "\"role\" (user, assistant or system) and its \"content\" text.", FIELD, i)
    role = item["role"]
    if role not in ROLES:
        shown = f'"{role}"' if isinstance(role, str) and len(role) <= 40 else json_kind(role)
        raise InvalidRequest(f"{where} has the role {shown}: use \"user\", \"assistant\" or \"system\".", FIELD, i)
    return {"role": role, "content": _content_text(item["content"], where, i)}


def _content_text(content: object, where: str, i: int) -> str:
    """Text content as it is; a list of text parts (``{"type": "text", "text": ...}``, a chatbot's) joined by line
    breaks."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)) and content and all(
            isinstance(p, Mapping) and p.get("type", "text") == "text" and isinstance(p.get("text"), str)
            for p in content):
        return "\n".join(p["text"] for p in content)
    raise InvalidRequest(f"{where} has content that is not text ({json_kind(content)}): send its text (\"\" for an "
                         "empty message); files and images cannot be scored.", FIELD, i)


def check_chat(messages: object, responses: object, settings: Settings) -> ScoringRequest:
    """Validate a conversation and its candidate responses: the request :func:`check_request` makes of a prompt and
    its responses, the prompt being the flattened conversation (see :func:`read_conversation`).

    Raises:
        InvalidRequest: with a message that names the problem and what to change.
    """
    return check_request(flatten_conversation(read_conversation(messages, settings)), responses, settings)


# -- what the model read of each turn -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnRead:
    """One turn of the conversation, and how much of it the model read."""

    turn: int
    """Its place in the conversation, from 1 (earliest first)."""
    role: str
    text: str
    """Its content, as read (not stripped)."""
    tokens: int
    """Its tokens in the flattened prompt, its "Human: " label included."""
    read: list[int]
    """How many of them the model read with each response (in :attr:`ConversationRead.responses`' order)."""

    @property
    def cut(self) -> bool:
        """True when truncation dropped some of its tokens with at least one response."""
        return any(r < self.tokens for r in self.read)

    @property
    def dropped(self) -> bool:
        """True when the model read none of it with any response."""
        return self.tokens > 0 and not any(self.read)

    def as_dict(self) -> dict:
        return {**asdict(self), "cut": self.cut, "dropped": self.dropped}


@dataclass(frozen=True)
class ResponseRead:
    """What the model read of one (flattened conversation, response) pair."""

    index: int
    """The response's position in the list sent, from 0."""
    tokens: int
    """Tokens the model read in all, [CLS] and [SEP]s included."""
    prompt_tokens: int
    prompt_read: int
    response_tokens: int
    response_read: int

    @property
    def truncated(self) -> bool:
        return self.prompt_read < self.prompt_tokens or self.response_read < self.response_tokens

    def as_dict(self) -> dict:
        return {**asdict(self), "truncated": self.truncated}


@dataclass(frozen=True)
class ConversationRead:
    """The flattened conversation and, turn by turn, what the model read of it beside each response."""

    prompt: str
    """The conversation flattened to one prompt: the text the model scores."""
    max_length: int
    turns: list[TurnRead]
    """Earliest first."""
    responses: list[ResponseRead]
    """One per non-blank response, in the order sent."""

    def as_dict(self) -> dict:
        """Plain JSON-ready data: ``prompt``, ``max_length``, ``turns`` (turn, role, text, tokens, read, cut, dropped)
        and ``responses`` (index, tokens, prompt_tokens, prompt_read, response_tokens, response_read, truncated)."""
        return {"prompt": self.prompt, "max_length": self.max_length, "turns": [t.as_dict() for t in self.turns],
                "responses": [r.as_dict() for r in self.responses]}


def inspect_conversation(model, messages: object, responses: Sequence[str]) -> ConversationRead:
    """Which turns of a conversation ``model`` (a RewardModel) reads beside each response, and what truncation cut.

    Each non-blank response is encoded with the flattened conversation exactly as the model reads the pair
    (:func:`reward.insight.explain.tokens_read`); the prompt tokens it keeps are the first ones, so a turn is read
    whole, in part (``cut``), or not at all (``dropped``: with every response), the latest turns going first.

    Raises:
        InvalidRequest: ``messages`` is not a conversation (see :func:`read_conversation`).
    """
    from reward.insight.explain import tokens_read

    turns = read_conversation(messages)
    prompt, spans = _flatten(turns)
    with model.tokenizing:
        offsets = model.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True,
                                  verbose=False)["offset_mapping"]
    starts = [a for a, _ in spans]
    owner = [max(0, bisect.bisect_right(starts, a) - 1) for a, _ in offsets]  # each prompt token's turn
    totals = Counter(owner)
    read_by_turn: list[list[int]] = [[] for _ in turns]
    results = []
    for index, response in enumerate(responses):
        if not response.strip():
            continue
        seen = tokens_read(model, prompt, response)
        parts = [t.part for t in seen.tokens]
        kept = [parts.count("prompt"), parts.count("response")]
        if kept[0] + seen.dropped["prompt"] != len(owner):
            raise RuntimeError("the prompt's tokens alone differ from its tokens in the pair")
        counts = Counter(owner[:kept[0]])
        for t in range(len(turns)):
            read_by_turn[t].append(counts[t])
        results.append(ResponseRead(index, len(seen.ids), len(owner), kept[0], kept[1] + seen.dropped["response"],
                                    kept[1]))
    read = [TurnRead(t + 1, m["role"], m["content"], totals[t], read_by_turn[t]) for t, m in enumerate(turns)]
    return ConversationRead(prompt, model.max_length, read, results)
