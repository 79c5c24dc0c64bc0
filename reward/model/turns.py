"""A lock that hands the model to its callers in arrival order, so no caller waits behind another's whole job."""

from __future__ import annotations

import threading
from collections import deque


class FairLock:
    """A mutual-exclusion lock granted first come, first served.

    ``threading.Lock`` lets the thread that just released it take it straight
    back, so a file job that takes the model for each forward pass could keep it
    for its whole run while an interactive request waits. Here a caller that asks
    again queues behind everyone already waiting: a request that arrives during
    a file job waits for at most the forward pass in progress.
    """

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._waiting: deque[object] = deque()
        self._held = False

    def __enter__(self) -> FairLock:
        me = object()
        with self._turns:
            self._waiting.append(me)
            try:
                while self._held or self._waiting[0] is not me:
                    self._turns.wait()
            except BaseException:  # e.g. KeyboardInterrupt while waiting: leave the line, let the next one go
                self._waiting.remove(me)
                self._turns.notify_all()
                raise
            self._waiting.popleft()
            self._held = True
        return self

    def __exit__(self, *exc) -> None:
        with self._turns:
            self._held = False
            self._turns.notify_all()
