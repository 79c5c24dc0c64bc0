"""Why a response got its score: the tokens the model read, and what each sentence adds to the score.

``explain(model, prompt, response)`` scores the response, the response with each sentence taken
out, and each prefix (the first j sentences), through ``RewardModel.score_pairs`` (length-sorted
micro-batches, and the model's cache of pairs already scored). An answer of more than
``EXPLAIN_MAX_PARTS`` sentences is explained in that many segments of adjacent sentences, so that the
work and the answer stay bounded. Every score it reports belongs exactly to a string it names by
offsets into the response (``response[:start] + response[end:]``, ``response[:end]``):
``model.score(prompt, [text])`` or the model card's code on it gives the same number. Texts that
give the model the same token ids are scored once, through the shortest of them.
``explain_steps`` yields the same answer part by part, for a page that shows each as it is ready.

Sentences come from :func:`split_sentences`, an offline rule (no nltk/punkt data), described there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from reward.config import EXPLAIN_ENCODE_CHARS, EXPLAIN_MAX_PARTS
from reward.model.encoding import longest_first

TRAINED_LENGTH = 400
"""Tokens the model was fine-tuned on: its training cut every input at 400 tokens (Nkluge-correa/Aira,
``Reward Modeling/reward-modeling-specs.yaml``), so it never learned from a token at position 400 or later
(positions count from 0, [CLS] included). It still reads up to ``max_length`` (512); what it makes of those
late tokens is untested, and they are flagged ``late``."""

_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_ENDS = ".!?…"
_CLOSERS = "\"'”’)]}»›」』"
_OPENERS = "\"'“‘([{«‹「『"
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "rev", "st", "vs", "e.g", "i.e", "cf", "approx",
                           "fig", "al"})
"""Words that a period follows without ending the sentence, even before a capital ("Dr. Smith", "e.g. Paris")."""


# -- sentences --------------------------------------------------------------------------------------

def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences, list items and lines of ``text``, in order.

    The spans tile the text: every character, whitespace included, is in exactly one span, so
    ``"".join(text[s:e] for s, e in spans) == text``. A new piece starts at the first non-space
    character after a run of whitespace when that run

    * holds a line break (``\\n``, ``\\r\\n``, ``\\r``, or any other that ``str.splitlines`` knows),
      so every line, and so every list item (``- ``, ``* ``, ``1. ``), is a piece of its own; or
    * follows ``.``, ``!``, ``?`` or ``…`` (a run of them, like ``?!`` or ``...``), possibly closed
      by quotes or brackets (``."``, ``?)``), except after a period or ellipsis when
      - the next word starts with a lowercase letter or a digit ("etc. and", "wait... no", "et al. 2020"),
      - the word is a common abbreviation (:data:`ABBREVIATIONS`: "Dr.", "e.g.", "vs."),
      - the word is a single letter (an initial "J. K.", or a list marker "a."; so "Plan B. Then" stays one),
      - or the word is a number that starts its piece (a list marker "1.").

    Whitespace belongs to the piece before it (leading whitespace to the first piece). A decimal
    ("3.14") or an ellipsis with no space after it never splits. An empty text has no pieces;
    any other text without a break is one piece.
    """
    if not text:
        return []
    starts = [0]
    word_start = 0
    for run in re.finditer(r"\s+", text):
        a, b = run.span()
        if a > 0 and b < len(text):
            first_word = not text[starts[-1]:word_start].strip()
            if not _LINE_BREAKS.isdisjoint(run.group()) or _ends_sentence(text[word_start:a], text[b], first_word):
                starts.append(b)
        word_start = b
    return list(zip(starts, starts[1:] + [len(text)]))


def _ends_sentence(word: str, following: str, first_word: bool) -> bool:
    """Whether ``word`` (the non-space run before a space) ends a sentence, ``following`` being the next character."""
    core = word.rstrip(_CLOSERS)
    if not core or core[-1] not in _ENDS:
        return False
    bare = core.rstrip(_ENDS)
    if "!" in core[len(bare):] or "?" in core[len(bare):]:
        return True
    if following.islower() or following.isdigit():
        return False
    if core[len(bare):] == ".":
        bare = bare.lstrip(_OPENERS)
        if bare.lower() in ABBREVIATIONS or (len(bare) == 1 and bare.isalpha()):
            return False
        if first_word and bare.isdigit():
            return False
    return True


