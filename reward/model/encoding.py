"""Token ids of (prompt, response) pairs exactly as the model card encodes them, in bounded memory for any length.

Ordinary rows are encoded by the card's own call, ``tokenizer(prompt, response, truncation=True, max_length=512,
return_token_type_ids=False)`` (``tokenizer(prompt, ...)`` for an empty response), batched. With a BERT tokenizer
(``BertNormalizer`` or none, ``BertPreTokenizer``, ``WordPiece``), texts of more than ``32 * max_length``
characters and pairs found too long are instead tokenized a window at a time, only as far as the truncation
reaches: the card's call tokenizes a giant text whole, and for two long texts builds every pair of their
overflowing pieces (10 GB for two texts of 200k characters). Why the windows give exactly the card's ids:

* Each character is classed by the tokenizer's own normalizer and pre-tokenizer, alone between two ``a``: S, it
  normalizes to whitespace (White_Space less ``\\v \\f \\x85``, which BERT deletes); I, it stands alone
  (punctuation, CJK); R, it normalizes to nothing; W, it joins a word. BERT normalizes character by character,
  so ``text[:c]`` and ``text[c:]`` tokenized apart give the tokens of ``text`` when ``c`` is just before an S or
  I or just after an I, and no added token such as ``[SEP]`` straddles ``c`` (each must begin and end with an I).
* A stretch with no cut is one word of W and R characters: WordPiece makes it one ``[UNK]`` when it normalizes
  to more than ``max_input_chars_per_word`` characters, else it is tokenized with its R characters left out.
* Truncation is tokenizers' LongestFirst (``truncate_encodings``, src/utils/truncation.rs): see
  :func:`longest_first`. Each side's first ``budget + 1`` tokens settle it, except when both sides pass an odd
  budget: the longer keeps the odd token (the second on a tie), so both are then counted, a window at a time.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterator, Sequence

from reward.config import LONG_TEXT_CHARS, TOKENIZER_BATCH_CHARS, TOKENIZER_WINDOWS

log = logging.getLogger(__name__)

MIN_WINDOW, MAX_WINDOW, BATCH = TOKENIZER_WINDOWS


def longest_first(n1: int, n2: int, budget: int) -> tuple[int, int]:
    """Tokens kept of each side of a pair by tokenizers' LongestFirst truncation to ``budget`` content tokens.

    If both fit, both stay. Else, if the shorter side fits in half the budget it stays and the longer one gets the
    rest; else each gets half, and an odd budget's extra token goes to the longer side (to the second on a tie).
    """
    if n1 + n2 <= budget:
        return n1, n2
    short = min(n1, n2)
    if 2 * short > budget:
        half, extra = divmod(budget, 2)
        return (half + extra, half) if n1 > n2 else (half, half + extra)
    return (short, budget - short) if n1 <= n2 else (budget - short, short)


def encode_pairs(tokenizer, prompts: Sequence[str], responses: Sequence[str], max_length: int, *,
                 long_text: int | None = None) -> tuple[list[list[int]], list[bool]]:
    """Token ids of each pair exactly as the card encodes them (truncation=True, max_length, no token type ids),
    and whether each was cut (its untruncated encoding is longer than ``max_length``).

    Texts of more than ``long_text`` characters (default ``32 * max_length``) take the bounded path at once.
    """
    limit = LONG_TEXT_CHARS * max_length if long_text is None else long_text
    ids: list[list[int]] = [[] for _ in prompts]
    truncated = [False] * len(prompts)
    long = [i for i, (p, r) in enumerate(zip(prompts, responses)) if len(p) > limit or len(r) > limit]
    plan = _plan_for(tokenizer, max_length) if long else None
    skip = set(long) if plan is not None else set()
    rows = [i for i in range(len(prompts)) if i not in skip]
    _encode_whole(tokenizer, prompts, responses, rows, ids)
    over = [i for i in rows if len(ids[i]) > max_length]
    if over and plan is None:
        plan = _plan_for(tokenizer, max_length)
    if plan is None:  # the card's own truncation, for a tokenizer the bounded path does not know
        _encode_whole(tokenizer, prompts, responses, over, ids, truncation=True, max_length=max_length)
        for i in over:
            truncated[i] = True
    else:
        for i in sorted(skip.union(over)):
            ids[i], truncated[i] = plan.encode_pair(prompts[i], responses[i], max_length)
    return ids, truncated


def _encode_whole(tokenizer, prompts, responses, rows, ids, **kwargs) -> None:
    """The card's own calls on ``rows``, batched; an empty response is no pair at all ("[CLS] prompt [SEP]")."""
    kwargs.update(return_token_type_ids=False, return_attention_mask=False, verbose=False)
    kwargs.setdefault("truncation", False)
    for group in ([i for i in rows if responses[i]], [i for i in rows if not responses[i]]):
        for part in _by_characters(group, prompts, responses):
            texts = [[prompts[i] for i in part]] + ([[responses[i] for i in part]] if responses[part[0]] else [])
            for i, row in zip(part, tokenizer(*texts, **kwargs)["input_ids"]):
                ids[i] = row


