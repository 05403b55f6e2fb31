"""Retrieval: exact dense search, hybrid ranking, top_k, de-duplication and RRF fusion."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder

from qa.build import BuildOptions, index_paths
from qa.embed import Embedder
from qa.index import Index, build_faiss
from qa.question import parse
from qa.records import Chunk
from qa.retrieve import RRF_K, lexical_words, retrieve
from qa.text import terms


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ask(index: Index, embedder: Embedder, question: str, top_k: int = 5):
    return retrieve(index, parse(question), embedder.embed_query(question), top_k)


# --- dense search ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 10, 50, 300])
def test_build_faiss_top_k_equals_brute_force(k: int) -> None:
    rng = np.random.default_rng(1234)
    vectors = unit_rows(rng, 300, 32)
    queries = unit_rows(rng, 8, 32)
    index = build_faiss(vectors)
    assert index.ntotal == 300
    scores, ids = index.search(queries, k)
    sims = queries @ vectors.T
    for q in range(len(queries)):
        expected = np.argsort(-sims[q], kind="stable")[:k]
        assert ids[q].tolist() == expected.tolist()
        np.testing.assert_allclose(scores[q], sims[q][expected], rtol=1e-5, atol=1e-5)


def test_index_search_dense_equals_brute_force(sample_index: Path, fake_embedder: Embedder) -> None:
    index = Index(sample_index)
    vectors = np.load(index.path / "chunk_vectors.npy")
    query = fake_embedder.embed_query("Sarandos and Sora deepfakes")
    got = index.search_dense(query, 4)
    sims = vectors @ query
    assert [i for i, _ in got] == np.argsort(-sims, kind="stable")[:4].tolist()
    assert len(index.search_dense(query, 1000)) == index.n_chunks
    assert index.search_dense(query, 0) == []


def test_index_search_lexical_finds_only_matching_chunks(sample_index: Path) -> None:
    index = Index(sample_index)
    found = index.search_lexical(["eternaut"], 10)
    assert len(found) == 1
    (chunk,) = index.chunks([found[0][0]]).values()
    assert "Eternaut" in chunk.text
    assert index.search_lexical([], 10) == []
    assert index.search_lexical(['quote"inside'], 10) == []  # quotes can't break the FTS query


# --- hybrid retrieval -----------------------------------------------------------------------

LEXICAL_QUERIES = [
    ("Eternaut", "Eternaut"),
    ("Bryan Cranston deepfaking", "Cranston"),
    ("Happy Gilmore de-age", "Gilmore"),
    ("quarterly revenue billion", "$11.5 billion"),
]


@pytest.mark.parametrize(("question", "expected"), LEXICAL_QUERIES)
def test_retrieve_lexical_query_ranks_matching_chunk_first(
    sample_index: Path, fake_embedder: Embedder, question: str, expected: str
) -> None:
    hits = ask(Index(sample_index), fake_embedder, question)
    assert expected in hits[0].chunk.text
    assert hits[0].lexical_rank == 1


def test_retrieve_lexical_match_survives_an_unhelpful_dense_vector(sample_index: Path) -> None:
    index = Index(sample_index)
    misleading = Embedder(FakeEncoder()).embed_query("financial performance quarterly revenue forecast")
    hits = retrieve(index, parse("Eternaut"), misleading, 5)
    assert any("Eternaut" in h.chunk.text and h.lexical_rank == 1 for h in hits)


def test_retrieve_hits_carry_title_source_and_ranks(sample_index: Path, fake_embedder: Embedder) -> None:
    index = Index(sample_index)
    (info,) = index.documents.values()
    for h in ask(index, fake_embedder, "What did Sarandos say about Sora?"):
        assert (h.title, h.source) == (info.title, info.source)
        assert h.dense_rank is not None or h.lexical_rank is not None
        assert index.document_text(h.chunk.doc_id)[h.chunk.start : h.chunk.end] == h.chunk.text


@pytest.mark.parametrize("top_k", [1, 2, 3, 5, 8, 50])
def test_retrieve_respects_top_k(sample_index: Path, fake_embedder: Embedder, top_k: int) -> None:
    index = Index(sample_index)
    hits = ask(index, fake_embedder, "Netflix generative AI", top_k)
    assert len(hits) == min(top_k, index.n_chunks)  # the sample's 256-token chunks don't overlap
    assert len({h.chunk_id for h in hits}) == len(hits)


ANIMALS = ["otter", "badger", "falcon", "walrus", "heron", "lynx", "marmot", "ibis", "okapi", "tapir"]


@pytest.fixture
def overlapping_index(tmp_path: Path, fake_embedder: Embedder) -> Index:
    """One long paragraph indexed with small chunks, so it is split into overlapping chunks."""
    paragraph = " ".join(f"The {a} was seen near the old river bridge today." for a in ANIMALS)
    (tmp_path / "zoo.txt").write_text(f"Zoo Report\n{paragraph}\n")
    index_paths([tmp_path / "zoo.txt"], fake_embedder, tmp_path / "small", BuildOptions(chunk_tokens=60))
    return Index(tmp_path / "small")


def test_retrieve_drops_chunks_overlapping_a_better_one(
    overlapping_index: Index, fake_embedder: Embedder
) -> None:
    index = overlapping_index
    chunks = index.chunks(range(index.n_chunks))
    pairs = [(a, b) for a, b in itertools.pairwise(chunks.values()) if b.first == a.last]
    assert pairs, "the fixture must contain overlapping chunks"
    shared = pairs[0][0].last
    (_, sentence), *_ = index.sentences(pairs[0][0].doc_id, shared, shared)
    question = sentence.text
    holders = {cid for cid, c in chunks.items() if c.first <= shared <= c.last}
    candidates = {cid for cid, _ in index.search_lexical(lexical_words(question), 40)}
    assert len(holders & candidates) >= 2, "both overlapping chunks are candidates"

    hits = ask(index, fake_embedder, question, top_k=10)
    assert len([h for h in hits if h.chunk_id in holders]) == 1
    for i, a in enumerate(hits):
        for b in hits[i + 1 :]:
            assert a.chunk.last < b.chunk.first or b.chunk.last < a.chunk.first


def test_retrieve_scores_are_reciprocal_rank_fusion(sample_index: Path, fake_embedder: Embedder) -> None:
    index = Index(sample_index)
    question = "What did Sarandos say about Sora?"
    hits = ask(index, fake_embedder, question)
    depth = 20
    dense = [cid for cid, _ in index.search_dense(fake_embedder.embed_query(question), depth)]
    lexical = [cid for cid, _ in index.search_lexical(lexical_words(question), depth)]
    for h in hits:
        expected = 0.0
        if h.chunk_id in dense:
            assert h.dense_rank == dense.index(h.chunk_id) + 1
            expected += 1 / (RRF_K + h.dense_rank)
        if h.chunk_id in lexical:
            assert h.lexical_rank == lexical.index(h.chunk_id) + 1
            expected += 1 / (RRF_K + h.lexical_rank)
        assert h.score == pytest.approx(expected)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# --- fusion order on a stub index -----------------------------------------------------------


@dataclass
class _Doc:
    title: str = "Stub"
    source: str = "mem://stub"
    published: str | None = None
    url: str | None = None
    site: str | None = None


@dataclass
class StubIndex:
    """Just what retrieve() reads: two ranked lists, chunk lookup and document metadata."""

    dense: list[tuple[int, float]]
    lexical: list[tuple[int, float]]
    documents: dict[str, _Doc] = field(default_factory=lambda: {"d": _Doc()})

    def search_dense(self, query: np.ndarray, k: int, among: object = None) -> list[tuple[int, float]]:
        return self.dense[:k]

    def search_lexical(self, words: list[str], k: int, among: object = None) -> list[tuple[int, float]]:
        return self.lexical[:k]

    def chunks(self, ids) -> dict[int, Chunk]:
        # Chunk n covers sentence n only, so nothing overlaps.
        return {i: Chunk("d", i, i * 10, i * 10 + 5, f"chunk {i}", i, i) for i in ids}


def test_rrf_chunk_in_both_lists_beats_chunk_in_one() -> None:
    stub = StubIndex(dense=[(1, 0.9), (2, 0.8), (3, 0.7)], lexical=[(3, 9.0), (1, 8.0), (4, 7.0)])
    hits = retrieve(stub, parse("some words"), np.zeros(4, np.float32), top_k=10)  # type: ignore[arg-type]
    # 1: 1/61+1/62, 3: 1/63+1/61, 2: 1/62, 4: 1/63
    assert [h.chunk_id for h in hits] == [1, 3, 2, 4]
    assert [(h.dense_rank, h.lexical_rank) for h in hits] == [(1, 2), (3, 1), (2, None), (None, 3)]
    assert hits[0].score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert hits[0].dense_score == pytest.approx(0.9)
    assert hits[3].dense_score == 0.0


def test_rrf_empty_lexical_keeps_dense_order() -> None:
    stub = StubIndex(dense=[(5, 0.5), (2, 0.4), (7, 0.3)], lexical=[])
    hits = retrieve(stub, parse("q"), np.zeros(4, np.float32), top_k=2)  # type: ignore[arg-type]
    assert [h.chunk_id for h in hits] == [5, 2]


def test_lexical_words_drop_stopwords_and_repeats() -> None:
    assert lexical_words("What did the CEO say about the CEO's AI plans?") == ["ceo", "ceo's", "ai", "plans"]
    assert terms("plans") == ["plan"]


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("What did Sarandos say about Sora?", []),
        ("What did Sarnados say about Sora?", []),  # two letters swapped
        ("What did Sarandso say about Sora?", []),
        ("What did Saranddos say about Sora?", []),  # a letter added
        ("What did Zuckerberg say about Sora?", ["Zuckerberg"]),
        ("What did Disney's CEO say about generative AI?", ["Disney's"]),
        ("What did Parandos say about Sora?", ["Parandos"]),  # the first letters must match
    ],
)
def test_unknown_names_forgive_typos_but_not_other_names(
    sample_index: Path, question: str, unknown: list[str]
) -> None:
    from qa.answer.abstain import unknown_names

    assert unknown_names(Index(sample_index), question) == unknown