# -- what the model read ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    """One token the model read."""

    token: str
    """The tokenizer's name for it ("[CLS]", "Paris", "##ing")."""
    part: str
    """"special" ([CLS], the template's [SEP]s), "prompt" or "response"."""
    position: int
    """Its position in the model's input, from 0."""
    late: bool
    """True at position :data:`TRAINED_LENGTH` or later, where the model saw no training input."""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TokensRead:
    """The exact input of the model for one pair: its ids, one :class:`Token` per id, and what was cut."""

    ids: list[int]
    tokens: list[Token]
    dropped: dict[str, int]
    """Tokens of each side ("prompt", "response") that truncation cut off."""


def tokens_read(model, prompt: str, response: str) -> TokensRead:
    """The ids ``model`` feeds its network for (prompt, response) (``model.encode``), named and marked by part.

    Parts and cuts come from the tokenizer's untruncated encoding of the pair: its segment of each token (a
    "[SEP]" typed in the prompt is read as the special token, but it is prompt text), less the tokens that
    truncation drops from the end of each side (longest first, as the card's ``truncation=True``). The result
    must be exactly the model's ids, or this raises.
    """
    tok = model.tokenizer
    args = (prompt, response) if response else (prompt,)  # as the card: an empty response is no pair at all
    ids = list(model.encode([prompt], [response])[0][0])
    with model.tokenizing:
        full = tok(*args, truncation=False, return_token_type_ids=False, return_attention_mask=False, verbose=False)
        specials = tok.num_special_tokens_to_add(pair=bool(response))
        names = tok.convert_ids_to_tokens(ids)
    segments = full.sequence_ids()
    total = [segments.count(0), segments.count(1)]
    keep = list(total)
    if len(segments) > model.max_length:
        budget = model.max_length - specials
        keep = list(longest_first(*total, budget)) if response else [budget, 0]
    seen, kept, parts = [0, 0], [], []
    for token_id, segment in zip(full["input_ids"], segments):
        if segment is not None:
            seen[segment] += 1
            if seen[segment] > keep[segment]:
                continue
        kept.append(token_id)
        parts.append("special" if segment is None else ("prompt", "response")[segment])
    if kept != ids:
        raise RuntimeError("the tokenizer's own encoding of the pair, cut, differs from the model's input")
    tokens = [Token(name, part, i, i >= TRAINED_LENGTH) for i, (name, part) in enumerate(zip(names, parts))]
    return TokensRead(ids, tokens, {"prompt": total[0] - keep[0], "response": total[1] - keep[1]})


# -- explaining a score -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """A part of the response taken out in turn: one sentence, or for a long answer a segment of adjacent
    sentences (see :func:`parts_of`); and what the score is without it."""

    text: str
    """``response[start:end]``, its trailing whitespace included."""
    start: int
    end: int
    first: int
    """The number of its first sentence, counted from 1."""
    last: int
    """The number of its last sentence (``first`` for a single sentence)."""
    score_without: float
    """The score of ``response[:start] + response[end:]``, exactly the string scored."""
    effect: float
    """``score - score_without``: what the part adds (negative: the score is higher without it)."""


@dataclass(frozen=True)
class Prefix:
    """The response up to the end of its ``sentences``-th sentence (counted from 1; the last prefix is the whole
    response): ``response[:end]`` is exactly the string scored."""

    sentences: int
    end: int
    score: float


@dataclass(frozen=True)
class Explanation:
    """Why a (prompt, response) pair got its score. Parts and prefixes are None until computed (see
    :func:`explain_steps`); the texts they were scored on are given by offsets into the response, so that the
    answer grows with the response's length, not with its square."""

    score: float
    """The pair's reward (raw logit)."""
    tokens: list[Token]
    dropped: dict[str, int]
    sentence_count: int
    """Sentences in the response (see :func:`split_sentences`)."""
    parts: list[Part] | None = None
    prefixes: list[Prefix] | None = None

    @property
    def unit(self) -> str:
        """"sentence" when each part is one sentence, "segment" when a long answer was explained in segments."""
        return "segment" if self.sentence_count > EXPLAIN_MAX_PARTS else "sentence"

    @property
    def late_tokens(self) -> int:
        """Tokens read at position :data:`TRAINED_LENGTH` or later."""
        return sum(t.late for t in self.tokens)

    def as_dict(self) -> dict:
        """Plain JSON-ready data: ``score``, ``tokens`` (token, part, position, late), ``dropped`` (prompt,
        response), ``late_tokens``, ``sentence_count``, ``unit``, ``parts`` (text, start, end, first, last,
        score_without, effect) and ``prefixes`` (sentences, end, score)."""
        return {
            "score": self.score,
            "tokens": [t.as_dict() for t in self.tokens],
            "dropped": dict(self.dropped),
            "late_tokens": self.late_tokens,
            "sentence_count": self.sentence_count,
            "unit": self.unit,
            "parts": [asdict(p) for p in self.parts or ()],
            "prefixes": [asdict(p) for p in self.prefixes or ()],
        }


