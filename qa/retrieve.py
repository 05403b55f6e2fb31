"""Question (and the turn it leans on) → dense and lexical candidates → reciprocal-rank fusion → Hits."""

from __future__ import annotations

import numpy as np

from qa.index import Index
from qa.question import Question
from qa.records import Chunk, Hit
from qa.text import STOPWORDS, words

RRF_K = 60


def lexical_words(text: str) -> list[str]:
    """Distinct content words for the FTS5 query, in order."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS and len(w) > 1 and w not in seen:
            seen[w] = None
    return list(seen)


def retrieve(
    index: Index,
    question: Question,
    query_vector: np.ndarray,
    top_k: int = 5,
) -> list[Hit]:
    """Fuse dense and BM25 rankings by reciprocal rank; drop chunks overlapping a better one."""
    depth = max(4 * top_k, 20)
    dense = index.search_dense(query_vector, depth)
    lexical = index.search_lexical(lexical_words(question.search), depth)
    fused: dict[int, float] = {}
    dense_rank: dict[int, int] = {}
    dense_score: dict[int, float] = {}
    lexical_rank: dict[int, int] = {}
    for rank, (cid, score) in enumerate(dense, start=1):
        fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        dense_rank[cid] = rank
        dense_score[cid] = score
    for rank, (cid, _) in enumerate(lexical, start=1):
        fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        lexical_rank[cid] = rank
    order = sorted(fused, key=lambda c: -fused[c])
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
                score=fused[cid],
                dense_score=dense_score.get(cid, 0.0),
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
            )
        )
        if len(hits) >= top_k:
            break
    return hits
