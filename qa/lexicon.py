"""The corpus's word statistics that the answer stage asks about: how common a term is, whether a
word (or a near spelling of it) occurs at all. Read from one generation's `term_df` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from qa.cache import Cache
from qa.index.rows import SENTENCE_COUNT_TERM
from qa.text import root


def within_edits(a: str, b: str, limit: int) -> bool:
    """Is the edit distance between a and b (adjacent swaps counting one) at most `limit`?"""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= limit


class Lexicon:
    """Term statistics of one index generation, cached: the same words come back question after
    question. `db` gives the calling thread's read-only connection."""

    def __init__(self, db: Callable[[], sqlite3.Connection], cache_size: int = 100_000) -> None:
        self._db = db
        self._df: Cache[str, int] = Cache(cache_size)
        self._known: Cache[str, bool] = Cache(cache_size)
        self._near: Cache[str, bool] = Cache(cache_size)

    def sentence_count(self) -> int:
        """How many sentences the generation holds (the N of an IDF)."""
        return self.document_frequencies([SENTENCE_COUNT_TERM]).get(SENTENCE_COUNT_TERM, 1)

    def document_frequencies(self, words: Iterable[str]) -> dict[str, int]:
        """In how many sentences each stemmed term occurs (absent terms are left out)."""
        out: dict[str, int] = {}
        missing = []
        for w in set(words):
            df = self._df.get(w)
            if df is None:
                missing.append(w)
            elif df:
                out[w] = df
        if missing:
            marks = ",".join("?" * len(missing))
            rows = dict(self._db().execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", missing))
            for w in missing:
                df = self._df.put(w, int(rows.get(w, 0)))
                if df:
                    out[w] = df
        return out

    def known_prefixes(self, words: Iterable[str]) -> set[str]:
        """Which of the words (or their roots, `qa.text.root`) occur in the indexed text."""
        found = set()
        for w in set(words):
            key = root(w)
            known = self._known.get(key)
            if known is None:
                row = (
                    self._db()
                    .execute(
                        "SELECT 1 FROM term_df WHERE term >= ? AND term < ? LIMIT 1", (key, key + "\uffff")
                    )
                    .fetchone()
                )
                known = self._known.put(key, row is not None)
            if known:
                found.add(w)
        return found

    def near_misses(self, words: Iterable[str]) -> set[str]:
        """Which of the words are a typo or two away from an indexed term that starts with the
        same two letters: one edit (a letter dropped, added, changed, or two swapped) for words
        of five letters, two from six on ("Primer League" for "Premier")."""
        found = set()
        for w in set(words):
            if len(w) < 5 or not w.isascii() or not w.isalpha():
                continue  # short words are an edit or two from too many others
            near = self._near.get(w)
            if near is None:
                limit = 1 if len(w) < 6 else 2
                rows = self._db().execute(
                    "SELECT term FROM term_df WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ? "
                    "LIMIT 20000",
                    (w[:2], w[:2] + "\uffff", len(w) - limit, len(w) + limit),
                )
                near = self._near.put(w, any(within_edits(w, t, limit) for (t,) in rows))
            if near:
                found.add(w)
        return found
