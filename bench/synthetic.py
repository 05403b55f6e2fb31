"""scale.py's synthetic corpus: seeded vectors and texts shaped like the model's and the news'.

Vectors are mean + topic + document + chunk parts: chunks come in documents of CHUNKS_PER_DOC,
documents in topics of DOCS_PER_TOPIC; the covariance spectrum and the mean direction are fitted
to real all-MiniLM-L6-v2 vectors (see Generator). Texts are Zipf-distributed words of a generated
vocabulary plus each document's own topic words. bench/scale.py's docstring has the figures.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

DIM = 384
CHUNKS_PER_DOC = 10
WORDS_PER_CHUNK = 100
VOCAB = 50_000
TOPIC_WORDS = 8
# Vectors are mean + topic + document + chunk parts (the last three of variance 0.5, 0.5 and 1):
# cosine ≈ 0.54 within a document, ≈ 0.3 between documents of a topic, ≈ 0.08 otherwise.
DOCS_PER_TOPIC = 100
TOPIC_WEIGHT = math.sqrt(0.5)
DOC_WEIGHT = math.sqrt(0.5)
QUERY_NOISE = 1.5


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Generator:
    """Seeded vectors and texts with the structure described in the module docstring."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        rng = np.random.default_rng(seed + 1)
        # Variance falls off as a power of the axis, i^-0.85, and all vectors share a mean
        # direction: both as measured on all-MiniLM-L6-v2 vectors of the SQuAD slice's sentences
        # and questions (participation ratio ≈ 52, mean vector norm ≈ 0.29, sentence pairs' cosine
        # 0.06 ± 0.14). The spread of the spectrum decides how hard approximate search is.
        spectrum = (1.0 + np.arange(DIM)) ** -0.425
        self.scale = (spectrum / np.sqrt((spectrum**2).sum())).astype(np.float32)
        self.rotation = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].astype(np.float32)
        mean = rng.standard_normal(DIM).astype(np.float32)
        self.mean = 0.42 * mean / np.linalg.norm(mean)
        self.vocab = _vocabulary(VOCAB, rng)
        self.rank = {w: i for i, w in enumerate(self.vocab)}
        ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
        p = ranks**-1.07
        self.cdf = np.cumsum(p / p.sum())

    def _gauss(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, DIM)).astype(np.float32) * self.scale
        return z @ self.rotation.T

    def centres(self, docs: int, seed: int) -> np.ndarray:
        """Document centres: the shared mean + their topic's centre + the document's own offset."""
        # One topic per DOCS_PER_TOPIC documents.
        rng = np.random.default_rng(seed)
        topics = self._gauss(rng, math.ceil(docs / DOCS_PER_TOPIC))
        topic_of = rng.integers(0, len(topics), docs)
        return self.mean + TOPIC_WEIGHT * topics[topic_of] + DOC_WEIGHT * self._gauss(rng, docs)

    def chunk_vectors(self, centres: np.ndarray, first_doc: int, seed: int) -> np.ndarray:
        """CHUNKS_PER_DOC normalised vectors around each document centre."""
        rng = np.random.default_rng(seed)
        c = np.repeat(centres[first_doc : first_doc + len(centres)], CHUNKS_PER_DOC, axis=0)
        return _normalised(c + self._gauss(rng, len(c)))

    def query_vectors(self, vectors: np.ndarray, chunk_ids: np.ndarray, seed: int) -> np.ndarray:
        """A question about each chunk: its vector plus noise (cosine ≈ 0.55 with it, ≈ 0.3 its document)."""
        # Like questions and the SQuAD slice's chunks.
        rng = np.random.default_rng(seed)
        return _normalised(vectors[chunk_ids] + QUERY_NOISE * self._gauss(rng, len(chunk_ids)))

    def topics(self, doc: int) -> np.ndarray:
        """The topic words (vocabulary ranks 300-20,000) of a document, from its number alone."""
        return np.random.default_rng(10_000_019 + doc).integers(300, 20_000, TOPIC_WORDS)

    def chunk_texts(self, doc: int, rng: np.random.Generator) -> list[str]:
        """A document's chunk texts: Zipf-distributed words, 8 % of them the document's topic words."""
        n = CHUNKS_PER_DOC * WORDS_PER_CHUNK
        ids = np.searchsorted(self.cdf, rng.random(n))
        topical = rng.random(n) < 0.08
        ids[topical] = rng.choice(self.topics(doc), int(topical.sum()))
        rows = ids.reshape(CHUNKS_PER_DOC, WORDS_PER_CHUNK)
        return [" ".join(operator.itemgetter(*row.tolist())(self.vocab)).capitalize() + "." for row in rows]

    def query_text(self, doc: int, chunk_text: str, rng: np.random.Generator) -> str:
        """A question naming two topic words of the document and one rarer word of the chunk."""
        t = [self.vocab[int(i)] for i in rng.choice(self.topics(doc), 2, replace=False)]
        rare = [w for w in chunk_text.rstrip(".").lower().split() if self.rank[w] >= 300]
        extra = rare[int(rng.integers(0, len(rare)))] if rare else t[0]
        return f"What happened with {t[0]} and {t[1]} in {extra}?"


