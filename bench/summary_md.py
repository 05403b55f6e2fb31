"""run_all.py's summary.md: the summary's figures as the tables docs/performance.md and the README quote."""

from __future__ import annotations

from typing import Any

from bench.build_speed import HEADERS as BUILD_HEADERS
from bench.build_speed import measurement_rows
from bench.extraction import HEADERS as EXTRACTION_HEADERS
from bench.extraction import report_rows as extraction_rows
from bench.results import table


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _head(s: dict[str, Any]) -> list[str]:
    """The title, the machine and the versions, and the load by others before each benchmark."""
    m = s["machine"]
    v = m["versions"]
    return [
        "# Benchmark summary",
        "",
        f"{s['when']} · {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB · Python {m['python']}, "
        f"torch {v['torch']}, faiss {v['faiss-cpu']}, sentence-transformers {v['sentence-transformers']}, "
        f"uvicorn {v['uvicorn']} (httptools {v['httptools'] or 'no'}, uvloop {v['uvloop'] or 'no'})",
        "",
        "CPU taken by other processes just before each benchmark (cores): "
        + ", ".join(f"{k} {x}" for k, x in s["background_load_cores_before"].items()),
        "",
    ]


def _ask(a: dict[str, Any]) -> list[str]:
    """POST /ask over HTTP per corpus, against the latency and throughput targets."""
    headers = ["corpus", "chunks", "1 client p50 ms", "p95 ms", "8 clients req/s", "32 clients req/s"]
    headers += ["in-server p50 ms", "errors", "only the question embedded"]
    rows = []
    for corpus, x in a.items():
        per_clients = x["requests_per_s"]
        in_server = x["server_side_p50_ms"].get("total")
        embedded = "yes" if x["only_the_question_embedded"] else "NO"
        rows.append(
            [
                corpus,
                x["chunks"],
                x["p50_ms"],
                x["p95_ms"],
                per_clients.get("8"),
                per_clients.get("32"),
                in_server,
                x["errors"],
                embedded,
            ]
        )
    p50 = max(x["p50_ms"] for x in a.values())
    rps = min(min(x["requests_per_s"].values()) for x in a.values())
    return [
        "## POST /ask over HTTP (uvicorn on 127.0.0.1, real model)",
        "",
        table(headers, rows),
        "",
        f"Targets: p50 ≤ 15 ms — {_mark(p50 <= 15)} (worst {p50} ms); "
        f"≥ 150 requests/s with concurrency — {_mark(rps >= 150)} (lowest {rps}).",
        "",
    ]


def _baseline(b: dict[str, Any]) -> list[str]:
    """Plain sentence-transformers + FAISS next to the project's path, per corpus."""
    headers = ["corpus", "encode() p50 ms", "embed_query p50 ms", "speed-up", "encode+flat p50 ms"]
    headers += ["embed+hybrid p50 ms", "QA.ask p50 ms", "answer in top 5: baseline", "project"]
    keys = ("st_encode_search_p50_ms", "embed_retrieve_p50_ms", "qa_ask_p50_ms")
    rows = []
    for corpus, x in b.items():
        top5 = x["answer_in_top5"]
        speedup = f"{x['embed_query_speedup']}x"
        rows.append(
            [
                corpus,
                x["st_encode_p50_ms"],
                x["embed_query_p50_ms"],
                speedup,
                *(x[k] for k in keys),
                top5["baseline_dense_flat"],
                top5["project_hybrid"],
            ]
        )
    return [
        "## Side by side with plain sentence-transformers + FAISS (in-process, no HTTP)",
        "",
        table(headers, rows),
        "",
    ]


def _build(x: dict[str, Any]) -> list[str]:
    """The index build next to the embedder and sentence-transformers on the same texts."""
    labels = ["build_index", "Embedder.embed_documents, same texts", "SentenceTransformer.encode, same texts"]
    ov = x["build_overhead_vs_embed"]
    return [
        "## Index build",
        "",
        f"{x['corpus']}: {x['chunks']} chunks + {x['sentences']} sentences = "
        f"{x['texts_embedded']} texts embedded ({x['tokens_embedded']:,} tokens).",
        "",
        table(BUILD_HEADERS, measurement_rows(x, labels)),
        "",
        f"Build overhead over embedding alone: {ov:+.1%} — target ≤ 15 %: {_mark(ov <= 0.15)}. "
        f"Embedding speed vs sentence-transformers: {x['embed_speedup_vs_st']}x.",
        "",
    ]


