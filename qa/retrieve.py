"""Question (+ history) → dense and lexical candidates → reciprocal-rank fusion → Hits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.store import Index
from qa.text import STOPWORDS, terms, words
from qa.types import Chunk, Hit, Turn

RRF_K = 60
# Words that make a question lean on what was said before it.
_ANAPHORA = frozenset(
    {"he", "she", "it", "they", "them", "his", "her", "its", "their", "theirs", "this", "that",
     "these", "those", "there", "him"}
)  # fmt: skip
_DEFINITE = re.compile(
    r"\bthe (film|show|series|company|movie|article|story|book|team|group|firm|deal)\b", re.I
)
_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|why|and why)\b", re.I)


@dataclass(frozen=True)
class Query:
    """What retrieval searches with: the question, plus earlier context when it leans on it."""

    question: str
    text: str
    context: str = ""


def contextualise(question: str, history: Sequence[Turn] = ()) -> Query:
    """Carry the previous user turn's subject into a question that leans on earlier turns."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), "")
    if not previous or not leans_on_history(question):
        return Query(question, question)
    return Query(question, f"{question} {previous}", previous)


def leans_on_history(question: str) -> bool:
    """Pronouns, a leading 'and…', 'the film' without a name, or too few words to stand alone."""
    ws = words(question)
    if _FOLLOW_UP_START.match(question) or _ANAPHORA.intersection(ws):
        return True
    content = [w for w in ws if w not in STOPWORDS]
    named = any(w[:1].isupper() for w in question.split()[1:])
    # A question that names something stands alone; a short or "the film" one leans back.
    return not named and (len(content) <= 2 or _DEFINITE.search(question) is not None)


def lexical_words(text: str) -> list[str]:
    """Distinct content words for the FTS5 query, in order."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS and len(w) > 1 and w not in seen:
            seen[w] = None
    return list(seen)


def retrieve(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    top_k: int = 5,
) -> list[Hit]:
    """Fuse dense and BM25 rankings by reciprocal rank; drop chunks overlapping a better one."""
    depth = max(4 * top_k, 20)
    dense = index.search_dense(query_vector, depth)
    lexical = index.search_lexical(lexical_words(query.text), depth)
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
                score=fused[cid],
                dense_score=dense_score.get(cid, 0.0),
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
            )
        )
        if len(hits) >= top_k:
            break
    return hits


def question_terms(text: str) -> list[str]:
    """Stemmed content terms of a question, de-duplicated, order kept."""
    return list(dict.fromkeys(terms(text)))
