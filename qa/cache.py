"""A bounded cache for what is read from one immutable index generation."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Cache(Generic[K, V]):
    """Up to `limit` entries; emptied when full, which is cheaper than LRU bookkeeping on every
    hit and rare, since the same passages, terms and names come back question after question."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        """The stored value, or None."""
        return self._data.get(key)

    def put(self, key: K, value: V) -> V:
        """Store and return `value`."""
        if len(self._data) >= self.limit:
            self._data.clear()
        self._data[key] = value
        return value