def _scale(x: dict[str, Any]) -> list[str]:
    """Query times, build, memory and recall of the product index at scale, and flat vs HNSW by size."""
    labels = {"dense_ms": "dense", "lexical_ms": "lexical (FTS5 BM25)", "retrieve_ms": "both (retrieve)"}
    queries = [[label, x[k]["p50"], x[k]["p95"]] for k, label in labels.items()]
    worst = max(x[k]["p95"] for k in labels)
    growth_keys = ("chunks", "flat_p50_ms", "hnsw_p50_ms", "hnsw_recall_at_10", "hnsw_build_s")
    return [
        f"## Scale: {x['chunks']:,} chunks (synthetic)",
        "",
        table(["query", "p50 ms", "p95 ms"], queries),
        "",
        f"{x['index']} {x['params']}: write_generation {x['write_generation_s']} s (FAISS "
        f"{x['faiss_build_s']} s), {x['memory_per_chunk_bytes']:,} B/chunk in memory, "
        f"{x['disk_per_chunk_bytes']:,} B/chunk on disk; recall@10 {x['recall_at_10']} — "
        f"target ≥ 0.95: {_mark(x['recall_at_10'] >= 0.95)}; query p95 ≤ 50 ms: {_mark(worst <= 50)}.",
        "",
        table(
            ["chunks", "flat p50 ms", "HNSW p50 ms", "HNSW recall@10", "HNSW build s"],
            [[g[k] for k in growth_keys] for g in x["growth"]],
        ),
        "",
    ]


def _startup(x: dict[str, Any]) -> list[str]:
    """Start-up steps and the server's memory when ready, against the ready target."""
    rows = [
        ["qa serve → GET /healthz 200 (median)", x["ready_s_median"]],
        ["slowest start", x["ready_s_max"]],
        ["import web.app", x["import_web_app_s"]],
    ]
    rows += [[f"load model ({b})", t] for b, t in x["model_load_s"].items()]
    return [
        "## Start-up (sample corpus)",
        "",
        table(["step", "seconds"], rows),
        "",
        f"Server RSS when ready: {x['rss_mib_median']} MiB. Target ready ≤ 5 s: "
        f"{_mark(x['ready_s_median'] <= 5)}.",
        "",
    ]


def _extraction(x: dict[str, Any]) -> list[str]:
    """The old reader and each trafilatura setting on the same pages, or why it was skipped."""
    head = ["## Article extraction (trafilatura's evaluation set)", ""]
    if "skipped" in x:
        return [*head, f"Skipped: {x['skipped']}", ""]
    return [
        *head,
        table(EXTRACTION_HEADERS, extraction_rows(x)),
        "",
        f"{x['pages']} pages ({x['not_utf8']} not UTF-8), trafilatura {x['trafilatura']}. Setting by the "
        f"data: {x['recommended']}; `extract_article` uses: {x['current']}.",
        "",
    ]


def _load(x: dict[str, Any]) -> list[str]:
    """Requests/s with 1 and 2 server workers, the first as the reference."""
    runs = x["runs"]
    first = runs[0]["requests_per_s"] or 1
    rows = [
        [
            f"qa serve --workers {r['workers']}",
            r["requests_per_s"],
            f"{r['requests_per_s'] / first:.2f}×",
            r["p50_ms"],
            r["errors"],
            f"{r['cores_used_by_server']} / {r['cores_used_by_client']} / {r['others']}",
        ]
        for r in runs
    ]
    headers = ["server", "requests/s", "vs 1 worker", "p50 ms", "errors", "cores: server / client / others"]
    return ["## Serving workers (8 clients, sample corpus)", "", table(headers, rows), ""]


def markdown(s: dict[str, Any]) -> str:
    """summary.md: the machine, then a section for each benchmark in the summary."""
    out = _head(s)
    sections = [("ask", _ask), ("baseline", _baseline), ("build", _build)]
    sections += [("scale_full", _scale), ("scale", _scale), ("startup", _startup)]
    sections += [("extraction", _extraction), ("load", _load)]
    for key, section in sections:
        if x := s.get(key):
            out += section(x)
    return "\n".join(out) + "\n"
