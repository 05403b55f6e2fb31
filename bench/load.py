"""Bounded load test of the real server: `qa serve` (real model, the bundled article) on 127.0.0.1,
N concurrent keep-alive clients, a fixed number of POST /ask requests.

    .venv/bin/python bench/load.py [--clients 8] [--requests 2000] [--workers 1,2]

Builds an index into a temporary folder with `qa index`, starts `qa serve` on a free loopback
port, sends the requests, stops the server. Prints requests/s, latency percentiles and errors
(any non-200 or transport failure; the script exits 1 if there is one) and writes the figures
to bench/results/load.json. It also checks the server's log: exactly one `qa.web` line per
request, and no question text in it. `--workers 1,2` runs the same load against `qa serve
--workers 1` and then `--workers 2` (one index, one server at a time) and reports each.
Only loopback traffic; every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import child_env
from bench.machine import CpuMeter, descendants, rss_mib
from bench.paths import PY, RESULTS, ROOT
from bench.results import finish
from bench.server import Server
from bench.stats import percentile

QUESTIONS = [
    "How much was Netflix's quarterly revenue?",
    "What did Sarandos say about Sora?",
    "Which series used generative AI to depict a building collapse?",
    "Who urged OpenAI to implement stronger protections?",
    "What did Netflix use AI for in Happy Gilmore 2?",
    "How did Netflix's revenue compare with its forecast?",
    "What is the capital of France?",  # off-topic: an abstention is a 200 too
    "And what about the film industry?",
]


def run_load(base: str, clients: int, requests: int, timeout: float) -> dict[str, Any]:
    """`requests` POST /ask spread over `clients` threads, each with its own keep-alive connection."""
    lock = threading.Lock()
    next_request = 0
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    failures: list[str] = []

    def client(n: int) -> None:
        nonlocal next_request
        with httpx.Client(base_url=base, timeout=timeout) as http:
            while True:
                with lock:
                    if next_request >= requests:
                        return
                    i = next_request
                    next_request += 1
                question = QUESTIONS[i % len(QUESTIONS)]
                t0 = time.perf_counter()
                try:
                    r = http.post("/ask", json={"question": question})
                    status = str(r.status_code)
                    ok = r.status_code == 200 and "answer" in r.json()
                except Exception as exc:  # a transport failure is an error like any other
                    status, ok = type(exc).__name__, False
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if not ok and len(failures) < 10:
                        failures.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    errors = sum(v for k, v in statuses.items() if k != "200")
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p90": round(percentile(latencies, 90), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "errors": errors,
        "statuses": dict(statuses),
        "first_failures": failures,
    }


def check_log(log: str, expected_asks: int) -> dict[str, Any]:
    """One qa.web line per request with its status and time, and no question text anywhere."""
    asks = re.findall(r"^INFO qa\.web: POST /ask (\d{3}) \d+\.\dms$", log, re.MULTILINE)
    leaked = [w for w in [*QUESTIONS, "Sarandos", "France", "OpenAI", "Gilmore"] if w in log]
    return {"ask_lines": len(asks), "expected": expected_asks, "question_text_in_log": leaked}


def report(result: dict[str, Any]) -> str:
    """The figures as aligned lines of name and value, one block per server configuration."""
    return "\n\n".join(_report_run(run) for run in result["runs"])


def _report_run(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    rows = [
        ("server workers", result["workers"]),
        ("clients", result["clients"]),
        ("requests", result["requests"]),
        ("wall time", f"{result['seconds']} s"),
        ("requests/s", result["requests_per_s"]),
        *((f"latency {k}", f"{lat[k]} ms") for k in ("p50", "p90", "p99", "max")),
        ("errors", result["errors"]),
        ("log lines /ask", f"{result['log']['ask_lines']} of {result['log']['expected']}"),
        (
            "cores: server, client, others",
            " / ".join(str(result[f"cores_used_by_{k}"]) for k in ("server", "client", "others")),
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Index the bundled article with `qa index`, then load a server with each worker count."""
    index_dir = tmp / "index"
    t0 = time.perf_counter()
    subprocess.run(
        [PY, "-m", "qa.cli", "index", "--index-dir", str(index_dir), "-q"],
        check=True,
        env=child_env(),
        cwd=ROOT,
    )
    build_s = time.perf_counter() - t0
    runs = [measure_server(args, index_dir, workers) for workers in args.workers]
    return {"index_build_s": round(build_s, 1), "runs": runs}


def measure_server(args: argparse.Namespace, index_dir: Path, workers: int) -> dict[str, Any]:
    """Serve the index with `workers` processes, warm it up, load it; the figures and the log."""
    argv = [PY, "-m", "qa.cli", "serve", "--workers", str(workers)]
    with Server(index_dir, argv=argv) as server:
        startup_s = server.wait_ready(timeout=180)
        memory = rss_mib(server.proc.pid)
        if args.warmup:
            # Enough requests that every worker has served some (connections land on any of them).
            run_load(server.url, min(args.clients, args.warmup), args.warmup, args.timeout)
        print(
            f"Load: {args.requests} requests from {args.clients} clients on {server.url} "
            f"({workers} worker{'s' if workers > 1 else ''}) ...",
            flush=True,
        )
        server_tree = [server.proc.pid, *descendants(server.proc.pid)]
        with CpuMeter(server_tree) as cpu:
            result = run_load(server.url, args.clients, args.requests, args.timeout)
    result["workers"] = workers
    result["cores_used_by_others"] = cpu.cores_others
    # The client (this process) and the server's processes: workers and their model processes.
    result["cores_used_by_client"] = cpu.cores_ours[os.getpid()]
    result["cores_used_by_server"] = round(sum(v for k, v in cpu.cores_ours.items() if k != os.getpid()), 2)
    result["log"] = check_log(server.output, args.warmup + args.requests)
    result["server_startup_s"] = round(startup_s, 1)
    result["server_rss_when_ready_mib"] = memory["rss_mib"]
    return result


def main() -> int:
    """Run the load test; print and write the figures; 1 if there was an error or a log problem."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=2000, help="POST /ask requests in all (default 2000)")
    parser.add_argument("--warmup", type=int, default=16, help="requests sent first and not measured")
    parser.add_argument("--timeout", type=float, default=60, help="per-request timeout in seconds")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json", help="where to write the JSON")
    parser.add_argument(
        "--workers",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1],
        help="server processes (`qa serve --workers N`); a list such as 1,2 runs each in turn (default 1)",
    )
    args = parser.parse_args()
    if args.clients < 1 or args.requests < 1 or args.warmup < 0 or min(args.workers) < 1:
        parser.error("--clients, --requests and --workers must be at least 1, --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        result = measure(args, Path(tmp))
    result["command"] = " ".join([Path(PY).name, "bench/load.py", *sys.argv[1:]])
    finish("load", result, report, path=args.out)
    runs = result["runs"]
    bad_log = any(
        r["log"]["ask_lines"] != r["log"]["expected"] or r["log"]["question_text_in_log"] for r in runs
    )
    if any(r["errors"] for r in runs) or bad_log:
        print("FAILED: errors or log problems, see the JSON", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
