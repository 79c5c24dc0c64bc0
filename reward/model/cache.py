"""The scores a loaded model has already given: one cache per model, so a pair scored once is never scored again.

``/score``, the explanations, the probes, the pair views and the file jobs all score through
:meth:`RewardModel.score_pairs`, which asks this cache first: a second click on a ranked row, or an
explanation of a response that was just ranked, answers from it. An entry is the model's own verdict
on exactly that pair, stored as it came out of the forward pass, so the cache never changes a score.

Keys hold the model's identity (source, revision, precision, max length) besides the prompt and the
response, and the texts themselves (no digest that two texts could share). The least recently used
entries leave first once there are more than ``max_entries`` or their texts take more than
``max_bytes`` (``SCORE_CACHE_ENTRIES`` and ``SCORE_CACHE_BYTES`` in config).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

ENTRY_OVERHEAD = 240
"""Bytes an entry costs besides its texts: the key tuple, the score record and the dictionary slot."""


@dataclass(frozen=True)
class CacheStats:
    """What the cache holds and how often it answered."""

    entries: int
    bytes: int
    hits: int
    misses: int


class ScoreCache:
    """Pairs already scored by one model, least recently used out first; safe to share between threads."""

    def __init__(self, identity: Hashable, *, max_entries: int, max_bytes: int) -> None:
        self.identity = identity
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def _key(self, prompt: str, response: str) -> tuple:
        return (self.identity, prompt, response)

    def get_many(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Any | None]:
        """The stored verdict of each pair, or None where the pair was not scored yet (or has left)."""
        found = []
        with self._lock:
            for prompt, response in zip(prompts, responses):
                entry = self._entries.get(self._key(prompt, response))
                if entry is None:
                    self._misses += 1
                    found.append(None)
                else:
                    self._entries.move_to_end(self._key(prompt, response))
                    self._hits += 1
                    found.append(entry[0])
        return found

    def put_many(self, prompts: Sequence[str], responses: Sequence[str], verdicts: Sequence[Any]) -> None:
        """Remember each pair's verdict; a pair larger than the whole cache is not kept."""
        if self.max_entries <= 0 or self.max_bytes <= 0:
            return
        with self._lock:
            for prompt, response, verdict in zip(prompts, responses, verdicts):
                size = sys.getsizeof(prompt) + sys.getsizeof(response) + ENTRY_OVERHEAD
                if size > self.max_bytes:
                    continue
                key = self._key(prompt, response)
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
                self._entries[key] = (verdict, size)
                self._bytes += size
                while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                    _, (_, freed) = self._entries.popitem(last=False)
                    self._bytes -= freed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries), self._bytes, self._hits, self._misses)
