"""Side by side, in one process and without HTTP: a plain sentence-transformers + FAISS retriever
(SentenceTransformer.encode of the question, IndexFlatIP over the same chunk texts the build
embeds) against the project's query path on the same questions.

Reported per question (p50/p95): embedding the question (encode() vs Embedder.embed_query),
searching, and the project's whole QA.ask (embedding, hybrid retrieval and the extractive answer).
As a reference for what the extra work buys: how often an expected answer string occurs in the
top-5 passages of each retriever (answerable questions only).

    .venv/bin/python bench/baseline.py [--squad PATH] [--questions 300]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import DEFAULT_SQUAD, Corpus, build, sample_corpus, squad_corpus
from bench.machine import background_load
from bench.paths import tmpdir
from bench.results import finish, table
from bench.stats import summary_ms

STEPS = ("st_encode", "st_search", "st_total", "embed_query", "retrieve", "embed_retrieve", "qa_ask")
# The report's rows: label, embedding step, whole step, answer-in-top-5 key.
PATHS = (
    ("sentence-transformers encode + IndexFlatIP", "st_encode", "st_total", "baseline_dense_flat"),
    ("project: embed_query + hybrid retrieve", "embed_query", "embed_retrieve", "project_hybrid"),
    ("project: QA.ask (with the answer)", None, "qa_ask", None),
)


def chunk_texts(index: Any) -> list[str]:
    """The texts the build embedded for each chunk, in chunk-id order (title, section, text)."""
    rows = index.db.execute("SELECT id, doc_id, section, text FROM chunks ORDER BY id").fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))
    return ["\n".join(x for x in (index.documents[d].title, s, t) if x) for _, d, s, t in rows]


def contains(texts: list[str], answers: tuple[str, ...]) -> bool:
    """Does any of the texts contain one of the expected answers?"""
    from qa.evaluate import contains_any

    return any(contains_any(t, answers) for t in texts)


def flat_index(model: Any, texts: list[str]) -> tuple[Any, float]:
    """IndexFlatIP over the texts as SentenceTransformer.encode embeds them, and the encoding's seconds."""
    import faiss
    import torch

    t0 = time.perf_counter()
    with torch.inference_mode():
        vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - t0
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(np.ascontiguousarray(vecs, dtype=np.float32))
    return flat, seconds


def time_baseline(model: Any, flat: Any, question: str, t: dict[str, list[float]]) -> list[int]:
    """One question through encode() and IndexFlatIP, timed into t; the top 5 chunk ids."""
    import torch

    a = time.perf_counter()
    with torch.inference_mode():
        v = model.encode([question], batch_size=1, normalize_embeddings=True, convert_to_numpy=True)
    b = time.perf_counter()
    _, ids = flat.search(np.ascontiguousarray(v, dtype=np.float32), 5)
    c = time.perf_counter()
    t["st_encode"].append(b - a)
    t["st_search"].append(c - b)
    t["st_total"].append(c - a)
    return [int(i) for i in ids[0] if i >= 0]


def time_project(qa: Any, embedder: Any, question: str, t: dict[str, list[float]]) -> list[Any]:
    """One question through embed_query and retrieve, then QA.ask, timed into t; the top 5 hits."""
    from qa.question import parse
    from qa.retrieve import retrieve

    query = parse(question)
    a = time.perf_counter()
    vec = embedder.embed_query(query.search)
    b = time.perf_counter()
    hits = retrieve(qa.index, query, vec, 5)
    c = time.perf_counter()
    qa.ask(question)
    d = time.perf_counter()
    t["embed_query"].append(b - a)
    t["retrieve"].append(c - b)
    t["embed_retrieve"].append(c - a)
    t["qa_ask"].append(d - c)
    return list(hits)


def bench_corpus(corpus: Corpus, embedder: Any, model: Any, n_questions: int) -> dict[str, Any]:
    """Both paths on one corpus: latency of each step, and how often the answer is in the top 5."""
    from qa import QA, Settings

    index_dir = tmpdir(f"baseline-{corpus.name}")
    try:
        build(corpus, embedder, index_dir)
        qa = QA(Settings.from_env(env={}, index_dir=index_dir), embedder=embedder)
        texts = chunk_texts(qa.index)
        flat, base_index_s = flat_index(model, texts)
        questions = corpus.questions[:n_questions]
        answers = corpus.answers[:n_questions]
        for q in questions[:10]:  # warm both paths
            model.encode([q], normalize_embeddings=True)
            qa.ask(q)
        t: dict[str, list[float]] = {k: [] for k in STEPS}
        hit_base = hit_ours = answerable = 0
        for q, ans in zip(questions, answers, strict=True):
            ids = time_baseline(model, flat, q, t)
            hits = time_project(qa, embedder, q, t)
            if ans:
                answerable += 1
                hit_base += contains([texts[i] for i in ids], ans)
                hit_ours += contains([h.chunk.text for h in hits], ans)
        return {
            "corpus": corpus.name,
            "chunks": qa.index.n_chunks,
            "questions": len(questions),
            "baseline_index_encode_s": round(base_index_s, 2),
            "latency_ms": {k: summary_ms(v) for k, v in t.items()},
            "answer_in_top5": {
                "answerable_questions": answerable,
                "baseline_dense_flat": round(hit_base / answerable, 3) if answerable else None,
                "project_hybrid": round(hit_ours / answerable, 3) if answerable else None,
            },
        }
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure both paths on the sample corpus and the SQuAD slice; print and write the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument("--questions", type=int, default=300)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    from qa.embed import Embedder, resolve_model

    embedder = Embedder(threads=args.threads)  # sets torch's threads for both
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    corpora = [sample_corpus()]
    squad = squad_corpus(args.squad)
    if squad is not None:
        corpora.append(squad)
    load_before = background_load()
    runs = []
    for corpus in corpora:
        print(f"… {corpus.name}", flush=True)
        runs.append(bench_corpus(corpus, embedder, model, args.questions))
    result = {"background_load_cores_before": load_before, "embedder_backend": embedder.backend, "runs": runs}
    finish("baseline", result, report_table)
    return result


def report_table(r: dict[str, Any]) -> str:
    """Per corpus, a row for each path: embedding and whole p50, p95, answer in top 5."""
    rows = []
    for run in r["runs"]:
        lat, hit = run["latency_ms"], run["answer_in_top5"]
        for label, embed, total, hit_key in PATHS:
            embed_p50 = lat[embed]["p50"] if embed else None
            found = hit[hit_key] if hit_key else None
            rows.append([run["corpus"], label, embed_p50, lat[total]["p50"], lat[total]["p95"], found])
    headers = ["corpus", "path (in-process, no HTTP)", "embed p50 ms", "total p50 ms", "total p95 ms"]
    return table([*headers, "answer in top 5"], rows)


if __name__ == "__main__":
    main()