def _vocabulary(n: int, rng: np.random.Generator) -> list[str]:
    """n distinct pronounceable words (consonant-vowel syllables), shorter ones more frequent."""
    consonants = list("bcdfghjklmnprstvz")
    vowels = list("aeiou")
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        syllables = 1 + min(4, int(rng.exponential(1.0)) + (1 if len(out) > 300 else 0))
        w = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        if rng.random() < 0.3:
            w += rng.choice(consonants)
        if w not in seen and len(w) > 2:
            seen.add(w)
            out.append(w)
    return out


def _vectors(gen: Generator, docs: int, seed: int) -> np.ndarray:
    """All chunk vectors of `docs` documents, made in blocks of 10,000 documents."""
    centres = gen.centres(docs, seed + 2)
    vectors = np.empty((docs * CHUNKS_PER_DOC, DIM), dtype=np.float32)
    block = 10_000
    for b in range(0, docs, block):
        part = gen.chunk_vectors(centres[b : b + block], 0, seed + 3 + b)
        vectors[b * CHUNKS_PER_DOC : b * CHUNKS_PER_DOC + len(part)] = part
    return vectors


def make_prepared(gen: Generator, n_chunks: int, seed: int = 0) -> tuple[list[Any], np.ndarray]:
    """Prepared documents for qa.index.write_generation, and all chunk vectors."""
    from qa.index import Prepared
    from qa.ingest import make_document
    from qa.records import Chunk

    docs = math.ceil(n_chunks / CHUNKS_PER_DOC)
    vectors = _vectors(gen, docs, seed)
    rng = np.random.default_rng(seed + 4)
    empty = np.zeros((0, DIM), dtype=np.float32)
    prepared = []
    for d in range(docs):
        texts = gen.chunk_texts(d, rng)
        topic = [gen.vocab[int(i)] for i in gen.topics(d)[:2]]
        doc = make_document(f"synthetic:{d}", f"{topic[0].capitalize()} and {topic[1]}", "\n\n".join(texts))
        chunks, pos = [], 0
        for i, t in enumerate(texts):
            start = doc.text.index(t, pos)
            chunks.append(Chunk(doc.doc_id, i, start, start + len(t), t, 0, 0, None))
            pos = start + len(t)
        v = vectors[d * CHUNKS_PER_DOC : (d + 1) * CHUNKS_PER_DOC]
        prepared.append(Prepared(doc, [], chunks, v, empty))
    extra = docs * CHUNKS_PER_DOC - n_chunks
    if extra:  # the last document is cut so that the corpus has exactly n_chunks
        last = prepared[-1]
        keep = CHUNKS_PER_DOC - extra
        prepared[-1] = Prepared(last.document, [], last.chunks[:keep], last.chunk_vectors[:keep], empty)
        vectors = vectors[:n_chunks]
    return prepared, vectors


def make_queries(
    gen: Generator, prepared: list[Any], vectors: np.ndarray, n: int
) -> tuple[np.ndarray, list[str]]:
    """n questions about random chunks (seeded): their vectors and their texts."""
    chunk_ids = np.random.default_rng(7).integers(0, len(vectors), n)
    queries = gen.query_vectors(vectors, chunk_ids, 8)
    rng = np.random.default_rng(9)
    texts = []
    for c in chunk_ids:
        doc, i = divmod(int(c), CHUNKS_PER_DOC)
        texts.append(gen.query_text(doc, prepared[doc].chunks[i].text, rng))
    return queries, texts


def data_stats(
    vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, texts: list[str], prepared: list[Any]
) -> dict[str, Any]:
    """Cosines between chunks, within documents and of questions to their nearest chunks; examples."""
    m = min(len(vectors), 2000)
    sims = vectors[:m] @ vectors[:m].T
    within = [vectors[i] @ vectors[i + 1] for i in range(0, m - 1, 10)]
    return {
        "mean_cosine_between_chunks": round(float(sims[np.triu_indices(len(sims), 1)].mean()), 3),
        "mean_cosine_within_document": round(float(np.mean(within)), 3),
        "query_top1_cosine": round(
            float(np.mean([q @ vectors[e[0]] for q, e in zip(queries, exact, strict=True)])), 3
        ),
        "query_top10_cosine": round(
            float(np.mean([q @ vectors[e[9]] for q, e in zip(queries, exact, strict=True)])), 3
        ),
        "query_example": texts[0],
        "chunk_example": prepared[0].chunks[0].text[:160] + "…",
    }
