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

The index is written by qa.store.write_generation (SQLite + FTS5 the way the product writes it,
and the FAISS index type it picks by size), loaded by qa.store.Index in a fresh process (memory
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
import math
import operator
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import run_child
from bench.machine import background_load, rss_mib
from bench.paths import PY, tmpdir
from bench.results import finish, table
from bench.stats import summary_ms

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


# ---------------------------------------------------------------- synthetic corpus


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
        ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
        p = ranks**-1.07
        self.cdf = np.cumsum(p / p.sum())

    def _gauss(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, DIM)).astype(np.float32) * self.scale
        return z @ self.rotation.T

    def centres(self, docs: int, seed: int) -> np.ndarray:
        """Document centres: the shared mean, plus the centre of the document's topic (one topic
        per DOCS_PER_TOPIC documents), plus the document's own offset."""
        rng = np.random.default_rng(seed)
        topics = self._gauss(rng, math.ceil(docs / DOCS_PER_TOPIC))
        topic_of = rng.integers(0, len(topics), docs)
        return self.mean + TOPIC_WEIGHT * topics[topic_of] + DOC_WEIGHT * self._gauss(rng, docs)

    def chunk_vectors(self, centres: np.ndarray, first_doc: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        c = np.repeat(centres[first_doc : first_doc + len(centres)], CHUNKS_PER_DOC, axis=0)
        x = c + self._gauss(rng, len(c))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def query_vectors(self, vectors: np.ndarray, chunk_ids: np.ndarray, seed: int) -> np.ndarray:
        """A question about one chunk: that chunk's vector plus noise (cosine ≈ 0.55 with it, ≈ 0.3
        with the other chunks of its document: like questions and the SQuAD slice's chunks)."""
        rng = np.random.default_rng(seed)
        x = vectors[chunk_ids] + QUERY_NOISE * self._gauss(rng, len(chunk_ids))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def topics(self, doc: int) -> np.ndarray:
        """The topic words (vocabulary ranks 300-20,000) of a document, from its number alone."""
        return np.random.default_rng(10_000_019 + doc).integers(300, 20_000, TOPIC_WORDS)

    def chunk_texts(self, doc: int, rng: np.random.Generator) -> list[str]:
        n = CHUNKS_PER_DOC * WORDS_PER_CHUNK
        ids = np.searchsorted(self.cdf, rng.random(n))
        topical = rng.random(n) < 0.08
        ids[topical] = rng.choice(self.topics(doc), int(topical.sum()))
        rows = ids.reshape(CHUNKS_PER_DOC, WORDS_PER_CHUNK)
        return [" ".join(operator.itemgetter(*row.tolist())(self.vocab)).capitalize() + "." for row in rows]

    def query_text(self, doc: int, chunk_text: str, rng: np.random.Generator) -> str:
        t = [self.vocab[int(i)] for i in rng.choice(self.topics(doc), 2, replace=False)]
        rare = [w for w in chunk_text.rstrip(".").lower().split() if self.rank[w] >= 300]
        extra = rare[int(rng.integers(0, len(rare)))] if rare else t[0]
        return f"What happened with {t[0]} and {t[1]} in {extra}?"

    @property
    def rank(self) -> dict[str, int]:
        if not hasattr(self, "_rank"):
            self._rank = {w: i for i, w in enumerate(self.vocab)}
        return self._rank


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


def make_prepared(gen: Generator, n_chunks: int, seed: int = 0) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Prepared documents for qa.store.write_generation, all chunk vectors, and the doc centres."""
    from qa.ingest import make_document
    from qa.records import Chunk
    from qa.store import Prepared

    docs = math.ceil(n_chunks / CHUNKS_PER_DOC)
    centres = gen.centres(docs, seed + 2)
    vectors = np.empty((docs * CHUNKS_PER_DOC, DIM), dtype=np.float32)
    block = 10_000
    for b in range(0, docs, block):
        part = gen.chunk_vectors(centres[b : b + block], 0, seed + 3 + b)
        vectors[b * CHUNKS_PER_DOC : b * CHUNKS_PER_DOC + len(part)] = part
    rng = np.random.default_rng(seed + 4)
    empty = np.zeros((0, DIM), dtype=np.float32)
    prepared = []
    for d in range(docs):
        texts = gen.chunk_texts(d, rng)
        body = "\n\n".join(texts)
        topic = [gen.vocab[int(i)] for i in gen.topics(d)[:2]]
        doc = make_document(f"synthetic:{d}", f"{topic[0].capitalize()} and {topic[1]}", body)
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
    return prepared, vectors, centres


# ---------------------------------------------------------------- faiss helpers


def latency(index: Any, queries: np.ndarray, k: int = 10) -> tuple[dict[str, Any], np.ndarray]:
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, found = index.search(q[None, :], k)
        times.append(time.perf_counter() - t0)
        ids[i] = found[0]
    return summary_ms(times), ids


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    k = exact.shape[1]
    return round(float(np.mean([len(set(f[:k]) & set(e)) / k for f, e in zip(found, exact, strict=True)])), 4)


def index_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    return flat.search(queries, k)[1]


def hnsw(vectors: np.ndarray, m: int, ef_construction: int) -> tuple[Any, float]:
    import faiss

    index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t0 = time.perf_counter()
    index.add(vectors)
    return index, time.perf_counter() - t0


def ivf(vectors: np.ndarray, nlist: int, seed: int = 0) -> tuple[Any, float, float]:
    import faiss

    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(len(vectors), min(len(vectors), nlist * 30), replace=False)
    t0 = time.perf_counter()
    index.train(vectors[np.sort(sample)])
    trained = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(vectors)
    return index, trained, time.perf_counter() - t0


# ---------------------------------------------------------------- the query child


def child_query(args: argparse.Namespace) -> dict[str, Any]:
    """Load the index in a fresh process and ask it: dense, lexical and both (retrieve)."""
    import faiss

    from qa.config import Settings
    from qa.question import parse
    from qa.retrieve import lexical_words, retrieve
    from qa.store import Index

    work = Path(args.work)
    queries = np.load(work / "queries.npy")
    texts = json.loads((work / "queries.json").read_text())
    before = rss_mib(__import__("os").getpid())["rss_mib"] or 0.0
    t0 = time.perf_counter()
    index = Index(Path(args.index_dir))
    load_s = time.perf_counter() - t0
    after = rss_mib(__import__("os").getpid())["rss_mib"] or 0.0
    n = index.n_chunks
    top_k = Settings.from_env(env={}).top_k
    k = max(4 * top_k, 20)  # what retrieve() asks each side for

    def timed(fn: Any) -> dict[str, Any]:
        for i in range(min(10, len(queries))):  # warm the caches
            fn(i)
        out = []
        for i in range(len(queries)):
            t = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t)
        return summary_ms(out)

    words = [lexical_words(t) for t in texts]
    dense = timed(lambda i: index.search_dense(queries[i], k))
    lexical = timed(lambda i: index.search_lexical(words[i], k))
    both = timed(lambda i: retrieve(index, parse(texts[i]), queries[i], top_k))
    # How many chunks each lexical query matches: the rows BM25 has to score before the top k.
    matches = [
        index.db.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
            (" OR ".join('"' + x.replace('"', "") + '"' for x in w),),
        ).fetchone()[0]
        for w in words[:50]
        if w
    ]
    found = np.stack([np.array([c for c, _ in index.search_dense(q, 10)] + [-1] * 10)[:10] for q in queries])
    kind = type(index.faiss).__name__
    ef_sweep = []
    if hasattr(index.faiss, "hnsw"):
        exact = np.load(work / "exact.npy")
        ef_default = index.faiss.hnsw.efSearch
        for ef in (32, 64, 96, 128, 192, 256, 384, 512):
            index.faiss.hnsw.efSearch = ef
            lat, ids = latency(index.faiss, queries)
            ef_sweep.append({"efSearch": ef, "latency_ms": lat, "recall_at_10": recall_at(ids, exact)})
        index.faiss.hnsw.efSearch = ef_default
    return {
        "chunks": n,
        "k": k,
        "top_k": top_k,
        "faiss_index": kind,
        "faiss_params": _params(index.faiss),
        "load_s": round(load_s, 2),
        "rss_before_load_mib": before,
        "rss_after_load_mib": after,
        "memory_per_chunk_bytes": round((after - before) * 1024 * 1024 / n),
        "faiss_bytes_per_chunk": round(index_bytes(index.faiss) / n),
        "dense_ms": dense,
        "lexical_ms": lexical,
        "retrieve_ms": both,
        "lexical_matches_per_query_p50": float(np.median(matches)) if matches else 0.0,
        "found_top10": found.tolist(),
        "hnsw_ef_sweep": ef_sweep,
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def _params(index: Any) -> dict[str, Any]:
    if hasattr(index, "hnsw"):
        return {
            "M": index.hnsw.nb_neighbors(1),
            "efConstruction": index.hnsw.efConstruction,
            "efSearch": index.hnsw.efSearch,
        }
    return {}


# ---------------------------------------------------------------- parent


def main(argv: list[str] | None = None) -> dict[str, Any]:
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
    args = p.parse_args(argv)
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
        import faiss

        import qa.store as store

        gen = Generator(0)
        print(f"… generating {n:,} chunks", flush=True)
        t0 = time.perf_counter()
        prepared, vectors, _ = make_prepared(gen, n)
        result["generate_s"] = round(time.perf_counter() - t0, 1)
        q_chunks = np.random.default_rng(7).integers(0, n, args.queries)
        queries = gen.query_vectors(vectors, q_chunks, 8)
        q_rng = np.random.default_rng(9)
        texts = [
            gen.query_text(
                int(c) // CHUNKS_PER_DOC,
                prepared[int(c) // CHUNKS_PER_DOC].chunks[int(c) % CHUNKS_PER_DOC].text,
                q_rng,
            )
            for c in q_chunks
        ]
        np.save(work / "queries.npy", queries)
        (work / "queries.json").write_text(json.dumps(texts))
        exact = exact_top(vectors, queries)
        np.save(work / "exact.npy", exact)
        sims = vectors[: min(n, 2000)] @ vectors[: min(n, 2000)].T
        result["data"] = {
            "mean_cosine_between_chunks": round(float(sims[np.triu_indices(len(sims), 1)].mean()), 3),
            "mean_cosine_within_document": round(
                float(np.mean([vectors[i] @ vectors[i + 1] for i in range(0, min(n, 2000) - 1, 10)])), 3
            ),
            "query_top1_cosine": round(
                float(np.mean([queries[i] @ vectors[exact[i, 0]] for i in range(len(queries))])), 3
            ),
            "query_top10_cosine": round(
                float(np.mean([queries[i] @ vectors[exact[i, 9]] for i in range(len(queries))])), 3
            ),
            "query_example": texts[0],
            "chunk_example": prepared[0].chunks[0].text[:160] + "…",
        }

        # The product's build: write_generation picks the index type by size.
        faiss_time = {}
        original = store.build_faiss

        def timed_build(v: np.ndarray) -> Any:
            t = time.perf_counter()
            out = original(v)
            faiss_time["s"] = time.perf_counter() - t
            return out

        store.build_faiss = timed_build
        index_dir = work / "index"
        print(f"… write_generation ({'hnsw' if n >= store.HNSW_THRESHOLD else 'flat'})", flush=True)
        t0 = time.perf_counter()
        try:
            store.write_generation(index_dir, prepared, {"model": "synthetic", "chunker": {}}, DIM)
        finally:
            store.build_faiss = original
        total = time.perf_counter() - t0
        gen_dir = store.current_generation(index_dir)
        assert gen_dir is not None
        files = {f.name: f.stat().st_size for f in gen_dir.iterdir()}
        result["build"] = {
            "write_generation_s": round(total, 1),
            "faiss_s": round(faiss_time["s"], 1),
            "sqlite_npy_fsync_s": round(total - faiss_time["s"], 1),
            "ms_per_1000_chunks": round(total / n * 1e6, 1),
            "files_bytes": files,
            "disk_bytes_per_chunk": round(sum(files.values()) / n),
            "hnsw_threshold": store.HNSW_THRESHOLD,
        }
        del prepared

        print("… querying the written index in a fresh process", flush=True)
        q = run_child([PY, __file__, "--child", "--work", str(work), "--index-dir", str(index_dir)], 3600)
        q["recall_at_10"] = recall_at(np.array(q.pop("found_top10")), exact)
        result["product_index"] = q

        # How query time grows: flat vs HNSW (the product's parameters) on prefixes of the corpus.
        sizes = sorted({int(s) for s in args.sizes.split(",") if int(s) <= n} | {n})
        growth = []
        # The product's HNSW parameters when it built one, else those of --hnsw.
        m, efc, efs = (int(x) for x in args.hnsw.split(","))
        if q["faiss_params"]:
            m, efc, efs = (q["faiss_params"][k] for k in ("M", "efConstruction", "efSearch"))
        for size in sizes:
            print(f"… growth sweep: {size:,} chunks", flush=True)
            sub = vectors[:size]
            flat = faiss.IndexFlatIP(DIM)
            flat.add(sub)
            flat_lat, flat_ids = latency(flat, queries)
            row: dict[str, Any] = {"chunks": size, "flat_ms": flat_lat, "flat_bytes_per_chunk": DIM * 4}
            if size == n and q["faiss_index"] == "IndexHNSWFlat":
                row["hnsw_ms"] = q["dense_ms"]
                row["hnsw_build_s"] = result["build"]["faiss_s"]
                row["hnsw_recall_at_10"] = q["recall_at_10"]
                row["hnsw_bytes_per_chunk"] = q["faiss_bytes_per_chunk"]
            else:
                h, built = hnsw(sub, m, efc)
                h.hnsw.efSearch = efs
                h_lat, h_ids = latency(h, queries)
                row.update(
                    hnsw_ms=h_lat,
                    hnsw_build_s=round(built, 1),
                    hnsw_recall_at_10=recall_at(h_ids, flat_ids),
                    hnsw_bytes_per_chunk=round(index_bytes(h) / size),
                )
                del h
            growth.append(row)
            del flat
        result["growth"] = growth
        result["hnsw_params"] = {"M": m, "efConstruction": efc, "efSearch": efs}

        if not args.no_ivf:
            nlist = 1 << max(6, round(math.log2(4 * math.sqrt(n))))
            print(f"… IVF{nlist},Flat", flush=True)
            index, trained, added = ivf(vectors, nlist)
            sweep = []
            for nprobe in (16, 32, 64, 128, 256):
                index.nprobe = nprobe
                lat, ids = latency(index, queries)
                sweep.append({"nprobe": nprobe, "latency_ms": lat, "recall_at_10": recall_at(ids, exact)})
            result["ivf"] = {
                "nlist": nlist,
                "train_s": round(trained, 1),
                "add_s": round(added, 1),
                "bytes_per_chunk": round(index_bytes(index) / n),
                "sweep": sweep,
            }
            del index
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    result["runtime_s"] = round(time.perf_counter() - t_start, 1)
    result["targets"] = {"query_p95_ms": 50, "recall_at_10": 0.95}
    finish("scale" if not args.full and n != 1_000_000 else "scale_full", result, report_table)
    return result


def report_table(r: dict[str, Any]) -> str:
    q = r["product_index"]
    b = r["build"]
    head = (
        f"{r['chunks']:,} chunks, {q['faiss_index']} {q['faiss_params']} "
        f"(threshold {b['hnsw_threshold']:,}); "
        f"write_generation {b['write_generation_s']} s (FAISS {b['faiss_s']} s, SQLite/npy/fsync "
        f"{b['sqlite_npy_fsync_s']} s); memory {q['memory_per_chunk_bytes']:,} B/chunk once loaded, "
        f"disk {b['disk_bytes_per_chunk']:,} B/chunk; recall@10 {q['recall_at_10']}\n\n"
    )
    rows = [
        [f"dense (Index.search_dense, k={q['k']})", q["dense_ms"]["p50"], q["dense_ms"]["p95"]],
        [f"lexical (Index.search_lexical, BM25, k={q['k']})", q["lexical_ms"]["p50"], q["lexical_ms"]["p95"]],
        [f"both (qa.retrieve.retrieve, top {q['top_k']})", q["retrieve_ms"]["p50"], q["retrieve_ms"]["p95"]],
    ]
    out = head + table(["query", "p50 ms", "p95 ms"], rows)
    grow = [
        [
            g["chunks"],
            g["flat_ms"]["p50"],
            g["flat_ms"]["p95"],
            g["hnsw_ms"]["p50"],
            g["hnsw_ms"]["p95"],
            g["hnsw_recall_at_10"],
            g["hnsw_build_s"],
            g["hnsw_bytes_per_chunk"],
        ]
        for g in r["growth"]
    ]
    out += "\n\n" + table(
        [
            "chunks",
            "flat p50 ms",
            "flat p95 ms",
            "HNSW p50 ms",
            "HNSW p95 ms",
            "HNSW recall@10",
            "HNSW build s",
            "HNSW B/chunk",
        ],
        grow,
    )
    if q["hnsw_ef_sweep"]:
        out += "\n\n" + table(
            ["HNSW efSearch", "p50 ms", "p95 ms", "recall@10"],
            [
                [e["efSearch"], e["latency_ms"]["p50"], e["latency_ms"]["p95"], e["recall_at_10"]]
                for e in q["hnsw_ef_sweep"]
            ],
        )
    if "ivf" in r:
        i = r["ivf"]
        out += "\n\n" + table(
            [f"IVF{i['nlist']},Flat nprobe", "p50 ms", "p95 ms", "recall@10"],
            [
                [s["nprobe"], s["latency_ms"]["p50"], s["latency_ms"]["p95"], s["recall_at_10"]]
                for s in i["sweep"]
            ],
        )
        out += f"\nIVF train {i['train_s']} s + add {i['add_s']} s; {i['bytes_per_chunk']} B/chunk"
    return out


if __name__ == "__main__":
    main()
