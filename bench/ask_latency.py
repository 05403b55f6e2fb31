"""POST /ask over HTTP: p50/p95 with one client, throughput with 8 and 32 concurrent clients.

Builds an index of each corpus with the real model, starts `qa serve` on 127.0.0.1 in a child
process and asks it the corpus's questions over keep-alive connections (a small asyncio client,
so the client takes little of the two cores). Also checks, in-process, that a request embeds the
question and nothing else.

    .venv/bin/python bench/ask_latency.py [--squad PATH] [--requests 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import ask_body, load, post_ask, sequential
from bench.corpora import DEFAULT_SQUAD, Corpus, build, sample_corpus, squad_corpus
from bench.machine import CpuMeter, background_load, descendants, rss_mib
from bench.paths import tmpdir
from bench.results import finish, table
from bench.server import HOST, Server
from bench.stats import summary_ms


class CountingEmbedder:
    """Wraps an Embedder and records every text it is asked to embed, by method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.calls: list[tuple[str, int]] = []

    def count_tokens(self, text: str) -> int:
        """The inner embedder's token count."""
        return int(self.inner.count_tokens(text))

    def embed_query(self, text: str) -> Any:
        """Record one query, then embed it."""
        self.calls.append(("embed_query", 1))
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Any) -> Any:
        """Record a batch of queries, then embed them."""
        self.calls.append(("embed_queries", len(texts)))
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Any, *args: Any, **kwargs: Any) -> Any:
        """Record a batch of documents, then embed them."""
        self.calls.append(("embed_documents", len(texts)))
        return self.inner.embed_documents(texts, *args, **kwargs)


def check_embeds_per_request(index_dir: Path, embedder: Any, questions: list[str]) -> dict[str, Any]:
    """Through the real app (in-process): how many texts each POST /ask embeds, and with what."""
    from fastapi.testclient import TestClient

    from qa import QA, Settings
    from web.app import create_app

    settings = Settings.from_env(env={}, index_dir=index_dir)
    counting = CountingEmbedder(embedder)
    per_request = []
    with TestClient(create_app(settings, qa=QA(settings, embedder=counting))) as client:  # type: ignore[arg-type]
        for q in questions:
            counting.calls.clear()
            r = client.post("/ask", json={"question": q})
            r.raise_for_status()
            per_request.append(list(counting.calls))
    ok = all(calls == [("embed_query", 1)] for calls in per_request)
    return {
        "requests": len(per_request),
        "only_the_question_embedded": ok,
        "calls_per_request": per_request[0] if per_request else [],
    }


def server_timings(port: int, questions: list[str], n: int) -> dict[str, Any]:
    """The server's own timings_ms (embed/retrieve/answer) for n questions, asked one at a time."""

    async def main() -> list[dict[str, float]]:
        reader, writer = await asyncio.open_connection(HOST, port)
        out = []
        for i in range(n):
            status, payload = await post_ask(reader, writer, port, ask_body(questions[i % len(questions)]))
            if status == 200:
                out.append(json.loads(payload).get("timings_ms", {}))
        writer.close()
        return out

    rows = asyncio.run(main())
    keys = sorted({k for r in rows for k in r})
    return {k: summary_ms([r[k] / 1000 for r in rows if k in r])["p50"] for k in keys}