def _by_characters(rows: list[int], prompts, responses) -> Iterator[list[int]]:
    """``rows`` in runs of at most ``TOKENIZER_BATCH_CHARS`` characters (always at least one row): the
    tokenizer's memory follows one run, not a whole chunk of medium-sized texts."""
    run: list[int] = []
    size = 0
    for i in rows:
        length = len(prompts[i]) + len(responses[i])
        if run and size + length > TOKENIZER_BATCH_CHARS:
            yield run
            run, size = [], 0
        run.append(i)
        size += length
    if run:
        yield run


_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


def _plan_for(tokenizer, max_length: int) -> _Plan | None:
    """The bounded encoder for ``tokenizer``, or None (logged) when its rules are not known to hold for it."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    key = (id(backend), backend.get_vocab_size(True) if backend is not None else 0)  # tokens added: a new plan
    with _plans_lock:
        plan = _plans.get(tokenizer)
        if plan is None or plan.key != key:
            try:
                plan = _Plan(tokenizer)
            except Exception as why:  # noqa: BLE001 - what we cannot take apart takes the full path
                plan = why if isinstance(why, _Unsupported) else _Unsupported(f"{type(why).__name__}: {why}")
                log.warning("long texts are tokenized whole: %s", plan)
            plan.key, _plans[tokenizer] = key, plan
    if isinstance(plan, _Unsupported) or max_length - max(plan.specials) < 1:
        return None
    return plan


class _Unsupported(Exception):
    """The tokenizer is not one the bounded path is exact for."""


class _Plan:
    """A private copy of a BERT tokenizer's pipeline (without truncation or padding), and its character classes."""

    def __init__(self, tokenizer) -> None:
        from tokenizers import Tokenizer

        if getattr(tokenizer, "truncation_side", "right") != "right":
            raise _Unsupported("the tokenizer truncates on the left")
        self.backend = backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        backend.no_truncation()
        backend.no_padding()
        backend.encode_special_tokens = bool(getattr(tokenizer, "split_special_tokens", False))
        self.norm, self.pre, model = backend.normalizer, backend.pre_tokenizer, backend.model
        kinds = "/".join(type(part).__name__ for part in (self.norm, self.pre, model))
        if kinds not in ("BertNormalizer/BertPreTokenizer/WordPiece", "NoneType/BertPreTokenizer/WordPiece"):
            raise _Unsupported(f"exact rules are known for BERT tokenizers only, not {kinds}")
        self.max_word, self.unk = model.max_input_chars_per_word, backend.token_to_id(model.unk_token)
        self.classes: dict[str, str] = {}
        self.lock = threading.Lock()
        self._rebuild()
        if self._class("a") != "W":
            raise _Unsupported("'a' is not a word character")
        added = backend.get_added_tokens_decoder().values()
        for tok in added:
            ends = {self._class(tok.content[0]), self._class(tok.content[-1])} if tok.content else set()
            if tok.normalized or tok.single_word or ends != {"I"}:
                raise _Unsupported(f"added token {tok.content!r} could join or split words")
        self.added = sorted({tok.content for tok in added if len(tok.content) > 1})
        marker = model.unk_token  # an added token: one id, wherever the template puts the texts
        one, two = backend.encode(marker).ids, backend.encode(marker, marker).ids
        at = [k for k, t in enumerate(one + two) if t == self.unk]
        if len(at) != 3 or backend.encode(marker, add_special_tokens=False).ids != [self.unk]:
            raise _Unsupported("cannot read the special-token template")
        i, j, k = at[0], at[1] - len(one), at[2] - len(one)
        self.single, self.pair = (one[:i], one[i + 1:]), (two[:j], two[j + 1:k], two[k + 1:])
        self.specials = (len(one) - 1, len(two) - 2)

    def _class(self, ch: str) -> str:
        norm = self.norm.normalize_str(ch) if self.norm is not None else ch
        if not norm:
            return "R"
        pieces = [p for p, _ in self.pre.pre_tokenize_str("a" + norm + "a")]
        if pieces == ["a" + norm + "a"]:
            return "W"
        if any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", ch)):
            return "O"  # a mark that canonical reordering could move across a cut
        return "S" if pieces == ["a", "a"] else "I" if pieces == ["a", norm.strip(" "), "a"] else "O"

    def _learn(self, text: str) -> None:
        new = set(text).difference(self.classes)
        for ch in new:
            self.classes[ch] = self._class(ch)
        if any(self.classes[ch] != "W" for ch in new):
            self._rebuild()

    def _rebuild(self) -> None:
        def pattern(kinds: str) -> re.Pattern:
            chars = "".join(sorted(re.escape(c) for c, k in self.classes.items() if k in kinds))
            return re.compile(f"[{chars}]" if chars else "(?!)")
        self.stop_re, self.removed_re = pattern("SIO"), pattern("R")

    def _cuts(self, text: str, j: int) -> tuple[int, ...]:
        """Cuts next to the S, I or O character ``text[j]``, the later first; none next to an O."""
        kind = self.classes[text[j]]
        return (j + 1, j) if kind == "I" else (j,) if kind == "S" else ()

    def _straddled(self, text: str, c: int) -> bool:
        return any(text.find(t, max(0, c - len(t) + 1), c + len(t) - 1) >= 0 for t in self.added)

    def _last_cut(self, text: str, a: int, e: int) -> int | None:
        """The last cut in (a, e], or None."""
        for span in (256, 4096, e - a):
            lo = max(a, e - span)
            tail = text[lo:e + 1]
            self._learn(tail)
            for m in reversed(list(self.stop_re.finditer(tail))):
                for c in self._cuts(text, lo + m.start()):
                    if a < c <= e and not self._straddled(text, c):
                        return c
            if lo == a:
                break
        return None

    def _next_cut(self, text: str, a: int) -> tuple[int, bool]:
        """The first cut after ``a`` (or the end), and whether only W and R characters lie after ``text[a]``."""
        self._learn(text[a])
        pure = self.classes[text[a]] in "SWR"
        for lo in range(a + 1, len(text), MAX_WINDOW):
            piece = text[lo:lo + MAX_WINDOW]
            self._learn(piece)
            for m in self.stop_re.finditer(piece):
                j = lo + m.start()
                for c in reversed(self._cuts(text, j)):
                    if not self._straddled(text, c):
                        return c, pure and c == j
                pure = False
        return len(text), pure

    def _word(self, text: str, a: int, c: int) -> list[int]:
        """Token ids of ``text[a:c]``: perhaps an S character, then one word of W and R characters."""
        a += self.classes[text[a]] == "S"
        length, kept = 0, []
        for lo in range(a, c, MAX_WINDOW):
            piece = text[lo:min(c, lo + MAX_WINDOW)]
            length += len(self.norm.normalize_str(piece) if self.norm is not None else piece)
            if length > self.max_word:
                return [self.unk]
            kept.append(self.removed_re.sub("", piece))
        return self._encode(["".join(kept)])[0]

    def _encode(self, texts: list[str]) -> list[list[int]]:
        encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)  # no offsets: faster
        return [e.ids for e in encode(texts, add_special_tokens=False)] if texts else []

    def _pieces(self, text: str, size: int) -> Iterator[str | list[int]]:
        """``text`` a piece at a time, each a text to tokenize or its token ids: together, the whole text's ids."""
        a, n = 0, len(text)
        while a < n:
            e = min(n, a + size)
            c = n if e == n else self._last_cut(text, a, e)
            if c is not None:
                yield text[a:c]
                size = min(2 * size, MAX_WINDOW)
            else:
                c, pure = self._next_cut(text, a)
                yield self._word(text, a, c) if pure else text[a:c]
            a = c

    def head(self, text: str, k: int) -> list[int]:
        """The first ``k`` token ids of ``text`` (all of them if it has fewer)."""
        ids: list[int] = []
        for piece in self._pieces(text, max(MIN_WINDOW, 8 * k)):
            ids += piece if isinstance(piece, list) else self._encode([piece])[0]
            if len(ids) >= k:
                return ids[:k]
        return ids

    def count(self, text: str, stop: int | None = None) -> int:
        """The number of tokens of ``text``; ``stop + 1`` as soon as it is known to be more than ``stop``."""
        n, pieces = 0, self._pieces(text, MAX_WINDOW)
        while batch := list(itertools.islice(pieces, BATCH)):  # tokenized together: in parallel where allowed
            texts = [piece for piece in batch if isinstance(piece, str)]
            n += sum(map(len, self._encode(texts))) + sum(len(piece) for piece in batch if isinstance(piece, list))
            if stop is not None and n > stop:
                return stop + 1
        return n

    def encode_pair(self, prompt: str, response: str, max_length: int) -> tuple[list[int], bool]:
        """Token ids of one pair as the card encodes it, and whether it was cut."""
        with self.lock:
            if not response:
                budget = max_length - self.specials[0]
                first = self.head(prompt, budget + 1)
                return self.single[0] + first[:budget] + self.single[1], len(first) > budget
            budget = max_length - self.specials[1]
            first, second = self.head(prompt, budget + 1), self.head(response, budget + 1)
            n1, n2 = len(first), len(second)
            if n1 == n2 == budget + 1 and budget % 2:  # only the full lengths say which side keeps the odd token
                # the text with fewer characters is counted whole, the other only until it has more tokens
                if len(prompt) <= len(response):
                    n1 += self.count(response, stop=(whole := self.count(prompt))) < whole
                else:
                    n1 += self.count(prompt, stop=(whole := self.count(response))) > whole
            t1, t2 = longest_first(n1, n2, budget)
            start, middle, end = self.pair
            return start + first[:t1] + middle + second[:t2] + end, n1 + n2 > budget
