"""scale_pq.py's measurements: the compressed index's nprobe and re-rank sweep, other compressed
layouts on a prefix of the corpus, FTS5 alone at growing sizes, and the projection to 10M and 100M."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from bench.ann import index_bytes, recall_at
from bench.stats import percentile, summary_ms, timed_calls

RERANKS = (50, 100, 200, 400)


def reranked_search(dense: Any, vectors: np.ndarray, q: np.ndarray, depth: int, k: int = 10) -> np.ndarray:
    """What Index.search_dense does for an IVF-PQ index: `depth` candidates, re-ranked exactly."""
    _, found = dense.search(q[None, :], max(depth, k))
    ids = np.sort(found[0][found[0] >= 0])
    top = ids[np.argsort(-(vectors[ids] @ q), kind="stable")[:k]]
    return np.pad(top, (0, k - len(top)), constant_values=-1)


def rerank_sweep(
    dense: Any, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, nprobes: list[int]
) -> list[dict[str, Any]]:
    """Latency and recall@10 at each nprobe and re-rank depth (nprobe left as it was afterwards)."""
    import faiss

    ivf = faiss.extract_index_ivf(dense)
    stored = ivf.nprobe
    rows = []
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        for depth in RERANKS:
            times, found = [], []
            for q in queries:
                t0 = time.perf_counter()
                found.append(reranked_search(dense, vectors, q, depth))
                times.append(time.perf_counter() - t0)
            row = {"nprobe": nprobe, "rerank": depth, "latency_ms": summary_ms(times)}
            rows.append({**row, "recall_at_10": recall_at(np.array(found), exact)})
    ivf.nprobe = stored
    return rows


def _variant(spec: str, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    """One compressed layout of the vectors: build time, size, and recall@10 / p50 with a 200 re-rank."""
    import faiss

    index: Any = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    ivf: Any
    try:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        if hasattr(ivf, "do_polysemous_training"):
            ivf.do_polysemous_training = False
        lists = ivf.nlist
    except RuntimeError:  # not an IVF index (HNSW over PQ)
        ivf, lists = None, 0
    sample = np.sort(np.random.default_rng(0).choice(len(vectors), min(len(vectors), 262_144), replace=False))
    t0 = time.perf_counter()
    index.train(vectors[sample])
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(vectors)
    out = {"spec": spec, "train_s": round(train_s, 1), "add_s": round(time.perf_counter() - t0, 1)}
    out["bytes_per_chunk"] = round(index_bytes(index) / len(vectors), 1)
    settings = [("nprobe", p, ivf) for p in (lists // 16, lists // 8)] if ivf else []
    hnsw: Any = faiss.downcast_index(index)
    settings = settings or [("efSearch", e, hnsw.hnsw) for e in (256, 512)]
    for name, value, target in settings:
        setattr(target, name, value)
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            found.append(reranked_search(index, vectors, q, 200))
            times.append(time.perf_counter() - t0)
        out[f"{name}={value}"] = {
            "recall_at_10": recall_at(np.array(found), exact),
            "latency_ms": summary_ms(times),
        }
    return out


def variants(vectors: np.ndarray, queries: np.ndarray, specs: list[str]) -> list[dict[str, Any]]:
    """Compressed layouts side by side on the same vectors, each re-ranking 200 candidates."""
    from bench.ann import exact_top

    exact = exact_top(vectors, queries)
    rows = []
    for spec in specs:
        print(f"… variant {spec} on {len(vectors):,} vectors", flush=True)
        rows.append(_variant(spec, vectors, queries, exact))
    return rows


def fts_only(path: Path, prepared: list[Any]) -> None:
    """The product's FTS5 table (qa.index.rows.SCHEMA) holding the chunks of `prepared`, alone."""
    from qa.index.rows import SCHEMA

    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        rows = (
            (c.text, p.document.title, c.section or "") for p in prepared for c in p.chunks
        )  # the columns write_generation fills
        db.executemany("INSERT INTO chunks_fts(text, title, section) VALUES (?,?,?)", rows)
        db.commit()
    finally:
        db.close()


def lexical_at(path: Path, words: list[list[str]], k: int) -> dict[str, Any]:
    """Index.search_lexical itself (it reads only `db`) on an FTS5-only database: times and matches."""
    from qa.index import Index

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    stub = cast(Index, SimpleNamespace(db=db))
    # The first 10 warm the page cache, as a serving process would be.
    latency = timed_calls(lambda i: Index.search_lexical(stub, words[i], k), len(words), warmup=10)
    query = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
    matches = [db.execute(query, (" OR ".join(f'"{x}"' for x in w),)).fetchone()[0] for w in words[:50] if w]
    db.close()
    return {"latency_ms": latency, "matches_p50": float(percentile(matches, 50))}


def lexical_growth(
    work: Path, prepared: list[Any], sizes: list[int], texts: list[str], k: int
) -> list[dict[str, Any]]:
    """FTS5 BM25 latency on the first `size` chunks of the corpus, for each size."""
    from qa.retrieve import lexical_words

    words = [lexical_words(t) for t in texts]
    rows = []
    for size in sizes:
        docs = [p for p in prepared[: -(-size // 10)]]
        print(f"… FTS5 alone at {size:,} chunks", flush=True)
        path = work / f"fts-{size}.sqlite"
        t0 = time.perf_counter()
        fts_only(path, docs)
        built = time.perf_counter() - t0
        rows.append(
            {
                "chunks": size,
                "write_s": round(built, 1),
                "bytes": path.stat().st_size,
                **lexical_at(path, words, k),
            }
        )
        path.unlink()
    return rows


def projection(n: int, measured: dict[str, Any], disk_per_chunk: int) -> dict[str, Any]:
    """Memory and disk at 10M and 100M chunks from the per-chunk figures measured at n."""
    from qa.index.write import ivfpq_shape

    dim = 384
    lists, code, _ = ivfpq_shape(n, dim)
    fixed = lists * dim * 4  # the coarse centroids, kept in memory by the index
    per_chunk = (measured["memory_per_chunk_bytes"] * n - fixed) / n
    out: dict[str, Any] = {
        "formula": "RAM = n x per_chunk + lists(n) x 384 x 4; lists(n) = 2^round(log2(4 sqrt n))",
        "per_chunk_bytes": round(per_chunk, 1),
        "code_and_id_bytes": code + 8,
        "disk_per_chunk_bytes": disk_per_chunk,
    }
    for target in (10_000_000, 100_000_000):
        t_lists = ivfpq_shape(target, dim)[0]
        out[str(target)] = {
            "lists": t_lists,
            "ram_gb": round((target * per_chunk + t_lists * dim * 4) / 1e9, 2),
            "disk_gb": round(target * disk_per_chunk / 1e9, 1),
        }
    return out
