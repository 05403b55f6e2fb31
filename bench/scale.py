"""A corpus of a million chunks: build time, memory per chunk, query time and recall.

Synthetic data, seeded:
- vectors: 384-d, normalised, shaped like the model's: chunks come in documents of 10, documents
  in topics of 100; cosine ≈ 0.54 within a document (0.51 measured on the SQuAD slice), ≈ 0.3
  within a topic, ≈ 0.08 otherwise; the covariance spectrum and mean direction are fitted to
  real all-MiniLM-L6-v2 vectors (see Generator); a query is a random chunk's vector plus noise
  (top-1 cosine ≈ 0.55, top-10 ≈ 0.3; 0.50 and 0.32 for SQuAD questions);
- text: 100 words a chunk from a 50,000-word vocabulary with Zipf frequencies, plus each document's
  own topic words; a query names two topic words of its document and one other word of one of its chunks
  (titles are two topic words).

The index is written by qa.index.write_generation (SQLite + FTS5 the way the product writes it,
and the FAISS index type it picks by size), loaded by qa.index.Index in a fresh process (memory
per chunk from VmRSS), and asked through Index.search_dense, Index.search_lexical and
qa.retrieve.retrieve. Recall@10 is against exact search (IndexFlatIP) on the same vectors.
Alternatives measured on the same vectors: HNSW efSearch and IVF nprobe sweeps; flat and HNSW
at growing sizes show how query time grows with the corpus.

    .venv/bin/python bench/scale.py               # 100,000 chunks (a few minutes)
    .venv/bin/python bench/scale.py --full        # 1,000,000 chunks (about 10-15 minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ann import ef_sweep, exact_top, growth_sweep, hnsw_params, index_bytes, ivf_sweep, recall_at
from bench.child import run_child
from bench.machine import background_load, rss_mib
from bench.paths import PY, tmpdir
from bench.results import finish, table
from bench.stats import percentile, timed_calls
from bench.synthetic import DIM, Generator, data_stats, make_prepared, make_queries

# ---------------------------------------------------------------- the query child


def lexical_matches(index: Any, words: list[list[str]]) -> list[int]:
    """How many chunks each lexical query matches: the rows BM25 scores before taking the top k."""
    return [
        index.db.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
            (" OR ".join('"' + x.replace('"', "") + '"' for x in w),),
        ).fetchone()[0]
        for w in words
        if w
    ]


def search_times(index: Any, queries: np.ndarray, texts: list[str], k: int, top_k: int) -> dict[str, Any]:
    """summary_ms of Index.search_dense, Index.search_lexical and retrieve over the questions."""
    from qa.question import parse
    from qa.retrieve import lexical_words, retrieve

    words = [lexical_words(t) for t in texts]
    n = len(queries)
    return {
        "dense_ms": timed_calls(lambda i: index.search_dense(queries[i], k), n),
        "lexical_ms": timed_calls(lambda i: index.search_lexical(words[i], k), n),
        "retrieve_ms": timed_calls(lambda i: retrieve(index, parse(texts[i]), queries[i], top_k), n),
        "lexical_matches": lexical_matches(index, words[:50]),
    }


def child_query(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: load the written index (time, memory), then ask it dense, lexical and both."""
    import faiss

    from qa.config import Settings
    from qa.index import Index

    work = Path(args.work)
    queries = np.load(work / "queries.npy")
    texts = json.loads((work / "queries.json").read_text())
    before = rss_mib(os.getpid())["rss_mib"] or 0.0
    t0 = time.perf_counter()
    index = Index(Path(args.index_dir))
    load_s = time.perf_counter() - t0
    after = rss_mib(os.getpid())["rss_mib"] or 0.0
    n = index.n_chunks
    top_k = Settings.from_env(env={}).top_k
    k = max(4 * top_k, 20)  # what retrieve() asks each side for
    times = search_times(index, queries, texts, k, top_k)
    matches = times.pop("lexical_matches")
    found = [[c for c, _ in index.search_dense(q, 10)] for q in queries]
    hnsw = hasattr(index.dense, "hnsw")
    return {
        "chunks": n,
        "k": k,
        "top_k": top_k,
        "faiss_index": type(index.dense).__name__,
        "faiss_params": hnsw_params(index.dense),
        "load_s": round(load_s, 2),
        "rss_before_load_mib": before,
        "rss_after_load_mib": after,
        "memory_per_chunk_bytes": round((after - before) * 1024 * 1024 / n),
        "faiss_bytes_per_chunk": round(index_bytes(index.dense) / n),
        **times,
        "lexical_matches_per_query_p50": float(percentile(matches, 50)) if matches else 0.0,
        "found_top10": [(f + [-1] * 10)[:10] for f in found],
        "hnsw_ef_sweep": ef_sweep(index.dense, queries, np.load(work / "exact.npy")) if hnsw else [],
        "faiss_threads": faiss.omp_get_max_threads(),
    }