def parts_of(spans: list[tuple[int, int]], most: int = EXPLAIN_MAX_PARTS) -> list[tuple[int, int, int, int]]:
    """The parts an explanation takes out in turn, as ``(start, end, first, last)``: each sentence when there are
    at most ``most``, else ``most`` segments of adjacent sentences, as equal in count as can be (the earlier ones
    one sentence longer where the count does not divide). Sentence numbers count from 1; the parts tile the
    text as the sentences do."""
    n = len(spans)
    groups = min(n, most)
    parts, first = [], 0
    for g in range(groups):
        size = n // groups + (g < n % groups)
        last = first + size - 1
        parts.append((spans[first][0], spans[last][1], first + 1, last + 1))
        first = last + 1
    return parts


def explain_steps(model, prompt: str, response: str) -> Iterator[Explanation]:
    """The explanation of ``response``'s score, part by part as each is ready: first the score and the tokens
    read (no parts, no prefixes), then with each part's effect, then with the prefixes too (the last one yielded
    is :func:`explain`'s answer). Every score comes through ``model.score_pairs``, so a pair scored before (the
    ranking's, a second click's) is not scored again."""
    spans = split_sentences(response)
    score = model.score_pairs([prompt], [response])[0].score
    read = tokens_read(model, prompt, response)
    explained = Explanation(score, read.tokens, read.dropped, len(spans))
    yield explained
    parts = parts_of(spans)
    pieces = [response[s:e] for s, e, _, _ in parts]
    everything = list(range(len(parts)))
    # A text the model reads exactly as the whole response (a part past the cut taken out) takes its score.
    known = {tuple(read.ids): score}
    without = _scores(model, prompt, pieces, [everything[:i] + everything[i + 1:] for i in everything],
                      [response[:s] + response[e:] for s, e, _, _ in parts], known)
    explained = replace(explained, parts=[Part(pieces[i], s, e, first, last, without[i], score - without[i])
                                          for i, (s, e, first, last) in enumerate(parts)])
    yield explained
    # the last prefix is the whole response, already scored
    scores = _scores(model, prompt, pieces, [everything[:j] for j in range(1, len(parts))],
                     [response[:e] for _, e, _, _ in parts[:-1]], known)
    prefixes = [Prefix(last, e, s) for (_, e, _, last), s in zip(parts, scores)]
    yield replace(explained, prefixes=prefixes + ([Prefix(len(spans), len(response), score)] if parts else []))


def explain(model, prompt: str, response: str) -> Explanation:
    """Explain the score of ``response`` to ``prompt`` by sentence (by segment for a long answer), with the tokens
    the model read: the last step of :func:`explain_steps`.

    Texts that give the model the same token ids are scored once: the same string, or texts that differ only past
    the point where truncation stops the model reading (see :func:`_stand_ins`).

    Args:
        model: a loaded :class:`reward.model.reward_model.RewardModel`.
        prompt: the prompt, may be empty.
        response: the response; an empty one has no parts and no prefixes.
    """
    *_, explained = explain_steps(model, prompt, response)
    return explained


