"""Run every benchmark in sequence, each in its own process, then write bench/results/summary.json
and bench/results/summary.md (the tables docs/performance.md and the README quote).

    make bench                                  # = .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --full    # the scale run at 1,000,000 chunks (+10-15 min)

By default the scale run uses 100,000 chunks (past HNSW_THRESHOLD, so the HNSW path is built and
measured); the whole default run takes about 10 minutes on the 2-core machine.
The SQuAD parts use --squad PATH (default ../shared/eval/squad2-dev-5articles.json) and are
skipped with a message when the file is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import DEFAULT_SQUAD
from bench.machine import machine, wait_for_quiet
from bench.paths import PY, RESULTS, ROOT
from bench.results import table

BENCHES = ["startup", "ask_latency", "baseline", "build_speed", "scale"]


def run(name: str, extra: list[str], wait_quiet: float) -> dict[str, Any] | None:
    load = wait_for_quiet(wait_quiet) if wait_quiet else None
    result_name = name
    if name == "scale" and ("--full" in extra or "1000000" in extra):
        result_name = "scale_full"
    path = RESULTS / f"{result_name}.json"
    started = time.time()
    print(
        f"\n=== {name} {' '.join(extra)}"
        + (f" (load by others before: {load} cores)" if load is not None else ""),
        flush=True,
    )
    t0 = time.perf_counter()
    proc = subprocess.run([PY, str(ROOT / "bench" / f"{name}.py"), *extra], cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not path.exists() or path.stat().st_mtime < started:
        print(f"!!! {name} failed (exit {proc.returncode})", flush=True)
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    data["wall_s"] = round(seconds, 1)
    return data


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, each with its target where the issue sets one."""
    s: dict[str, Any] = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if r := results.get("ask_latency"):
        s["ask"] = {
            run["corpus"]: {
                "chunks": run["chunks"],
                "p50_ms": run["single_client"]["latency_ms"]["p50"],
                "p95_ms": run["single_client"]["latency_ms"]["p95"],
                "server_side_p50_ms": run["server_timings_p50_ms"],
                "requests_per_s": {str(c["clients"]): c["requests_per_s"] for c in run["concurrent"]},
                "p50_ms_under_load": {
                    str(c["clients"]): c["latency_ms"].get("p50") for c in run["concurrent"]
                },
                "errors": sum(c["errors"] for c in run["concurrent"]) + run["single_client"]["errors"],
                "only_the_question_embedded": run["embeds_per_request"]["only_the_question_embedded"],
                "others_cpu_cores": run["single_client"]["cpu"]["cores_used_by_others"],
                "server_rss_mib": run["server_memory"]["rss_mib"],
            }
            for run in r["runs"]
            if run["server"] == "qa serve"
        }
    if r := results.get("baseline"):
        s["baseline"] = {
            run["corpus"]: {
                "st_encode_p50_ms": run["latency_ms"]["st_encode"]["p50"],
                "st_encode_search_p50_ms": run["latency_ms"]["st_total"]["p50"],
                "embed_query_p50_ms": run["latency_ms"]["embed_query"]["p50"],
                "embed_query_speedup": round(
                    run["latency_ms"]["st_encode"]["p50"] / run["latency_ms"]["embed_query"]["p50"], 2
                ),
                "embed_retrieve_p50_ms": run["latency_ms"]["embed_retrieve"]["p50"],
                "qa_ask_p50_ms": run["latency_ms"]["qa_ask"]["p50"],
                "answer_in_top5": run["answer_in_top5"],
            }
            for run in r["runs"]
        }
    if r := results.get("build_speed"):
        s["build"] = {
            k: r[k]
            for k in (
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
        }
    for key in ("scale", "scale_full"):
        if r := results.get(key):
            q = r["product_index"]
            s[key] = {
                "chunks": r["chunks"],
                "index": q["faiss_index"],
                "params": q["faiss_params"],
                "write_generation_s": r["build"]["write_generation_s"],
                "faiss_build_s": r["build"]["faiss_s"],
                "memory_per_chunk_bytes": q["memory_per_chunk_bytes"],
                "disk_per_chunk_bytes": r["build"]["disk_bytes_per_chunk"],
                "dense_ms": {k: q["dense_ms"][k] for k in ("p50", "p95")},
                "lexical_ms": {k: q["lexical_ms"][k] for k in ("p50", "p95")},
                "retrieve_ms": {k: q["retrieve_ms"][k] for k in ("p50", "p95")},
                "recall_at_10": q["recall_at_10"],
                "growth": [
                    {
                        "chunks": g["chunks"],
                        "flat_p50_ms": g["flat_ms"]["p50"],
                        "hnsw_p50_ms": g["hnsw_ms"]["p50"],
                        "hnsw_recall_at_10": g["hnsw_recall_at_10"],
                        "hnsw_build_s": g["hnsw_build_s"],
                    }
                    for g in r["growth"]
                ],
                "runtime_s": r["runtime_s"],
            }
    if r := results.get("startup"):
        s["startup"] = {
            k: r[k] for k in ("ready_s_median", "ready_s_max", "rss_mib_median", "import_web_app_s")
        }
        s["startup"]["model_load_s"] = {b: m["load_s"] for b, m in r["model_load"].items()}
    s["background_load_cores_before"] = {
        k: v.get("background_load_cores_before") for k, v in results.items() if isinstance(v, dict)
    }
    return s


def markdown(s: dict[str, Any]) -> str:
    m = s["machine"]
    v = m["versions"]
    out = [
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

    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    if a := s.get("ask"):
        out += ["## POST /ask over HTTP (uvicorn on 127.0.0.1, real model)", ""]
        rows = []
        for corpus, x in a.items():
            rps = x["requests_per_s"]
            rows.append(
                [
                    corpus,
                    x["chunks"],
                    x["p50_ms"],
                    x["p95_ms"],
                    rps.get("8"),
                    rps.get("32"),
                    x["server_side_p50_ms"].get("total"),
                    x["errors"],
                    "yes" if x["only_the_question_embedded"] else "NO",
                ]
            )
        out.append(
            table(
                [
                    "corpus",
                    "chunks",
                    "1 client p50 ms",
                    "p95 ms",
                    "8 clients req/s",
                    "32 clients req/s",
                    "in-server p50 ms",
                    "errors",
                    "only the question embedded",
                ],
                rows,
            )
        )
        p50 = max(x["p50_ms"] for x in a.values())
        rps = min(min(x["requests_per_s"].values()) for x in a.values())
        out += [
            "",
            f"Targets: p50 ≤ 15 ms — {mark(p50 <= 15)} (worst {p50} ms); "
            f"≥ 150 requests/s with concurrency — {mark(rps >= 150)} (lowest {rps}).",
            "",
        ]
    if b := s.get("baseline"):
        out += ["## Side by side with plain sentence-transformers + FAISS (in-process, no HTTP)", ""]
        rows = []
        for corpus, x in b.items():
            rows.append(
                [
                    corpus,
                    x["st_encode_p50_ms"],
                    x["embed_query_p50_ms"],
                    f"{x['embed_query_speedup']}x",
                    x["st_encode_search_p50_ms"],
                    x["embed_retrieve_p50_ms"],
                    x["qa_ask_p50_ms"],
                    x["answer_in_top5"]["baseline_dense_flat"],
                    x["answer_in_top5"]["project_hybrid"],
                ]
            )
        out.append(
            table(
                [
                    "corpus",
                    "encode() p50 ms",
                    "embed_query p50 ms",
                    "speed-up",
                    "encode+flat p50 ms",
                    "embed+hybrid p50 ms",
                    "QA.ask p50 ms",
                    "answer in top 5: baseline",
                    "project",
                ],
                rows,
            )
        )
        out.append("")
    if x := s.get("build"):
        out += [
            "## Index build",
            "",
            f"{x['corpus']}: {x['chunks']} chunks + {x['sentences']} sentences = "
            f"{x['texts_embedded']} texts embedded ({x['tokens_embedded']:,} tokens).",
            "",
        ]
        out.append(
            table(
                ["measurement", "seconds", "texts/s", "chunks/s", "peak RSS MiB"],
                [
                    [
                        "build_index",
                        x["build_s"],
                        x["build_texts_per_s"],
                        x["build_chunks_per_s"],
                        x["peak_rss_mib"]["build"],
                    ],
                    [
                        "Embedder.embed_documents, same texts",
                        x["embed_documents_s"],
                        x["embed_texts_per_s"],
                        None,
                        x["peak_rss_mib"]["embed"],
                    ],
                    [
                        "SentenceTransformer.encode, same texts",
                        x["sentence_transformers_encode_s"],
                        x["st_texts_per_s"],
                        None,
                        x["peak_rss_mib"]["st"],
                    ],
                ],
            )
        )
        ov = x["build_overhead_vs_embed"]
        out += [
            "",
            f"Build overhead over embedding alone: {ov:+.1%} — target ≤ 15 %: {mark(ov <= 0.15)}. "
            f"Embedding speed vs sentence-transformers: {x['embed_speedup_vs_st']}x.",
            "",
        ]
    for key in ("scale_full", "scale"):
        if x := s.get(key):
            out += [f"## Scale: {x['chunks']:,} chunks (synthetic)", ""]
            out.append(
                table(
                    ["query", "p50 ms", "p95 ms"],
                    [
                        ["dense", x["dense_ms"]["p50"], x["dense_ms"]["p95"]],
                        ["lexical (FTS5 BM25)", x["lexical_ms"]["p50"], x["lexical_ms"]["p95"]],
                        ["both (retrieve)", x["retrieve_ms"]["p50"], x["retrieve_ms"]["p95"]],
                    ],
                )
            )
            worst = max(x["dense_ms"]["p95"], x["lexical_ms"]["p95"], x["retrieve_ms"]["p95"])
            out += [
                "",
                f"{x['index']} {x['params']}: write_generation {x['write_generation_s']} s (FAISS "
                f"{x['faiss_build_s']} s), {x['memory_per_chunk_bytes']:,} B/chunk in memory, "
                f"{x['disk_per_chunk_bytes']:,} B/chunk on disk; recall@10 {x['recall_at_10']} — "
                f"target ≥ 0.95: {mark(x['recall_at_10'] >= 0.95)}; query p95 ≤ 50 ms: {mark(worst <= 50)}.",
                "",
            ]
            out.append(
                table(
                    ["chunks", "flat p50 ms", "HNSW p50 ms", "HNSW recall@10", "HNSW build s"],
                    [
                        [
                            g["chunks"],
                            g["flat_p50_ms"],
                            g["hnsw_p50_ms"],
                            g["hnsw_recall_at_10"],
                            g["hnsw_build_s"],
                        ]
                        for g in x["growth"]
                    ],
                )
            )
            out.append("")
    if x := s.get("startup"):
        out += ["## Start-up (sample corpus)", ""]
        out.append(
            table(
                ["step", "seconds"],
                [
                    ["qa serve → GET /healthz 200 (median)", x["ready_s_median"]],
                    ["slowest start", x["ready_s_max"]],
                    ["import web.app", x["import_web_app_s"]],
                ]
                + [[f"load model ({b})", t] for b, t in x["model_load_s"].items()],
            )
        )
        out += [
            "",
            f"Server RSS when ready: {x['rss_mib_median']} MiB. Target ready ≤ 5 s: "
            f"{mark(x['ready_s_median'] <= 5)}.",
            "",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="scale run at 1,000,000 chunks")
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    p.add_argument("--quick", action="store_true", help="short runs, to check that everything works")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        help="wait up to this many seconds for other processes to leave the CPU before each "
        "benchmark (0: don't wait)",
    )
    p.add_argument(
        "--summarise",
        action="store_true",
        help="run nothing: rebuild summary.json/.md from the result files already in bench/results/",
    )
    args = p.parse_args(argv)
    if args.summarise:
        found = {f.stem: json.loads(f.read_text()) for f in sorted(RESULTS.glob("*.json"))}
        results = {k: v for k, v in found.items() if k in {*BENCHES, "scale_full"}}
        summary = summarise(results)
        summary["from_files"] = {k: v.get("when") for k, v in results.items()}
        (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        (RESULTS / "summary.md").write_text(markdown(summary))
        print(markdown(summary))
        return
    names = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    squad = ["--squad", str(args.squad)]
    extra = {
        "startup": ["--repeat", "2" if args.quick else "5"],
        "ask_latency": [*squad, *(["--requests", "60", "--seconds", "3"] if args.quick else [])],
        "baseline": [*squad, *(["--questions", "40"] if args.quick else [])],
        "build_speed": [*squad, "--repeat", "1" if args.quick else "2"],
        "scale": ["--full"]
        if args.full
        else (["--chunks", "20000", "--sizes", "5000,10000"] if args.quick else []),
    }
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for name in names:
        data = run(name, extra[name], args.wait_quiet)
        if data is not None:
            results[data["benchmark"]] = data
    summary = summarise(results)
    summary["total_wall_s"] = round(time.perf_counter() - t0, 1)
    summary["failed"] = [n for n in names if not any(k.startswith(n) for k in results)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    md = markdown(summary)
    (RESULTS / "summary.md").write_text(md)
    print("\n" + md)
    print(f"wrote {RESULTS / 'summary.json'} and {RESULTS / 'summary.md'} in {summary['total_wall_s']} s")
    if summary["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
