"""Nearest-neighbour search with FAISS for scale.py: exact and approximate indexes, their query
time and recall, and the sweeps that compare them (HNSW efSearch, IVF nprobe, corpus size)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.stats import summary_ms
from bench.synthetic import DIM


def latency(index: Any, queries: np.ndarray, k: int = 10) -> tuple[dict[str, Any], np.ndarray]:
    """summary_ms of searching the queries one at a time, and the ids found."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, found = index.search(q[None, :], k)
        times.append(time.perf_counter() - t0)
        ids[i] = found[0]
    return summary_ms(times), ids


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """The share of the exact top k found, averaged over the queries (k: exact's width)."""
    k = exact.shape[1]
    return round(float(np.mean([len(set(f[:k]) & set(e)) / k for f, e in zip(found, exact, strict=True)])), 4)


def index_bytes(index: Any) -> int:
    """The size of the serialised FAISS index."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def flat(vectors: np.ndarray) -> Any:
    """An exact inner-product index (IndexFlatIP) of the vectors."""
    import faiss

    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    return index


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The ids of each query's k nearest vectors by exact search."""
    return flat(vectors).search(queries, k)[1]


def hnsw(vectors: np.ndarray, m: int, ef_construction: int) -> tuple[Any, float]:
    """An HNSW index of the vectors, and the seconds adding them took."""
    import faiss

    index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t0 = time.perf_counter()
    index.add(vectors)
    return index, time.perf_counter() - t0


def hnsw_params(index: Any) -> dict[str, Any]:
    """M, efConstruction and efSearch of an HNSW index; {} for any other."""
    if hasattr(index, "hnsw"):
        return {
            "M": index.hnsw.nb_neighbors(1),
            "efConstruction": index.hnsw.efConstruction,
            "efSearch": index.hnsw.efSearch,
        }
    return {}


def ef_sweep(index: Any, queries: np.ndarray, exact: np.ndarray) -> list[dict[str, Any]]:
    """Latency and recall@10 of an HNSW index at each efSearch (left as it was afterwards)."""
    out = []
    ef_default = index.hnsw.efSearch
    for ef in (32, 64, 96, 128, 192, 256, 384, 512):
        index.hnsw.efSearch = ef
        lat, ids = latency(index, queries)
        out.append({"efSearch": ef, "latency_ms": lat, "recall_at_10": recall_at(ids, exact)})
    index.hnsw.efSearch = ef_default
    return out


def ivf_sweep(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """IVF<nlist>,Flat trained on a sample: build times, size, and latency and recall at each nprobe."""
    import faiss

    n = len(vectors)
    nlist = 1 << max(6, round(math.log2(4 * math.sqrt(n))))
    print(f"… IVF{nlist},Flat", flush=True)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, min(n, nlist * 30), replace=False)
    t0 = time.perf_counter()
    index.train(vectors[np.sort(sample)])
    trained = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(vectors)
    added = time.perf_counter() - t0
    sweep = []
    for nprobe in (16, 32, 64, 128, 256):
        index.nprobe = nprobe
        lat, ids = latency(index, queries)
        sweep.append({"nprobe": nprobe, "latency_ms": lat, "recall_at_10": recall_at(ids, exact)})
    return {
        "nlist": nlist,
        "train_s": round(trained, 1),
        "add_s": round(added, 1),
        "bytes_per_chunk": round(index_bytes(index) / n),
        "sweep": sweep,
    }


def _hnsw_row(
    sub: np.ndarray, queries: np.ndarray, exact: np.ndarray, params: tuple[int, ...]
) -> dict[str, Any]:
    """HNSW (M, efConstruction, efSearch) of the vectors: latency, build time, recall, size."""
    m, efc, efs = params
    index, built = hnsw(sub, m, efc)
    index.hnsw.efSearch = efs
    lat, ids = latency(index, queries)
    return {
        "hnsw_ms": lat,
        "hnsw_build_s": round(built, 1),
        "hnsw_recall_at_10": recall_at(ids, exact),
        "hnsw_bytes_per_chunk": round(index_bytes(index) / len(sub)),
    }


def growth_sweep(
    vectors: np.ndarray,
    queries: np.ndarray,
    sizes: list[int],
    params: tuple[int, ...],
    full_hnsw: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Flat and HNSW on prefixes of the corpus; full_hnsw: the HNSW figures at full size, if measured."""
    rows = []
    for size in sizes:
        print(f"… growth sweep: {size:,} chunks", flush=True)
        sub = vectors[:size]
        flat_lat, flat_ids = latency(flat(sub), queries)
        row: dict[str, Any] = {"chunks": size, "flat_ms": flat_lat, "flat_bytes_per_chunk": DIM * 4}
        if size == len(vectors) and full_hnsw:
            row.update(full_hnsw)
        else:
            row.update(_hnsw_row(sub, queries, flat_ids, params))
        rows.append(row)
    return rows