def _scores(model, prompt: str, pieces: list[str], variants: list[list[int]], texts: list[str],
            known: dict[tuple[int, ...], float]) -> list[float]:
    """The score of each text, ``texts[i]`` being the pieces ``variants[i]`` joined; each distinct model input
    is scored once, through its shortest string, and an input in ``known`` (ids to score) not at all."""
    if not texts:
        return []
    shorts = _stand_ins(model, prompt, pieces, variants) or texts
    ids = _encode(model, prompt, list(dict.fromkeys(shorts)))
    best: dict[tuple[int, ...], str] = {}
    for text in ids:
        key = ids[text]
        if key not in known and (key not in best or len(text) < len(best[key])):
            best[key] = text
    scored = list(best.values())
    results = model.score_pairs([prompt] * len(scored), scored) if scored else []
    score_by_ids = {**known, **{ids[text]: result.score for text, result in zip(scored, results)}}
    return [score_by_ids[ids[short]] for short in shorts]


ENCODE_CHARS = EXPLAIN_ENCODE_CHARS


def _encode(model, prompt: str, texts: list[str]) -> dict[str, tuple[int, ...]]:
    """The model's input ids for (prompt, text), for each text; in calls of about ``ENCODE_CHARS`` characters."""
    out: dict[str, tuple[int, ...]] = {}
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(prompt) + len(texts[end]) <= ENCODE_CHARS):
            size += len(prompt) + len(texts[end])
            end += 1
        rows, _ = model.encode([prompt] * (end - start), texts[start:end])  # one caller at a time, per call
        out.update(zip(texts[start:end], map(tuple, rows)))
        start = end
    return out


def _stand_ins(model, prompt: str, pieces: list[str], variants: list[list[int]]) -> list[str] | None:
    """For each variant (the pieces it keeps, in order), the shortest run of its first pieces that gives the model
    the same input ids; None when the tokenizer is not one this is known to hold for.

    For a BERT tokenizer (BertNormalizer or none, BertPreTokenizer, WordPiece, no added token with a space in it)
    the tokens of two texts joined after a character that normalizes to a space are the tokens of each, one after
    the other. Every piece but the last ends with whitespace; when each ends with such a space (and the pieces'
    tokens add up to the whole response's), a variant's tokens are its pieces' tokens. Truncation (longest first,
    on the right) keeps ``budget`` tokens besides the special ones: both sides if they fit, else the shorter side
    whole if it fits in half, else half each, an odd budget's extra token going to the longer side (the response
    on a tie). With ``n_p`` prompt tokens and ``n`` variant tokens, a run of the variant's first pieces of more than
    ``budget`` tokens (and, when ``n_p > budget`` and ``n >= n_p``, of at least ``n_p``) is therefore truncated to
    the same ids: the prompt keeps as many tokens and the response the same first ones. So a sentence removed past
    the point where the model stops reading costs no extra tokenizing or scoring.
    """
    tok = model.tokenizer
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None or getattr(tok, "truncation_side", "right") != "right" or len(pieces) < 2:
        return None
    kinds = (type(backend.normalizer).__name__, type(backend.pre_tokenizer).__name__, type(backend.model).__name__)
    if kinds[0] not in ("BertNormalizer", "NoneType") or kinds[1:] != ("BertPreTokenizer", "WordPiece"):
        return None
    if any(not t.content or any(c.isspace() for c in t.content) for t in backend.get_added_tokens_decoder().values()):
        return None
    for piece in pieces[:-1]:
        space = backend.normalizer.normalize_str(piece[-1]) if backend.normalizer is not None else piece[-1]
        if not space or [p for p, _ in backend.pre_tokenizer.pre_tokenize_str("a" + space + "a")] != ["a", "a"]:
            return None
    kwargs = {"add_special_tokens": False, "return_token_type_ids": False, "return_attention_mask": False,
              "verbose": False}
    with model.tokenizing:
        counts = [len(row) for row in tok(pieces, **kwargs)["input_ids"]]
        response_tokens = len(tok("".join(pieces), **kwargs)["input_ids"])
        n_p = len(tok(prompt, **kwargs)["input_ids"])
    if sum(counts) != response_tokens:
        return None
    budget = model.max_length - tok.num_special_tokens_to_add(pair=True)
    shorts = []
    for keep in variants:
        limit = n_p - 1 if budget < n_p <= sum(counts[k] for k in keep) else budget
        total, end = 0, len(keep)
        for n, k in enumerate(keep):
            total += counts[k]
            if total > limit:
                end = n + 1
                break
        shorts.append("".join(pieces[k] for k in keep[:end]))
    return shorts