def bench_corpus(
    corpus: Corpus, embedder: Any, args: argparse.Namespace, env: dict[str, str], label: str
) -> dict[str, Any]:
    """Build the corpus's index, serve it, and measure one client, then each concurrency."""
    index_dir = tmpdir(f"ask-{corpus.name}")
    try:
        t0 = time.perf_counter()
        report = build(corpus, embedder, index_dir)
        built = time.perf_counter() - t0
        check = check_embeds_per_request(index_dir, embedder, corpus.questions[:5])
        questions = corpus.questions
        result: dict[str, Any] = {
            "corpus": corpus.name,
            "server": label,
            "documents": report.documents,
            "chunks": report.chunks,
            "sentences": report.sentences,
            "questions": len(questions),
            "index_build_s": round(built, 2),
            "embeds_per_request": check,
        }
        with Server(index_dir, env=env) as server:
            result["ready_s"] = round(server.wait_ready(), 2)
            server_pids = [server.proc.pid, *descendants(server.proc.pid)]  # with the model process
            meter = CpuMeter(server_pids)
            with meter:
                result["single_client"] = sequential(server.port, questions, args.requests)
            result["single_client"]["cpu"] = meter.report()
            result["server_timings_p50_ms"] = server_timings(server.port, questions, min(100, args.requests))
            result["concurrent"] = []
            for clients in args.clients:
                meter = CpuMeter(server_pids)
                with meter:
                    run = load(
                        server.port, questions, clients, args.seconds, max_requests=args.seconds * 1000
                    )
                run["cpu"] = meter.report()
                result["concurrent"].append(run)
            result["server_memory"] = rss_mib(server.proc.pid)
        return result
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)


def variants(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """The server configurations to measure: as shipped, plus any asked for with --env."""
    base = {"QA_THREADS": str(args.threads)} if args.threads else {}
    out = [("qa serve", base)]
    for spec in args.variant:
        label, _, assignments = spec.partition(":")
        env = dict(base)
        for a in filter(None, assignments.split(",")):
            k, _, v = a.partition("=")
            env[k] = v
        out.append((label, env))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure each server variant on each corpus; print and write the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--squad", type=Path, default=DEFAULT_SQUAD, help=f"SQuAD 2.0 JSON (default {DEFAULT_SQUAD})"
    )
    p.add_argument("--requests", type=int, default=300, help="requests of the one-client run")
    p.add_argument("--seconds", type=int, default=10, help="duration of each concurrent run")
    p.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    p.add_argument("--threads", type=int, default=0, help="QA_THREADS for the server (0: one per core)")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:VAR=VALUE,...",
        help="also measure a server with these environment variables (repeatable), e.g. "
        "'1 thread:QA_THREADS=1' or 'httptools:PYTHONPATH=/path/with/httptools'",
    )
    p.add_argument("--no-squad", action="store_true", help="only the sample corpus")
    args = p.parse_args(argv)

    from qa.embed import Embedder

    embedder = Embedder(threads=args.threads)
    corpora = [sample_corpus()]
    squad = None if args.no_squad else squad_corpus(args.squad)
    if squad is not None:
        corpora.append(squad)
    load_before = background_load()
    runs = []
    for label, env in variants(args):
        for corpus in corpora:
            print(f"… {corpus.name}: {label}", flush=True)
            runs.append(bench_corpus(corpus, embedder, args, env, label))
    result = {
        "background_load_cores_before": load_before,
        "runs": runs,
        "targets": {"p50_ms": 15, "requests_per_s": 150},
        "squad_file": str(args.squad) if squad is not None else None,
    }
    finish("ask_latency", result, report_table)
    return result


def report_table(result: dict[str, Any]) -> str:
    """A row per corpus and server: one client's p50/p95, then each concurrency's req/s and p50."""
    rows = []
    for r in result["runs"]:
        s = r["single_client"]["latency_ms"]
        row: list[Any] = [r["corpus"], r["server"], r["chunks"], s["p50"], s["p95"]]
        for c in r["concurrent"]:
            row += [c["requests_per_s"], c["latency_ms"].get("p50")]
        row.append(r["server_timings_p50_ms"].get("total"))
        rows.append(row)
    headers = ["corpus", "server", "chunks", "1 client p50 ms", "p95 ms"]
    for c in result["runs"][0]["concurrent"] if result["runs"] else []:
        headers += [f"{c['clients']} clients req/s", "p50 ms"]
    headers.append("in-server p50 ms")
    return table(headers, rows)


if __name__ == "__main__":
    main()
