"""Words: token attributions summed into the words a person reads, and a word-level diff of two texts.

``attributed_words(model, prompt, response, values)`` turns one value per token the model read (an
:class:`reward.insight.attribution.Attribution`'s) into one value per word, with character offsets into the prompt
or the response. A WordPiece piece that starts with the tokenizer's continuing-subword prefix (``##``) belongs to
the word before it and adds its value to that word's (the aggregation of inseq). Words tile their text: a word's
span runs from its first character to the next word's first, so its trailing whitespace is in it (and any leading
whitespace is in the first word's), and ``"".join(text[w.start:w.end] for w in words) == text``. Words past the
point where truncation stopped the model are listed too, unread, with value 0; special tokens ([CLS], [SEP]) are no
one's words and keep their value out (it is 0 for integrated gradients, whose baseline keeps them).

``word_diff(a, b)`` aligns two texts by words, spaces and punctuation marks (difflib's longest matching blocks;
two changes with only spaces in common between them are one change): each step is ``{op, a, b}`` with ``op`` one of equal, insert, delete, replace, and the steps' ``a`` pieces joined
give ``a`` exactly, their ``b`` pieces ``b``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

_PIECES = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Word:
    """One word of the prompt or the response, with the sum of its pieces' values."""

    word: str
    """``text[start:end]`` of its part, its trailing whitespace included."""
    part: str
    """"prompt" or "response": the text ``start`` and ``end`` point into."""
    start: int
    end: int
    value: float
    """The sum of its tokens' values (0 for a word the model did not read)."""
    tokens: int
    """How many of its tokens the model read."""
    read: bool
    """False for a word wholly past the point where truncation stopped the model."""

    def as_dict(self) -> dict:
        return asdict(self)


def word_spans(text: str, offsets: Sequence[tuple[int, int]], names: Sequence[str], prefix: str = "##") -> list[list]:
    """Group the tokens of ``text`` (their character ``offsets`` and ``names``, in order) into words tiling it.

    Returns ``[start, end, first_token, last_token + 1]`` per word. A token whose name starts with ``prefix``
    joins the word before it; every other token starts a word. A text that makes no token is one unread word.
    """
    words: list[list] = []
    for i, ((start, _), name) in enumerate(zip(offsets, names)):
        if words and prefix and name.startswith(prefix):
            words[-1][3] = i + 1
        else:
            words.append([start, None, i, i + 1])
    if not words:
        return [[0, len(text), 0, 0]] if text else []
    words[0][0] = 0
    for this, following in zip(words, words[1:]):
        this[1] = following[0]
    words[-1][1] = len(text)
    return words


def attributed_words(model, prompt: str, response: str, values: Sequence[float]) -> list[Word]:
    """The words of ``prompt`` and ``response``, each with the summed ``values`` of its tokens the model read.

    ``values`` has one number per token of the model's input for the pair (``tokens_read``'s order). The words'
    values add up to the values of the prompt's and the response's tokens; the special tokens' are left out.

    Raises:
        ValueError: the tokenizer gives no character offsets (a slow tokenizer), or ``values`` does not match.
    """
    tok = model.tokenizer
    if not getattr(tok, "is_fast", False):
        raise ValueError("word-level values need a fast tokenizer (character offsets); this one is not")
    from .explain import tokens_read

    read = tokens_read(model, prompt, response)
    if len(values) != len(read.tokens):
        raise ValueError(f"{len(values)} values for {len(read.tokens)} tokens")
    prefix = getattr(getattr(tok.backend_tokenizer, "model", None), "continuing_subword_prefix", None) or "##"
    words: list[Word] = []
    for part, text in (("prompt", prompt), ("response", response)):
        own = [(t, v) for t, v in zip(read.tokens, values) if t.part == part]
        with model.tokenizing:
            full = tok(text, add_special_tokens=False, return_offsets_mapping=True, return_token_type_ids=False,
                       return_attention_mask=False, verbose=False)
            names = tok.convert_ids_to_tokens(full["input_ids"])
        if len(names) != len(own) + read.dropped[part]:
            raise ValueError(f"the {part} alone tokenizes differently from the {part} in the pair")
        # The model read the first len(own) tokens of each part (truncation cuts from the end of each side).
        for start, end, first, last in word_spans(text, full["offset_mapping"], names, prefix):
            taken = own[first:min(last, len(own))]
            words.append(Word(text[start:end], part, start, end, float(sum(v for _, v in taken)), len(taken),
                              bool(taken) or first == last))
    return words


def word_diff(a: str, b: str) -> list[dict]:
    """The steps that turn ``a`` into ``b``, word by word: ``[{op, a, b}]``, ``op`` being equal, insert, delete or
    replace; the ``a`` pieces in order join to ``a`` and the ``b`` pieces to ``b``."""
    left, right = _PIECES.findall(a), _PIECES.findall(b)
    steps: list[dict] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        step = {"op": tag, "a": "".join(left[i1:i2]), "b": "".join(right[j1:j2])}
        # A change, a run of spaces in common, and another change read as one change ("Who cares" / "The field"
        # rather than Who/The, cares/field): the spaces go to both sides of it.
        if tag != "equal" and len(steps) >= 2 and steps[-1]["op"] == "equal" and not steps[-1]["a"].strip() \
                and steps[-2]["op"] != "equal":
            space, before = steps.pop(), steps.pop()
            step = {"a": before["a"] + space["a"] + step["a"], "b": before["b"] + space["b"] + step["b"]}
            step = {"op": "replace" if step["a"] and step["b"] else "delete" if step["a"] else "insert", **step}
        steps.append(step)
    return steps


def changed_share(diff: Sequence[dict]) -> float:
    """The share of characters (of both texts together) outside equal steps: 0 for equal texts, 1 for disjoint."""
    total = sum(len(s["a"]) + len(s["b"]) for s in diff)
    changed = sum(len(s["a"]) + len(s["b"]) for s in diff if s["op"] != "equal")
    return changed / total if total else 0.0
