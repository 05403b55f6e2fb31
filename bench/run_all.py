"""Run every benchmark in sequence, each in its own process, then write bench/results/summary.json
and bench/results/summary.md (the tables docs/performance.md and the README quote).

    make bench                                  # = .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --full    # the scale run at 1,000,000 chunks (+10-15 min)

By default the scale run uses 100,000 chunks (past HNSW_THRESHOLD, so the HNSW path is built and
measured); the whole default run takes about 12 minutes on the 2-core machine (extraction ~2).
The SQuAD parts use --squad PATH (default ../shared/eval/squad2-dev-5articles.json) and are
skipped with a message when the file is absent; so is the extraction benchmark without
trafilatura's evaluation set (--extraction-data DIR, default /tmp/trafilatura-eval/tests; how to
get it: bench/extraction.py --help).
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
from bench.extraction import DEFAULT_DATA as DEFAULT_EXTRACTION_DATA
from bench.machine import wait_for_quiet
from bench.paths import PY, RESULTS, ROOT
from bench.summary import summarise
from bench.summary_md import markdown

BENCHES = ["startup", "ask_latency", "baseline", "build_speed", "scale", "extraction", "load"]


def run(name: str, extra: list[str], wait_quiet: float) -> dict[str, Any] | None:
    """Run one benchmark in its own process; its result file with wall_s, or None if it failed."""
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


def write_summary(summary: dict[str, Any]) -> str:
    """Write bench/results/summary.json and summary.md; the markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    md = markdown(summary)
    (RESULTS / "summary.md").write_text(md)
    return md


def resummarise() -> None:
    """Rebuild summary.json/.md from the result files already in bench/results/ and print it."""
    found = {f.stem: json.loads(f.read_text()) for f in sorted(RESULTS.glob("*.json"))}
    results = {k: v for k, v in found.items() if k in {*BENCHES, "scale_full"}}
    summary = summarise(results)
    summary["from_files"] = {k: v.get("when") for k, v in results.items()}
    print(write_summary(summary))


def arguments(args: argparse.Namespace) -> dict[str, list[str]]:
    """Each benchmark's command-line arguments for this run."""
    squad = ["--squad", str(args.squad)]
    scale = ["--chunks", "20000", "--sizes", "5000,10000"] if args.quick else []
    return {
        "startup": ["--repeat", "2" if args.quick else "5"],
        "ask_latency": [*squad, *(["--requests", "60", "--seconds", "3"] if args.quick else [])],
        "baseline": [*squad, *(["--questions", "40"] if args.quick else [])],
        "build_speed": [*squad, "--repeat", "1" if args.quick else "2"],
        "scale": ["--full"] if args.full else scale,
        "extraction": ["--data", str(args.extraction_data), *(["--limit", "100"] if args.quick else [])],
        # qa serve with one worker, then two (issue 15's replicas), on the same load.
        "load": ["--workers", "1,2", *(["--requests", "300"] if args.quick else [])],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="scale run at 1,000,000 chunks")
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument(
        "--extraction-data",
        type=Path,
        default=DEFAULT_EXTRACTION_DATA,
        help="trafilatura's tests/ folder (evaldata.json, eval/, cache/) for bench/extraction.py",
    )
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
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks, then write and print the summary; exit 1 if any failed."""
    args = parse_args(argv)
    if args.summarise:
        resummarise()
        return
    names = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    extra = arguments(args)
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for name in names:
        data = run(name, extra[name], args.wait_quiet)
        if data is not None:
            results[data["benchmark"]] = data
    summary = summarise(results)
    summary["total_wall_s"] = round(time.perf_counter() - t0, 1)
    summary["failed"] = [n for n in names if not any(k.startswith(n) for k in results)]
    md = write_summary(summary)
    print("\n" + md)
    print(f"wrote {RESULTS / 'summary.json'} and {RESULTS / 'summary.md'} in {summary['total_wall_s']} s")
    if summary["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
