"""Concurrent requests merged into shared forward passes, each caller getting its own answer."""

import threading

from reward.model.batching import RequestBatcher
from tests.reference import assert_scores_close


def run_merged(batcher, jobs):
    """Run ``jobs`` (callables) in threads queued while the model is busy, so they are merged."""
    batcher._model_lock.acquire()
    threads = [threading.Thread(target=job) for job in jobs]
    for t in threads:
        t.start()
    while len(batcher._queue) < len(jobs):
        threading.Event().wait(0.01)
    batcher._model_lock.release()
    for t in threads:
        t.join(timeout=60)


def test_concurrent_requests_get_their_own_scores_from_merged_calls(tiny_model, score_scale):
    calls = []

    def score_pairs(prompts, responses):
        calls.append(len(prompts))
        return tiny_model.score_pairs(prompts, responses)

    batcher = RequestBatcher(score_pairs, max_pairs=64)
    requests = [(f"Question {i}?", [f"Answer {i}", f"A longer answer number {i} " * (i % 5 + 1)]) for i in range(24)]
    results: dict[int, list] = {}
    start = threading.Barrier(len(requests))

    def user(i):
        start.wait()
        results[i] = batcher.score(*requests[i])

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i, (prompt, responses) in enumerate(requests):
        alone = tiny_model.score(prompt, responses)
        assert_scores_close([s.score for s in results[i]], [s.score for s in alone], scale=score_scale)
    assert sum(calls) == 2 * len(requests)
    assert batcher.stats.requests == len(requests)
    assert len(calls) < len(requests), "no request was merged with another"


def test_a_failing_request_fails_alone(tiny_model):
    def score_pairs(prompts, responses):
        if any("BOOM" in r for r in responses):
            raise MemoryError("out of memory")
        return tiny_model.score_pairs(prompts, responses)

    batcher = RequestBatcher(score_pairs)
    outcomes = {}

    def user(name, responses):
        try:
            outcomes[name] = batcher.score("Why?", responses)
        except MemoryError as err:
            outcomes[name] = err

    run_merged(batcher, [lambda n=n, r=r: user(n, r) for n, r in
                         [("a", ["fine"]), ("b", ["BOOM"]), ("c", ["also fine", "ok"])]])
    assert isinstance(outcomes["b"], MemoryError)
    assert len(outcomes["a"]) == 1 and len(outcomes["c"]) == 2
    # And the batcher keeps serving.
    assert len(batcher.score("Why?", ["again"])) == 1


def test_max_pairs_caps_a_merged_call_but_never_splits_a_request(tiny_model):
    sizes = []

    def score_pairs(prompts, responses):
        sizes.append(len(prompts))
        return tiny_model.score_pairs(prompts, responses)

    batcher = RequestBatcher(score_pairs, max_pairs=4)
    out = {}
    run_merged(batcher, [lambda i=i: out.setdefault(i, batcher.score("p", ["x"] * (i + 2)))
                         for i in range(4)])  # 2, 3, 4, 5 responses
    assert sorted(len(v) for v in out.values()) == [2, 3, 4, 5]
    assert max(sizes) <= 5  # a 5-response request goes alone; none is split
    assert sum(sizes) == 14
