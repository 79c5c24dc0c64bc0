"""reward.model.encoding gives exactly the card's token ids and truncated flag, without tokenizing whole giant texts.

The reference is the card's own call on the whole pair,
``tokenizer(p, r, truncation=True, max_length=m, return_token_type_ids=False)``, and the untruncated length > m
(for texts of 100k characters and more, each text tokenized whole and the truncation rule checked against it).
Most tests run every text through the bounded path (``long_text=0``) and then only the over-long pairs
(``long_text=10**9``), with tiny windows, so that texts of a few hundred characters already cross many windows,
giant words and added tokens at window edges.
"""

import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers, pre_tokenizers

from reward.model import encoding
from reward.model.encoding import encode_pairs, longest_first
from reward.model.tiny import train_wordpiece_tokenizer

SPECIALS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "cls_token": "[CLS]", "pad_token": "[PAD]",
            "mask_token": "[MASK]"}
WORDS = "Why is AI Ethics important? The field of AI Ethics delves deeply into the ethical considerations."
FRAGMENTS = ["a", "b", "Why", "Ethics", "importantly", " ", "  ", "\n", "\r\n", "\t", "\u3000", "\xa0",
             "\x0b", "\x0c", "\x85", "\x1c", "\x00", "\ufffd", "\u200d", "\u00ad", ",", ".", "?", "'", "中", "東京",
             "こんにちは", "é", "e\u0301", "\u0327\u0301", "Café", "naïve", "İ", "ǅ", "ﬁ", "Σ", "😀", "👨\u200d👩\u200d👧",
             "[SEP]", "[MASK]", "[", "]", "SEP", "[SE", "P]", "x" * 99, "y" * 101, "z" * 130]


def _variant(tokenizer, **normalizer):
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.normalizer = normalizers.BertNormalizer(**normalizer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIALS)


@pytest.fixture(scope="module")
def tokenizers(tiny_model_dir):
    """The tiny model's cased tokenizer, one with a vocabulary of these tests' words, and other BERT normalizers."""
    from transformers import AutoTokenizer

    cased = AutoTokenizer.from_pretrained(tiny_model_dir)
    corpus = [WORDS, " ".join(FRAGMENTS)] * 20
    return {"cased": cased, "trained": train_wordpiece_tokenizer(corpus, 400),
            "uncased": _variant(cased, lowercase=True), "strip-accents": _variant(cased, strip_accents=True),
            "raw": _variant(cased, clean_text=False, handle_chinese_chars=False, lowercase=False)}


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(encoding, "MIN_WINDOW", 4)
    monkeypatch.setattr(encoding, "MAX_WINDOW", 16)


def card(tokenizer, prompt, response, max_length):
    """The model card's encoding of one pair (a plain call: an empty response is a single text), and its cut flag."""
    ids = tokenizer(prompt, response, truncation=True, max_length=max_length, return_token_type_ids=False)
    return ids["input_ids"], len(tokenizer(prompt, response, return_token_type_ids=False)["input_ids"]) > max_length


@functools.lru_cache(maxsize=16)
def whole_text_ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def card_long(tokenizer, prompt, response, max_length):
    """The card's encoding of a pair of long texts, from each text tokenized whole and :func:`longest_first`
    (checked against the card's call below): the card's call itself on two long texts builds every pair of
    their overflowing pieces, and takes minutes."""
    first, second = (whole_text_ids(tokenizer, t) for t in (prompt, response))
    budget = max_length - (3 if response else 2)
    t1, t2 = longest_first(len(first), len(second), budget)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id  # BERT's template: [CLS] A [SEP] (B [SEP])
    ids = [cls, *first[:t1], sep, *second[:t2], sep] if response else [cls, *first[:budget], sep]
    return ids, len(first) + len(second) > budget


def assert_same(tokenizer, prompts, responses, max_length, reference=card, long_texts=(None,)):
    """encode_pairs gives the reference's ids and flags, with each of ``long_texts`` (0: every text takes the
    bounded path; None: the default, the over-long ordinary rows only; 10**9: these only)."""
    expected = [reference(tokenizer, p, r, max_length) for p, r in zip(prompts, responses)]
    for long_text in long_texts:
        ids, cut = encode_pairs(tokenizer, prompts, responses, max_length, long_text=long_text)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            assert (ids[i], cut[i]) == expected[i], (p[:80], r[:80], max_length, long_text)


