"""The cache of scored pairs: a pair is scored once per model, its answer never changes a score, and the cache
stays within its bounds."""

import threading

import pytest

from reward.config import Settings
from reward.insight.explain import explain
from reward.insight.probes import probe
from reward.model.cache import ENTRY_OVERHEAD, ScoreCache
from reward.model.reward_model import PairScore, load_reward_model
from reward.service import RewardService

PROMPT = "Why is AI Ethics important?"
RESPONSES = ["AI Ethics studies how AI systems affect people.", "Who cares?", "", "Ça va 🙂 " * 40,
             "It matters because these systems decide who gets a loan. They must be fair."]


def tolerance(scores):
    """Scores from different batches may round apart: a bound relative to their size."""
    return 1e-5 * max(1.0, max(abs(s) for s in scores))


@pytest.fixture
def fresh_model(tiny_model_dir):
    """The tiny model loaded apart from the session's (its own, empty cache), and a way to count forward passes."""
    from reward.model import reward_model

    reward_model._load_cached.cache_clear()
    model = load_reward_model(tiny_model_dir, device="cpu")
    reward_model._load_cached.cache_clear()
    passes = []
    forward = model._forward
    model._forward = lambda input_ids, mask: passes.append(input_ids.shape[0]) or forward(input_ids, mask)
    return model, passes


def test_a_pair_scored_again_answers_from_the_cache_unchanged(fresh_model):
    model, passes = fresh_model
    first = model.score(PROMPT, RESPONSES)
    assert sum(passes) == len(RESPONSES)
    again = model.score(PROMPT, list(reversed(RESPONSES)))
    assert sum(passes) == len(RESPONSES), "a cached pair ran a forward pass"
    assert again == list(reversed(first))  # the very same verdicts, in the order asked
    stats = model.scores.stats()
    assert stats.entries == len(RESPONSES) and stats.hits == len(RESPONSES)


def test_the_cache_never_changes_a_score(fresh_model, tiny_model_dir):
    """The same pairs scored with the cache (some cached, in other batches) and without it (nothing kept)."""
    model, _ = fresh_model
    model.score(PROMPT, RESPONSES[::2])  # some pairs cached first, in batches of their own
    cached = model.score(PROMPT, RESPONSES)
    from reward.model import reward_model

    uncached_model = load_reward_model(tiny_model_dir, device="cpu", batch_size=3)
    reward_model._load_cached.cache_clear()  # nobody else gets this instance
    uncached_model.scores.max_entries = 0  # keeps nothing
    uncached = uncached_model.score(PROMPT, RESPONSES)
    assert uncached_model.scores.stats().entries == 0
    bound = tolerance([s.score for s in uncached])
    for a, b in zip(cached, uncached):
        assert (a.tokens, a.truncated) == (b.tokens, b.truncated)
        assert abs(a.score - b.score) <= bound


def test_mixed_hits_and_misses_keep_order_progress_and_score_duplicates_once(fresh_model):
    model, passes = fresh_model
    model.score(PROMPT, RESPONSES[:2])
    seen = []
    asked = [RESPONSES[1], RESPONSES[4], RESPONSES[0], RESPONSES[4], RESPONSES[3]]
    got = model.score_pairs([PROMPT] * len(asked), asked, progress=lambda done, total: seen.append((done, total)))
    assert sum(passes) == 2 + 2  # RESPONSES[4] once, RESPONSES[3] once
    assert got[1] is got[3] and got[0] == model.score(PROMPT, [RESPONSES[1]])[0]
    assert seen[-1] == (len(asked), len(asked)) and all(t == len(asked) for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_fully_cached_call_still_reports_its_progress(fresh_model):
    model, _ = fresh_model
    model.score(PROMPT, RESPONSES)
    seen = []
    model.score_pairs([PROMPT] * 2, RESPONSES[:2], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 2)]


def test_explain_and_probes_reuse_the_ranked_pairs(fresh_model):
    """A response ranked, then explained and probed, then explained again: nothing is scored twice."""
    model, passes = fresh_model
    response = RESPONSES[4]
    model.score(PROMPT, [response])
    before = sum(passes)
    explained = explain(model, PROMPT, response)
    probed = probe(model, PROMPT, response)
    counted = sum(passes)
    assert counted - before <= 2 * len(explained.parts) - 1 + len(probed.rows) - 1  # never the response itself
    explain(model, PROMPT, response)
    probe(model, PROMPT, response)
    assert sum(passes) == counted


def test_the_service_ranks_a_second_time_from_the_cache(tiny_model_dir):
    service = RewardService(Settings(model=str(tiny_model_dir), device="cpu"))
    first = service.rank(PROMPT, RESPONSES)
    hits = service.model().scores.stats().hits
    second = service.rank(PROMPT, RESPONSES)
    assert [r.record() for r in second.ranked] == [r.record() for r in first.ranked]
    assert service.model().scores.stats().hits - hits == sum(1 for r in RESPONSES if r.strip())


# -- the bounds -------------------------------------------------------------------------------------

def verdict(x: float) -> PairScore:
    return PairScore(x, 3, False)


def test_least_recently_used_pairs_leave_first_past_the_entry_bound():
    cache = ScoreCache("m", max_entries=3, max_bytes=1 << 20)
    cache.put_many(["p"] * 3, ["a", "b", "c"], [verdict(1), verdict(2), verdict(3)])
    assert cache.get_many(["p"], ["a"]) == [verdict(1)]  # a is now the most recent
    cache.put_many(["p"], ["d"], [verdict(4)])
    assert cache.get_many(["p"] * 4, ["a", "b", "c", "d"]) == [verdict(1), None, verdict(3), verdict(4)]
    assert cache.stats().entries == 3


def test_the_byte_bound_holds_and_a_pair_larger_than_the_cache_is_not_kept():
    size = 2 * (len("x" * 1000) + 49) + ENTRY_OVERHEAD  # two 1000-character ASCII strings
    cache = ScoreCache("m", max_entries=100, max_bytes=3 * size)
    for i in range(10):
        cache.put_many([f"{i:x>1000}"], [f"{i:y>1000}"], [verdict(i)])
        assert cache.stats().bytes <= 3 * size
    assert cache.stats().entries == 3
    cache.put_many(["p"], ["z" * (4 * size)], [verdict(9)])
    assert cache.get_many(["p"], ["z" * (4 * size)]) == [None] and cache.stats().entries == 3


def test_keys_hold_the_models_identity_and_exact_texts():
    one, other = ScoreCache(("model-a", None, "fp32", 512), max_entries=10, max_bytes=1 << 20), \
        ScoreCache(("model-a", None, "bf16", 512), max_entries=10, max_bytes=1 << 20)
    one.put_many(["p"], ["r"], [verdict(1)])
    assert one._key("p", "r") != other._key("p", "r")
    assert one.get_many(["p", "p", "p "], ["r", "r ", "r"]) == [verdict(1), None, None]


def test_many_threads_at_once_keep_the_cache_consistent():
    cache = ScoreCache("m", max_entries=50, max_bytes=1 << 20)

    def work(n):
        for i in range(200):
            cache.put_many(["p"], [f"{n}-{i}"], [verdict(i)])
            cache.get_many(["p"], [f"{n}-{i // 2}"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.stats()
    assert stats.entries == 50 and stats.bytes == sum(size for _, size in cache._entries.values())