# ---------------------------------------------------------------- parent


def write_product(index_dir: Path, prepared: list[Any], n: int) -> dict[str, Any]:
    """qa.index.write_generation as the product writes an index, with the FAISS part timed apart."""
    import qa.index.write as store
    from qa.index import current_generation

    faiss_time = {}
    original = store.build_faiss

    def timed_build(vectors: np.ndarray) -> Any:
        t = time.perf_counter()
        out = original(vectors)
        faiss_time["s"] = time.perf_counter() - t
        return out

    store.build_faiss = timed_build
    print(f"… write_generation ({store.index_type(n)})", flush=True)
    t0 = time.perf_counter()
    try:
        store.write_generation(index_dir, prepared, "synthetic", {}, DIM)
    finally:
        store.build_faiss = original
    total = time.perf_counter() - t0
    gen_dir = current_generation(index_dir)
    assert gen_dir is not None
    files = {f.name: f.stat().st_size for f in gen_dir.iterdir()}
    return {
        "write_generation_s": round(total, 1),
        "faiss_s": round(faiss_time["s"], 1),
        "sqlite_npy_fsync_s": round(total - faiss_time["s"], 1),
        "ms_per_1000_chunks": round(total / n * 1e6, 1),
        "files_bytes": files,
        "disk_bytes_per_chunk": round(sum(files.values()) / n),
        "hnsw_threshold": store.HNSW_THRESHOLD,
        "pq_threshold": store.PQ_THRESHOLD,
    }


def query_product(
    work: Path, index_dir: Path, exact: np.ndarray, script: str = __file__, timeout: float = 3600
) -> dict[str, Any]:
    """`script --child`'s figures (child_query's, or more), with recall@10 against exact search."""
    print("… querying the written index in a fresh process", flush=True)
    q = run_child([PY, script, "--child", "--work", str(work), "--index-dir", str(index_dir)], timeout)
    q["recall_at_10"] = recall_at(np.array(q.pop("found_top10")), exact)
    return q


def sweeps(
    args: argparse.Namespace,
    vectors: np.ndarray,
    queries: np.ndarray,
    exact: np.ndarray,
    result: dict[str, Any],
) -> None:
    """Flat vs HNSW at growing sizes (the product's HNSW parameters, else --hnsw), then IVF."""
    n = len(vectors)
    q = result["product_index"]
    sizes = sorted({int(s) for s in args.sizes.split(",") if int(s) <= n} | {n})
    m, efc, efs = (int(x) for x in args.hnsw.split(","))
    if q["faiss_params"]:
        m, efc, efs = (q["faiss_params"][k] for k in ("M", "efConstruction", "efSearch"))
    full = None
    if q["faiss_index"] == "IndexHNSWFlat":  # the product's own HNSW at full size
        full = {
            "hnsw_ms": q["dense_ms"],
            "hnsw_build_s": result["build"]["faiss_s"],
            "hnsw_recall_at_10": q["recall_at_10"],
            "hnsw_bytes_per_chunk": q["faiss_bytes_per_chunk"],
        }
    result["growth"] = growth_sweep(vectors, queries, sizes, (m, efc, efs), full)
    result["hnsw_params"] = {"M": m, "efConstruction": efc, "efSearch": efs}
    if not args.no_ivf:
        result["ivf"] = ivf_sweep(vectors, queries, exact)


