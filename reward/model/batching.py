"""Merge concurrent scoring requests into shared forward passes.

When several people press Score at once, their requests wait for the model one
after another anyway. ``RequestBatcher`` lets whichever request gets the model
next score every request waiting behind it in the same call (sorted by length
and micro-batched by ``RewardModel.score_pairs``), then hands each caller its own
results. One request that makes the model fail (out of memory, say) is retried
alone, so only its own caller sees the error.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .reward_model import PairScore

ScorePairs = Callable[[Sequence[str], Sequence[str]], list[PairScore]]


@dataclass
class _Pending:
    prompt: str
    responses: Sequence[str]
    result: list[PairScore] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    requests: int = 0
    calls: int = 0
    largest: int = field(default=0)
    """Most requests merged into one call."""


class RequestBatcher:
    """Score requests for one model, merging those that arrive while it is busy."""

    def __init__(self, score_pairs: ScorePairs, *, max_pairs: int = 64) -> None:
        self._score_pairs = score_pairs
        self.max_pairs = max_pairs
        self._queue: deque[_Pending] = deque()
        self._queue_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self.stats = BatchStats()

    def score(self, prompt: str, responses: Sequence[str]) -> list[PairScore]:
        """Scores of ``responses`` to ``prompt``, in order; may be computed together with other callers'."""
        mine = _Pending(prompt, responses)
        with self._queue_lock:
            self._queue.append(mine)
        with self._model_lock:
            # A caller ahead of us may already have scored our request.
            while not mine.done:
                self._run(self._take())
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _take(self) -> list[_Pending]:
        """The oldest waiting requests, up to ``max_pairs`` pairs (always at least one request)."""
        batch: list[_Pending] = []
        pairs = 0
        with self._queue_lock:
            while self._queue and (not batch or pairs + len(self._queue[0].responses) <= self.max_pairs):
                item = self._queue.popleft()
                batch.append(item)
                pairs += len(item.responses)
        return batch

    def _run(self, batch: list[_Pending]) -> None:
        self.stats.requests += len(batch)
        self.stats.calls += 1
        self.stats.largest = max(self.stats.largest, len(batch))
        prompts = [item.prompt for item in batch for _ in item.responses]
        responses = [text for item in batch for text in item.responses]
        try:
            scores = self._score_pairs(prompts, responses)
        except Exception as err:  # noqa: BLE001 - find whose request fails, so only its caller sees it
            if len(batch) == 1:
                batch[0].error, batch[0].done = err, True
                return
            for item in batch:
                self._run([item])
            return
        start = 0
        for item in batch:
            item.result = scores[start:start + len(item.responses)]
            item.done = True
            start += len(item.responses)