def test_longest_first_is_what_the_rust_truncation_does(tokenizers):
    tok = tokenizers["cased"]
    a, dot = (tok.convert_tokens_to_ids(t) for t in ("a", "."))
    for n1, n2, budget in itertools.product(range(14), range(1, 14), range(1, 12)):
        ids = card(tok, "a " * n1, ". " * n2, budget + 3)[0]
        assert longest_first(n1, n2, budget) == (ids.count(a), ids.count(dot)), (n1, n2, budget)
        assert card_long(tok, "a " * n1, ". " * n2, budget + 3)[0] == ids


def test_capping_each_side_at_budget_plus_one_changes_only_the_odd_token_of_two_long_sides():
    """The rule encode_pair relies on: each side's length beyond budget + 1 tokens matters only when both
    sides pass the budget and it is odd, and then only whether the first side is strictly the longer."""
    for budget in range(1, 14):
        k = budget + 1
        for n1, n2 in itertools.product(range(3 * k + 2), repeat=2):
            capped = (min(n1, k), min(n2, k))
            if n1 >= k and n2 >= k and budget % 2:
                capped = (k + (n1 > n2), k)
            assert longest_first(*capped, budget) == longest_first(n1, n2, budget), (n1, n2, budget)


CASES = {  # both sides stay under ~150 tokens: the card's call builds every pair of overflowing pieces
    "long prompt and response of equal length": ("word " * 40, "word " * 40),
    "response one token longer": ("word " * 40, "word " * 41),
    "prompt one token longer, fewer characters": ("a " * 41, "word " * 40),
    "prompt longer in tokens and characters": ("Ethics " * 60, "a " * 45),
    "one giant word": ("x" * 300, "y" * 1000),
    "giant word after a short one": ("Why " + "a" * 500, "b" * 5 + " " + "c" * 400),
    "giant word of deleted characters": ("a" * 40 + "\x00" * 500 + "b" * 40 + " Why", "c\u200d" * 300 + " is"),
    "a word just at the [UNK] limit": ("x" * 100 + "\x00" * 200 + " a", "e\u0301" * 100 + " b"),
    "whitespace padding before text": (" " * 500 + "Why is it", "\n" * 300 + "\u3000" * 50 + WORDS),
    "only whitespace": (" \t\n" * 100, "\r\n" * 200),
    "CJK only": ("東京" * 50, "中文こんにちは" * 15),
    "emoji and joiners": ("😀" * 150, "👨\u200d👩\u200d👧" * 60 + " 😀 " * 40),
    "[SEP] literals everywhere": ("[SEP]" * 60, "a[SEP]b" * 20 + "[[SEP]]" * 15),
    "half-written specials": ("[SE" * 40, "P]" * 40 + "[MASK" * 15),
    "vertical tab and NEL join words": ("word\x0b" * 80, "Why\x85is\x0cit\x1c" * 50),
    "CRLF lines": ("line one\r\nline two\r\n" * 20, "\r\n".join(["Ethics"] * 60)),
    "accents and combining runs": ("Café naïve " * 25, "e" + "\u0301\u0327" * 200 + " a"),
    "leading and trailing whitespace": ("   Why is AI Ethics important?   " * 8, "  ok  "),
    "punctuation without spaces": ("a,b." * 30, "?!" * 60),
    "empty response": (WORDS * 20, ""),
    "empty prompt": ("", WORDS * 20),
    "both empty": ("", ""),
}


@pytest.mark.parametrize("prompt, response", CASES.values(), ids=CASES.keys())
def test_adversarial_pairs_match_the_card(tokenizers, small_windows, prompt, response):
    for tok, max_length in itertools.product(tokenizers.values(), (10, 17, 64)):  # odd, even and odd budgets
        assert_same(tok, [prompt], [response], max_length, long_texts=(0, 10**9))


@settings(max_examples=100)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60), st.lists(st.sampled_from(FRAGMENTS), max_size=60),
       st.integers(4, 40), st.sampled_from(["cased", "trained", "uncased", "strip-accents", "raw"]))
def test_any_mix_of_fragments_matches_the_card(tokenizers, prompt, response, max_length, name):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encoding, "MIN_WINDOW", 4)
        patch.setattr(encoding, "MAX_WINDOW", 16)
        assert_same(tokenizers[name], ["".join(prompt)], ["".join(response)], max_length, long_texts=(0, 10**9))


def test_texts_of_100k_characters_with_the_default_windows(tokenizers):
    long_text = (WORDS + " ") * 1200  # 120k characters
    prompts = [long_text, "Why?", long_text, long_text[1:], "東京" * 60_000, "a" * 150_000]
    responses = ["Fine.", long_text, long_text, long_text, "", "b " * 60_000]
    for max_length in (512, 511):  # odd and even budgets
        assert_same(tokenizers["trained"], prompts, responses, max_length, reference=card_long)


