"""Question (and the turn it leans on) → dense and lexical candidates → reciprocal-rank fusion → Hits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from qa.index import DocumentInfo, Index
from qa.lexicon import Lexicon
from qa.question import Question
from qa.records import Chunk, Filters, Hit, Sentence
from qa.text import STOPWORDS, words

RRF_K = 60
# A question about recent events: the newest article gains as much as a second list ranking it
# first would give; one a month older, half that.
RECENCY_WEIGHT = 1.0 / (RRF_K + 1)
RECENCY_HALF_LIFE_DAYS = 30.0
NO_FILTERS = Filters()
T = TypeVar("T")


def lexical_words(text: str) -> list[str]:
    """Distinct content words for the FTS5 query, in order."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS and len(w) > 1 and w not in seen:
            seen[w] = None
    return list(seen)


def matching_documents(index: Index, filters: Filters) -> frozenset[str] | None:
    """Ids of the documents the filters let through, or None when no filter is set."""
    if not filters.active:
        return None

    def passes(doc: DocumentInfo) -> bool:
        day = (doc.published or "")[:10]
        if (filters.since or filters.until) and not day:
            return False
        if (filters.since and day < filters.since) or (filters.until and day > filters.until):
            return False
        if not filters.sources:
            return True
        places = [doc.source, *(u for u in (doc.url, *doc.urls) if u)]
        site = (doc.site or "").casefold()
        return any(s.casefold() == site or any(p.startswith(s) for p in places) for s in filters.sources)

    return index.derived(
        ("filters", filters), lambda: frozenset(d for d, i in index.documents.items() if passes(i))
    )


def freshness(index: Index) -> dict[str, float]:
    """How recent each dated document is: 1 for the newest in the index, halving every
    RECENCY_HALF_LIFE_DAYS before it (relative to the index, so an old archive still has a newest)."""

    def compute() -> dict[str, float]:
        days = {d: day for d, i in index.documents.items() if (day := _day(i.published)) is not None}
        if not days:
            return {}
        newest = max(days.values())
        return {d: 0.5 ** ((newest - day).days / RECENCY_HALF_LIFE_DAYS) for d, day in days.items()}

    return index.derived("freshness", compute)


def _day(published: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


def retrieve(
    index: Index,
    question: Question,
    query_vector: np.ndarray,
    top_k: int = 5,
    filters: Filters = NO_FILTERS,
) -> list[Hit]:
    """Fuse dense and BM25 rankings by reciprocal rank; drop chunks overlapping a better one.

    Filters apply inside both searches, before their top k. A question about recent events
    ranks newer articles higher; any other question is ranked by relevance alone.
    """
    depth = max(4 * top_k, 20)
    among = matching_documents(index, filters)
    dense = index.search_dense(query_vector, depth, among)
    lexical = index.search_lexical(lexical_words(question.search), depth, among)
    fused = Fused.of(dense, lexical)
    if question.recent:
        _prefer_recent(index, fused.score)
    return _hits(index, fused, top_k)


@dataclass(frozen=True)
class Fused:
    """Reciprocal-rank fusion of the two rankings, with the ranks and cosines that made it."""

    score: dict[int, float]
    dense_rank: dict[int, int]
    dense_score: dict[int, float]
    lexical_rank: dict[int, int]

    @classmethod
    def of(cls, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> Fused:
        """Each chunk's fused score: the sum of 1/(RRF_K + rank) over the lists that hold it."""
        fused = cls({}, {}, {}, {})
        for rank, (cid, score) in enumerate(dense, start=1):
            fused.score[cid] = fused.score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
            fused.dense_rank[cid] = rank
            fused.dense_score[cid] = score
        for rank, (cid, _) in enumerate(lexical, start=1):
            fused.score[cid] = fused.score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
            fused.lexical_rank[cid] = rank
        return fused


def _hits(index: Index, fused: Fused, top_k: int) -> list[Hit]:
    """The best `top_k` chunks by fused score, skipping any that overlaps a better one."""
    order = sorted(fused.score, key=lambda c: -fused.score[c])
    hits: list[Hit] = []
    taken: list[tuple[str, int, int]] = []
    chunks: dict[int, Chunk] = {}
    for n, cid in enumerate(order):
        if n % (2 * top_k) == 0:
            # Chunks are read a few at a time: on a large index each one is a random disk read,
            # and most questions never look past the first 2 x top_k.
            chunks = index.chunks(order[n : n + 2 * top_k])
        chunk = chunks.get(cid)
        if chunk is None:
            continue
        if any(d == chunk.doc_id and chunk.first <= b and a <= chunk.last for d, a, b in taken):
            continue
        taken.append((chunk.doc_id, chunk.first, chunk.last))
        doc = index.documents[chunk.doc_id]
        hits.append(
            Hit(
                chunk_id=cid,
                chunk=chunk,
                title=doc.title,
                source=doc.source,
                published=doc.published,
                url=doc.url,
                site=doc.site,
                score=fused.score[cid],
                dense_score=fused.dense_score.get(cid, 0.0),
                dense_rank=fused.dense_rank.get(cid),
                lexical_rank=fused.lexical_rank.get(cid),
            )
        )
        if len(hits) >= top_k:
            break
    return hits


def _prefer_recent(index: Index, fused: dict[int, float]) -> None:
    """Raise each candidate's fused score by its article's freshness (in place)."""
    fresh = freshness(index)
    if not fresh:
        return
    for cid, chunk in index.chunks(fused).items():
        fused[cid] += RECENCY_WEIGHT * fresh.get(chunk.doc_id, 0.0)


class IndexRetriever:
    """The FAISS + SQLite/FTS5 backend as a `qa.retriever.Retriever`: one generation's `Index`
    searched by `retrieve` above, and read as it is by the answer stage."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def retrieve(self, question: Question, vector: np.ndarray, top_k: int, filters: Filters) -> list[Hit]:
        """Hybrid retrieval over the index (`retrieve`)."""
        return retrieve(self.index, question, vector, top_k, filters)

    @property
    def lexicon(self) -> Lexicon:
        """The generation's term statistics."""
        return self.index.lexicon

    @property
    def sentence_vectors(self) -> np.ndarray:
        """The memory-mapped sentence vectors."""
        return self.index.sentence_vectors

    def sentences(self, doc_id: str, first: int, last: int) -> list[tuple[int, Sentence]]:
        """Sentences first..last of a document, from SQLite."""
        return self.index.sentences(doc_id, first, last)

    def derived(self, key: Any, make: Callable[[], T]) -> T:
        """Memoised for this generation."""
        return self.index.derived(key, make)

    def summary(self) -> dict[str, Any]:
        """What the generation holds."""
        return self.index.summary()
