"""The compressed tier of the dense index (IVF-PQ with an exact re-rank), on a small synthetic set
with PQ_THRESHOLD lowered: recall against exact search, a written index that opens and answers, and
blocks added apart and merged (as on a Ray cluster) giving the index of one add."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

import qa.index.write
from qa.index import Index, Prepared, build_faiss, write_generation
from qa.index.write import build_ivfpq, ivfpq_sample, merge_ivfpq, train_ivfpq
from qa.ingest import make_document
from qa.question import parse
from qa.records import Chunk
from qa.retrieve import retrieve

DIM = 64
N = 4_000


def clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Normalised vectors around 200 centres, like chunks of documents on a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dim))
    x = centres[rng.integers(0, 200, n)] + 0.8 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]))


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(qa.index.write, "PQ_THRESHOLD", 1_000)
    # One thread: k-means' threads wait for each other by spinning, which takes 100x longer
    # on a machine whose cores other processes are using (the tests' usual machine).
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def test_tiers_by_size(low_threshold: None) -> None:
    assert qa.index.write.index_type(999) == "flat"
    assert qa.index.write.index_type(1_000) == "ivfpq"
    shape = qa.index.write.ivfpq_shape
    assert shape(2_000_000, 384) == (4096, 48, 512)
    assert shape(10_000_000, 384) == (16384, 48, 2048)
    assert shape(N, 64)[1] == 8  # parts of at least 8 dimensions that split the vector evenly
    assert shape(N, 1024)[1] == 32


def near(vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Questions: n of the vectors plus noise (cosine ≈ 0.7 with the one they were made from)."""
    rng = np.random.default_rng(seed)
    x = vectors[rng.integers(0, len(vectors), n)] + 0.12 * rng.standard_normal((n, vectors.shape[1]))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivfpq_finds_the_exact_neighbours_once_reranked(low_threshold: None) -> None:
    vectors = clustered(N)
    queries = near(vectors, 50, seed=1)
    index = build_faiss(vectors)
    ivf = faiss.extract_index_ivf(index)
    assert (ivf.nlist, ivf.nprobe, index.ntotal) == (256, 32, N)
    exact = exact_top(vectors, queries)
    _, candidates = index.search(queries, qa.index.write.RERANK_DEPTH)
    reranked = [
        [int(c) for c in row[np.argsort(-(vectors[row] @ q))][:10]]
        for row, q in zip(candidates, queries, strict=True)
    ]
    assert recall(reranked, exact) >= 0.9
    # The codes alone are approximate: the re-rank is what brings recall up.
    _, raw = index.search(queries, 10)
    assert recall(raw.tolist(), exact) <= recall(reranked, exact)


def prepared(vectors: np.ndarray) -> list[Prepared]:
    """Documents of ten chunks each, chunk i's text naming word w<i>, with the given vectors."""
    empty = np.zeros((0, DIM), dtype=np.float32)
    out = []
    for d in range(len(vectors) // 10):
        texts = [f"Chunk w{d * 10 + i} of story {d}." for i in range(10)]
        doc = make_document(f"synthetic:{d}", f"Story {d}", "\n\n".join(texts))
        chunks, pos = [], 0
        for i, t in enumerate(texts):
            start = doc.text.index(t, pos)
            chunks.append(Chunk(doc.doc_id, i, start, start + len(t), t, 0, 0, None))
            pos = start + len(t)
        out.append(Prepared(doc, [], chunks, vectors[d * 10 : (d + 1) * 10], empty))
    return out


def test_a_written_ivfpq_index_opens_and_answers(low_threshold: None, tmp_path: Path) -> None:
    vectors = clustered(N)
    write_generation(tmp_path / "index", prepared(vectors), "synthetic", {}, DIM)
    index = Index.open(tmp_path / "index")
    assert index.manifest.index_type == "ivfpq"
    assert faiss.extract_index_ivf(index.dense).nprobe == 32  # stored in the index file
    queries = near(vectors, 30, seed=2)
    found = [[c for c, _ in index.search_dense(q, 10)] for q in queries]
    assert recall(found, exact_top(vectors, queries)) >= 0.9
    scores = [s for _, s in index.search_dense(queries[0], 10)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(float(np.max(vectors @ queries[0])), abs=1e-5)  # exact scores
    hits = retrieve(index, parse("What about w1234?"), vectors[1234], 5)
    assert hits[0].chunk_id == 1234 and hits[0].chunk.text == "Chunk w1234 of story 123."


def test_blocks_added_apart_and_merged_in_order_make_the_index_of_one_add(low_threshold: None) -> None:
    # What the Ray build does (qa/distributed/driver.py): train once, add each block to its own copy
    # of the trained index (in a task of its own), merge the copies in row order.
    vectors = clustered(N)
    n, dim = vectors.shape
    trained = faiss.serialize_index(train_ivfpq(vectors[ivfpq_sample(n, dim)], n))
    merged = faiss.deserialize_index(trained)
    for start in range(0, n, 700):  # uneven blocks, the last one short
        part = faiss.deserialize_index(trained)
        part.add(vectors[start : start + 700])
        merge_ivfpq(merged, faiss.deserialize_index(faiss.serialize_index(part)), start)
    whole = build_ivfpq(vectors)
    assert merged.ntotal == whole.ntotal == n
    assert np.array_equal(faiss.serialize_index(merged), faiss.serialize_index(whole))  # the same file
    queries = near(vectors, 20, seed=3)
    for got, want in zip(merged.search(queries, 50), whole.search(queries, 50), strict=True):
        assert np.array_equal(got, want)
