"""Questions asked at the same time share one model call.

On a CPU a one-question forward pass is dominated by reading the weights, so a batch of eight
costs about twice one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

# Most questions one model call embeds together; more wait for the next call.
MAX_QUERY_BATCH = 32


class _Slot:
    """One question in the queue, and what its caller waits for: a vector, an error, or the lead."""

    __slots__ = ("done", "error", "lead", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()
        self.lead = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """Lets questions asked from many threads at once share one model call.

    A caller that finds the model idle runs it straight away on every question waiting (its own
    included), so a lone client waits for nothing. Callers arriving during that run queue up; when
    it ends, the oldest of them runs the next call for the whole queue (up to `max_batch`).
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = MAX_QUERY_BATCH) -> None:
        self._encode = encode
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._running = False
        self.calls = 0  # model calls made, and questions embedded by them: mean batch = questions / calls
        self.questions = 0

    def __call__(self, text: str) -> np.ndarray:
        """The vector of `text`, computed in a model call it may share with other callers."""
        slot = _Slot(text)
        with self._lock:
            self._queue.append(slot)
            lead = not self._running
            self._running = True
        if not lead:
            slot.done.wait()
            if not slot.lead:
                if slot.error is not None:
                    raise slot.error
                assert slot.vector is not None
                return slot.vector
        return self._run(slot)

    def _run(self, own: _Slot) -> np.ndarray:
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            vectors = self._encode([s.text for s in batch])
            error: BaseException | None = None
        except BaseException as exc:  # handed to every waiting caller, then re-raised here
            vectors, error = None, exc
        with self._lock:
            self.calls += 1
            self.questions += len(batch)
            for i, s in enumerate(batch):
                s.vector = None if vectors is None else vectors[i].copy()
                s.error = error
                s.lead = False
                if s is not own:
                    s.done.set()
            if self._queue:
                nxt = self._queue[0]  # hand the model to the oldest waiting caller
                nxt.lead = True
                nxt.done.set()
            else:
                self._running = False
        if error is not None:
            raise error
        assert own.vector is not None
        return own.vector
