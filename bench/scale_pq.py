"""The compressed dense index at millions of chunks: recall@10 against exact search, query p95,
bytes per chunk, build time; FTS5 at growing sizes; the projection to 10M and 100M chunks.

The synthetic corpus of bench/scale.py (bench/synthetic.py: 384-d vectors shaped like the model's,
Zipf texts), written by qa.index.write_generation with the IVF-PQ tier (qa/index/write.py,
PQ_THRESHOLD; forced below it for smaller runs, and the result says so), then loaded by
qa.index.Index in a fresh process: memory (VmRSS, RssAnon, RssFile) after loading and after the
questions, Index.search_dense / search_lexical / qa.retrieve.retrieve p50 and p95, recall@10 of
search_dense against exact search, and the nprobe x re-rank sweep. Before that, FTS5 alone (the
product's table and its Index.search_lexical) on prefixes of the corpus; after it, other
compressed layouts (OPQ, 4-bit fast-scan codes, HNSW over PQ) on a prefix (--variants N).

    .venv/bin/python bench/scale_pq.py                        # 2,000,000 chunks
    .venv/bin/python bench/scale_pq.py --chunks 100000 --lexical-sizes 50000 --variants 0   # a check
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

from bench.child import run_child
from bench.machine import background_load
from bench.paths import PY, tmpdir
from bench.pq import lexical_growth, projection, rerank_sweep, variants
from bench.results import finish, table
from bench.scale import child_query, make_corpus, query_product, write_product

# OPQ over 96 parts is left out: it trained for 392 s on 20,000 vectors for no gain over the rest.
VARIANTS = "IVF{L},PQ48;OPQ48,IVF{L},PQ48;IVF{L},PQ96x4fs;HNSW16_PQ48"


def memory_status() -> dict[str, float]:
    """This process's VmRSS, RssAnon and RssFile in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def child(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: scale.py's load and query figures, memory by kind, the re-rank sweep."""
    import faiss

    from qa.index import Index
    from qa.index.read import random_rows

    before = memory_status()
    out = child_query(args)  # loads the index, times the three searches, finds the top 10s
    out["memory_before_mib"] = before
    out["memory_after_queries_mib"] = memory_status()
    index = Index(Path(args.index_dir))  # a second copy for the sweep, once the first is measured
    work = Path(args.work)
    queries, exact = np.load(work / "queries.npy"), np.load(work / "exact.npy")
    ivf = faiss.extract_index_ivf(index.dense)
    out["nlist"], out["nprobe"] = ivf.nlist, ivf.nprobe
    out["centroid_bytes"] = ivf.nlist * index.dense.d * 4
    nprobes = sorted({max(1, ivf.nprobe // 2), ivf.nprobe, ivf.nprobe * 2})
    rows = random_rows(index.path / "chunk_vectors.npy")  # as Index.search_dense reads them
    out["rerank_sweep"] = rerank_sweep(index.dense, rows, queries, exact, nprobes)
    return out


def child_cold(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process, with the stored vectors dropped from the page cache first: the dense
    search as a machine whose RAM cannot hold them sees it (each re-rank reads from disk)."""
    from bench.stats import timed_calls
    from qa.index import Index, current_generation

    gen = current_generation(Path(args.index_dir))
    assert gen is not None
    fd = os.open(gen / "chunk_vectors.npy", os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # this file only: nobody maps it now
    finally:
        os.close(fd)
    before = memory_status()
    index = Index(Path(args.index_dir))
    queries = np.load(Path(args.work) / "queries.npy")
    # No warm-up: what is measured is searches whose vectors are not in the page cache.
    dense_ms = timed_calls(lambda i: index.search_dense(queries[i], 40), len(queries), warmup=0)
    return {"dense_ms": dense_ms, "memory_before_mib": before, "memory_after_mib": memory_status()}


def measure(args: argparse.Namespace, n: int, work: Path, result: dict[str, Any]) -> None:
    """Corpus and questions; FTS5 alone by size; the product's index written and queried; variants."""
    import qa.index.write as store

    prepared, vectors, queries, texts, exact = make_corpus(n, args.queries, work, result)
    sizes = [int(s) for s in args.lexical_sizes.split(",") if s and int(s) < n]
    result["lexical_growth"] = lexical_growth(work, prepared, sizes, texts, 40)
    result["product_tier_at_this_size"] = store.index_type(n)
    store.PQ_THRESHOLD = min(store.PQ_THRESHOLD, n)  # the compressed tier, whatever the size
    index_dir = work / "index"
    result["build"] = write_product(index_dir, prepared, n)
    del prepared
    result["product_index"] = q = query_product(work, index_dir, exact, __file__, 7200)
    print("… the dense search again, the stored vectors out of the page cache", flush=True)
    argv = [PY, __file__, "--child-cold", "--work", str(work), "--index-dir", str(index_dir)]
    result["cold"] = run_child(argv, 3600)
    result["projection"] = projection(n, q, result["build"]["disk_bytes_per_chunk"])
    if args.variants:
        m = min(args.variants, n)
        lists = 1 << max(4, round(np.log2(4 * np.sqrt(m))))
        specs = VARIANTS.format(L=lists).split(";")
        result["variants"] = {"chunks": m, "rows": variants(vectors[:m], queries, specs)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (the child's options are hidden)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunks", type=int, default=2_000_000, help="corpus size (default 2,000,000)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument(
        "--lexical-sizes",
        default="250000,500000,1000000",
        help="sizes at which FTS5 alone is measured (those below --chunks; the full size comes "
        "from the product's index)",
    )
    p.add_argument(
        "--variants",
        type=int,
        default=300_000,
        help="compare compressed layouts on this many chunks (0: skip)",
    )
    p.add_argument("--keep", action="store_true", help="keep the index directory")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-cold", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--index-dir", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure (or, with --child, query the written index); print and write bench/results/scale_pq.json."""
    args = parse_args(argv)
    if args.child or args.child_cold:
        out = child(args) if args.child else child_cold(args)
        print(json.dumps(out))
        return out
    t_start = time.perf_counter()
    work = tmpdir("scale-pq")
    result: dict[str, Any] = {"chunks": args.chunks, "background_load_cores_before": background_load()}
    result["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    try:
        measure(args, args.chunks, work, result)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["runtime_s"] = round(time.perf_counter() - t_start, 1)
    result["background_load_cores_after"] = background_load()
    result["targets"] = {"query_p95_ms": 50, "recall_at_10": 0.9, "ram_gb_at_10m": 4}
    finish("scale_pq", result, report)
    return result


# ---------------------------------------------------------------- report


def _head(r: dict[str, Any]) -> str:
    q, b, p = r["product_index"], r["build"], r["projection"]
    mem = q["memory_after_queries_mib"]
    return (
        f"{r['chunks']:,} chunks (the product picks {r['product_tier_at_this_size']} at this size), "
        f"IVF{q['nlist']},PQ nprobe {q['nprobe']}: recall@10 {q['recall_at_10']}; "
        f"write_generation {b['write_generation_s']} s (FAISS train + add {b['faiss_s']} s); "
        f"memory once loaded {q['memory_per_chunk_bytes']:,} B/chunk (FAISS {q['faiss_bytes_per_chunk']} B), "
        f"after the questions RssAnon {mem.get('RssAnon')} MiB, RssFile {mem.get('RssFile')} MiB; "
        f"disk {b['disk_bytes_per_chunk']:,} B/chunk\n"
        f"projection: {p['per_chunk_bytes']} B/chunk + centroids -> "
        f"10M: {p['10000000']['ram_gb']} GB RAM, {p['10000000']['disk_gb']} GB disk; "
        f"100M: {p['100000000']['ram_gb']} GB RAM, {p['100000000']['disk_gb']} GB disk\n\n"
    )


def _queries(q: dict[str, Any], cold: dict[str, Any]) -> str:
    labels = {
        "dense_ms": f"dense (Index.search_dense, k={q['k']}, IVF-PQ + exact re-rank)",
        "lexical_ms": f"lexical (Index.search_lexical, BM25, k={q['k']})",
        "retrieve_ms": f"both (qa.retrieve.retrieve, top {q['top_k']})",
    }
    rows = [[lb, q[k]["p50"], q[k]["p95"]] for k, lb in labels.items()]
    rows.append(
        ["dense, stored vectors not in the page cache", cold["dense_ms"]["p50"], cold["dense_ms"]["p95"]]
    )
    return table(["query", "p50 ms", "p95 ms"], rows)


def _sweep(rows: list[dict[str, Any]]) -> str:
    body = [
        [s["nprobe"], s["rerank"], s["latency_ms"]["p50"], s["latency_ms"]["p95"], s["recall_at_10"]]
        for s in rows
    ]
    return table(["nprobe", "re-rank", "p50 ms", "p95 ms", "recall@10"], body)


def _lexical(r: dict[str, Any]) -> str:
    rows = [
        [g["chunks"], g["matches_p50"], g["latency_ms"]["p50"], g["latency_ms"]["p95"]]
        for g in r["lexical_growth"]
    ]
    q = r["product_index"]
    rows.append(
        [r["chunks"], q["lexical_matches_per_query_p50"], q["lexical_ms"]["p50"], q["lexical_ms"]["p95"]]
    )
    return table(["chunks", "matches per question (p50)", "FTS5 p50 ms", "FTS5 p95 ms"], rows)


def _variants(v: dict[str, Any]) -> str:
    rows = []
    for row in v["rows"]:
        for key, val in row.items():
            if "=" in key:
                lat = val["latency_ms"]
                rows.append(
                    [
                        row["spec"],
                        key,
                        row["bytes_per_chunk"],
                        row["train_s"],
                        lat["p50"],
                        val["recall_at_10"],
                    ]
                )
    headers = ["layout", "setting", "B/chunk", "train s", "p50 ms (re-rank 200)", "recall@10"]
    return f"Layouts on {v['chunks']:,} chunks:\n\n" + table(headers, rows)


def report(r: dict[str, Any]) -> str:
    """The product's compressed index, its sweep, FTS5 by size, and the other layouts."""
    out = (
        _head(r)
        + _queries(r["product_index"], r["cold"])
        + "\n\n"
        + _sweep(r["product_index"]["rerank_sweep"])
    )
    out += "\n\n" + _lexical(r)
    if "variants" in r:
        out += "\n\n" + _variants(r["variants"])
    return out


if __name__ == "__main__":
    main()
