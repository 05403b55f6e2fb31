"""run_all.py's summary: the headline figures of each benchmark's result, for summary.json."""

from __future__ import annotations

import time
from typing import Any

from bench.machine import machine

BUILD_KEYS = (
    "corpus",
    "chunks",
    "sentences",
    "texts_embedded",
    "tokens_embedded",
    "build_s",
    "embed_documents_s",
    "sentence_transformers_encode_s",
    "build_chunks_per_s",
    "build_texts_per_s",
    "embed_texts_per_s",
    "st_texts_per_s",
    "build_overhead_vs_embed",
    "embed_speedup_vs_st",
    "peak_rss_mib",
)


def _ask_run(run: dict[str, Any]) -> dict[str, Any]:
    """One corpus of ask_latency: latency, throughput, errors, what is embedded, memory."""
    single = run["single_client"]
    return {
        "chunks": run["chunks"],
        "p50_ms": single["latency_ms"]["p50"],
        "p95_ms": single["latency_ms"]["p95"],
        "server_side_p50_ms": run["server_timings_p50_ms"],
        "requests_per_s": {str(c["clients"]): c["requests_per_s"] for c in run["concurrent"]},
        "p50_ms_under_load": {str(c["clients"]): c["latency_ms"].get("p50") for c in run["concurrent"]},
        "errors": sum(c["errors"] for c in run["concurrent"]) + single["errors"],
        "only_the_question_embedded": run["embeds_per_request"]["only_the_question_embedded"],
        "others_cpu_cores": single["cpu"]["cores_used_by_others"],
        "server_rss_mib": run["server_memory"]["rss_mib"],
    }


def _baseline_run(run: dict[str, Any]) -> dict[str, Any]:
    """One corpus of baseline: each path's p50 and how often the answer is in the top 5."""
    lat = run["latency_ms"]
    return {
        "st_encode_p50_ms": lat["st_encode"]["p50"],
        "st_encode_search_p50_ms": lat["st_total"]["p50"],
        "embed_query_p50_ms": lat["embed_query"]["p50"],
        "embed_query_speedup": round(lat["st_encode"]["p50"] / lat["embed_query"]["p50"], 2),
        "embed_retrieve_p50_ms": lat["embed_retrieve"]["p50"],
        "qa_ask_p50_ms": lat["qa_ask"]["p50"],
        "answer_in_top5": run["answer_in_top5"],
    }


def _p50_p95(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in ("p50", "p95")}


def _scale(r: dict[str, Any]) -> dict[str, Any]:
    """The product index at scale: build, memory, disk, query times, recall, and the growth sweep."""
    q, b = r["product_index"], r["build"]
    growth_keys = {"flat_p50_ms": "flat_ms", "hnsw_p50_ms": "hnsw_ms"}
    return {
        "chunks": r["chunks"],
        "index": q["faiss_index"],
        "params": q["faiss_params"],
        "write_generation_s": b["write_generation_s"],
        "faiss_build_s": b["faiss_s"],
        "memory_per_chunk_bytes": q["memory_per_chunk_bytes"],
        "disk_per_chunk_bytes": b["disk_bytes_per_chunk"],
        **{k: _p50_p95(q[k]) for k in ("dense_ms", "lexical_ms", "retrieve_ms")},
        "recall_at_10": q["recall_at_10"],
        "growth": [
            {
                "chunks": g["chunks"],
                **{k: g[src]["p50"] for k, src in growth_keys.items()},
                "hnsw_recall_at_10": g["hnsw_recall_at_10"],
                "hnsw_build_s": g["hnsw_build_s"],
            }
            for g in r["growth"]
        ],
        "runtime_s": r["runtime_s"],
    }


def _startup(r: dict[str, Any]) -> dict[str, Any]:
    """Start-up: time to ready, memory, import time and model load times."""
    out = {k: r[k] for k in ("ready_s_median", "ready_s_max", "rss_mib_median", "import_web_app_s")}
    out["model_load_s"] = {b: m["load_s"] for b, m in r["model_load"].items()}
    return out


def _extraction(r: dict[str, Any]) -> dict[str, Any]:
    """Extraction quality per reader on trafilatura's evaluation set, or why it was skipped."""
    if "skipped" in r:
        return {"skipped": r["skipped"]}
    keys = ("reader", "precision", "recall", "f1", "accuracy", "empty", "dated", "median_ms")
    out = {k: r[k] for k in ("pages", "not_utf8", "trafilatura", "current", "recommended")}
    out["readers"] = [{k: x[k] for k in keys} for x in r["readers"]]
    return out


def _load(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Requests/s, latency and the cores each part used, per number of server workers."""
    keys = ("workers", "requests_per_s", "errors", "cores_used_by_server", "cores_used_by_client")
    return [
        {
            **{k: run[k] for k in keys},
            "others": run["cores_used_by_others"],
            "p50_ms": run["latency_ms"]["p50"],
        }
        for run in r["runs"]
    ]


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, each with its target where the issue sets one."""
    s: dict[str, Any] = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if r := results.get("ask_latency"):
        s["ask"] = {run["corpus"]: _ask_run(run) for run in r["runs"] if run["server"] == "qa serve"}
    if r := results.get("baseline"):
        s["baseline"] = {run["corpus"]: _baseline_run(run) for run in r["runs"]}
    if r := results.get("build_speed"):
        s["build"] = {k: r[k] for k in BUILD_KEYS}
    for key in ("scale", "scale_full"):
        if r := results.get(key):
            s[key] = _scale(r)
    if r := results.get("startup"):
        s["startup"] = _startup(r)
    if r := results.get("extraction"):
        s["extraction"] = _extraction(r)
    if r := results.get("load"):
        s["load"] = {"runs": _load(r)}
    s["background_load_cores_before"] = {
        k: v.get("background_load_cores_before") for k, v in results.items() if isinstance(v, dict)
    }
    return s