def test_ordinary_rows_are_encoded_by_the_card_call_in_one_batch(tokenizers):
    calls, truncating = [], []
    tok = Recording(tokenizers["cased"], calls, truncating)
    prompts = [WORDS, "Why?", "", WORDS * 5, "a", WORDS * 9]
    responses = ["Fine.", "", "x", WORDS * 5, "[SEP] b", ""]
    assert_same(tok, prompts, responses, 32)
    calls.clear()
    truncating.clear()
    encode_pairs(tok, prompts, responses, 32)
    assert len(calls) == 2  # the pairs, then the single texts, untruncated;
    assert not any(truncating)  # the over-long ones are cut on the bounded path, not by the card's call


def test_a_tokenizer_without_known_rules_takes_the_full_path(tokenizers):
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(tokenizers["cased"].backend_tokenizer.to_str())
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    other_pre_tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIALS)
    added_word = _variant(tokenizers["cased"])
    added_word.add_tokens(["Ethics delves"])  # an added token could end a word anywhere: no safe cut is known
    for tok in (other_pre_tokenizer, added_word):
        assert encoding._plan_for(tok, 16) is None
        assert_same(tok, [WORDS * 5, "a", "a"], ["b", WORDS * 5, "b"], 16, long_texts=(0, None))


class Recording:
    """A tokenizer that notes the length of every text it is given, also on the bounded path's private copy."""

    def __init__(self, tokenizer, calls, truncating=None):
        self._tokenizer, self.calls, self.truncating = tokenizer, calls, [] if truncating is None else truncating

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def __call__(self, *texts, **kwargs):
        lengths = [len(t) for batch in texts for t in ([batch] if isinstance(batch, str) else batch)]
        self.calls.append(max(lengths, default=0))
        self.truncating.append(bool(kwargs.get("truncation")))
        return self._tokenizer(*texts, **kwargs)


class RecordingBackend:
    """The bounded path's tokenizer copy or normalizer, noting the length of every text it is given."""

    def __init__(self, backend, calls):
        self._backend, self.calls = backend, calls

    def __getattr__(self, name):
        method = getattr(self._backend, name)

        def record(first, *args, **kwargs):
            self.calls.append(max(map(len, [first] if isinstance(first, str) else first), default=0))
            return method(first, *args, **kwargs)
        return record


def test_a_5_mb_cell_is_never_tokenized_whole(tokenizers):
    tok = tokenizers["cased"]
    calls = []
    recording = Recording(tok, calls)
    plan = encoding._plan_for(recording, 512)
    plan.backend, plan.norm = RecordingBackend(plan.backend, calls), RecordingBackend(plan.norm, calls)
    cell = ((WORDS + " ") * 60_000)[:5_000_000]
    giant = "a" * 5_000_000
    ids, cut = encode_pairs(recording, ["Why?", "Why?", cell[:100_000]], [cell, giant, cell[1:100_001]], 512)
    assert 0 < max(calls) <= encoding.MAX_WINDOW < len(cell) // 50
    head = cell[:cell.rindex(" ", 0, 20_000)]  # a prefix that ends at a space has the same first tokens
    assert (ids[0], cut[0]) == (card(tok, "Why?", head, 512)[0], True)
    assert (ids[1], cut[1]) == card(tok, "Why?", "a" * 200, 512) and ids[1][-2] == tok.unk_token_id
    assert (ids[2], cut[2]) == card_long(tok, cell[:100_000], cell[1:100_001], 512)


def test_many_medium_texts_are_tokenized_in_runs_of_bounded_size(tokenizers):
    """A chunk of 2,000 rows of 8,000 characters each (each under the bounded path's threshold) is
    tokenized a run of at most TOKENIZER_BATCH_CHARS characters at a time, with the same ids."""
    tok = tokenizers["cased"]
    totals = []

    class Totals(Recording):
        def __call__(self, *texts, **kwargs):
            totals.append(sum(len(t) for batch in texts for t in ([batch] if isinstance(batch, str) else batch)))
            return super().__call__(*texts, **kwargs)

    text = ((WORDS + " ") * 400)[:4_000]
    prompts, responses = [f"Q{i}? " + text for i in range(300)], [text + f" A{i}." for i in range(300)]
    ids, cut = encode_pairs(Totals(tok, []), prompts, responses, 4096)
    assert len(totals) > 1 and max(totals) <= encoding.TOKENIZER_BATCH_CHARS
    for i in (0, 137, 299):  # the card's own encoding, as an independent reference
        assert (ids[i], cut[i]) == card(tok, prompts[i], responses[i], 4096)