def make_corpus(
    n: int, n_queries: int, work: Path, result: dict[str, Any]
) -> tuple[list[Any], np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(prepared, vectors, queries, texts, exact top 10s) of the synthetic corpus; what the query
    child reads is saved in `work`, the corpus's figures go in `result`."""
    gen = Generator(0)
    print(f"… generating {n:,} chunks", flush=True)
    t0 = time.perf_counter()
    prepared, vectors = make_prepared(gen, n)
    result["generate_s"] = round(time.perf_counter() - t0, 1)
    queries, texts = make_queries(gen, prepared, vectors, n_queries)
    np.save(work / "queries.npy", queries)
    (work / "queries.json").write_text(json.dumps(texts))
    exact = exact_top(vectors, queries)
    np.save(work / "exact.npy", exact)
    result["data"] = data_stats(vectors, queries, exact, texts, prepared)
    return prepared, vectors, queries, texts, exact


def measure(args: argparse.Namespace, n: int, work: Path, result: dict[str, Any]) -> None:
    """Generate the corpus and questions, write the index, query it in a child, run the sweeps."""
    prepared, vectors, queries, _, exact = make_corpus(n, args.queries, work, result)
    index_dir = work / "index"
    result["build"] = write_product(index_dir, prepared, n)
    del prepared
    result["product_index"] = query_product(work, index_dir, exact)
    sweeps(args, vectors, queries, exact, result)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (the child's options are hidden)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunks", type=int, default=100_000, help="corpus size (default 100,000)")
    p.add_argument("--full", action="store_true", help="1,000,000 chunks")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument(
        "--sizes",
        default="10000,20000,50000,100000,200000",
        help="sizes for the flat-vs-HNSW growth sweep (those ≤ --chunks)",
    )
    p.add_argument("--no-ivf", action="store_true", help="skip the IVF comparison")
    p.add_argument(
        "--hnsw",
        default="32,80,256",
        help="M,efConstruction,efSearch of the growth sweep's HNSW "
        "when the corpus is below HNSW_THRESHOLD (otherwise the product's own are used)",
    )
    p.add_argument("--keep", action="store_true", help="keep the index directory")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--index-dir", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure the synthetic corpus (or, with --child, query the written index); print and write."""
    args = parse_args(argv)
    if args.child:
        out = child_query(args)
        print(json.dumps(out))
        return out
    n = 1_000_000 if args.full else args.chunks
    t_start = time.perf_counter()
    load_before = background_load()
    work = tmpdir("scale")
    result: dict[str, Any] = {"chunks": n, "background_load_cores_before": load_before}
    try:
        measure(args, n, work, result)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    result["runtime_s"] = round(time.perf_counter() - t_start, 1)
    result["targets"] = {"query_p95_ms": 50, "recall_at_10": 0.95}
    finish("scale" if not args.full and n != 1_000_000 else "scale_full", result, report_table)
    return result


# ---------------------------------------------------------------- report


def _head(r: dict[str, Any]) -> str:
    q, b = r["product_index"], r["build"]
    return (
        f"{r['chunks']:,} chunks, {q['faiss_index']} {q['faiss_params']} "
        f"(threshold {b['hnsw_threshold']:,}); "
        f"write_generation {b['write_generation_s']} s (FAISS {b['faiss_s']} s, SQLite/npy/fsync "
        f"{b['sqlite_npy_fsync_s']} s); memory {q['memory_per_chunk_bytes']:,} B/chunk once loaded, "
        f"disk {b['disk_bytes_per_chunk']:,} B/chunk; recall@10 {q['recall_at_10']}\n\n"
    )


def _queries(q: dict[str, Any]) -> str:
    labels = {
        "dense_ms": f"dense (Index.search_dense, k={q['k']})",
        "lexical_ms": f"lexical (Index.search_lexical, BM25, k={q['k']})",
        "retrieve_ms": f"both (qa.retrieve.retrieve, top {q['top_k']})",
    }
    return table(
        ["query", "p50 ms", "p95 ms"], [[label, q[k]["p50"], q[k]["p95"]] for k, label in labels.items()]
    )


def _growth(growth: list[dict[str, Any]]) -> str:
    headers = ["chunks", "flat p50 ms", "flat p95 ms", "HNSW p50 ms", "HNSW p95 ms"]
    headers += ["HNSW recall@10", "HNSW build s", "HNSW B/chunk"]
    rows = [
        [
            g["chunks"],
            *(g[k][p] for k in ("flat_ms", "hnsw_ms") for p in ("p50", "p95")),
            *(g[k] for k in ("hnsw_recall_at_10", "hnsw_build_s", "hnsw_bytes_per_chunk")),
        ]
        for g in growth
    ]
    return table(headers, rows)


def _sweep(name: str, key: str, sweep: list[dict[str, Any]]) -> str:
    """A sweep's table: the parameter's value, p50, p95 and recall@10."""
    rows = [[s[key], s["latency_ms"]["p50"], s["latency_ms"]["p95"], s["recall_at_10"]] for s in sweep]
    return table([name, "p50 ms", "p95 ms", "recall@10"], rows)


def report_table(r: dict[str, Any]) -> str:
    """The product index's build and queries, flat vs HNSW by size, and the efSearch and nprobe sweeps."""
    q = r["product_index"]
    out = _head(r) + _queries(q) + "\n\n" + _growth(r["growth"])
    if q["hnsw_ef_sweep"]:
        out += "\n\n" + _sweep("HNSW efSearch", "efSearch", q["hnsw_ef_sweep"])
    if "ivf" in r:
        i = r["ivf"]
        out += "\n\n" + _sweep(f"IVF{i['nlist']},Flat nprobe", "nprobe", i["sweep"])
        out += f"\nIVF train {i['train_s']} s + add {i['add_s']} s; {i['bytes_per_chunk']} B/chunk"
    return out


if __name__ == "__main__":
    main()
