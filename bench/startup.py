"""Start-up: from spawning `qa serve` until GET /healthz answers 200, and the server's memory then.

Also, each in a fresh process: the import time of the web app (what `qa serve` imports before it
loads anything), and the time to load the model through the direct path and through
sentence-transformers.

    .venv/bin/python bench/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import run_child
from bench.corpora import build, sample_corpus
from bench.machine import background_load, rss_mib
from bench.paths import PY, tmpdir
from bench.results import finish, table
from bench.server import Server
from bench.stats import median_of

IMPORT_WEB = """
import json, time, sys
t = time.perf_counter()
import web.app
t1 = time.perf_counter()
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "faiss") if m in sys.modules)
print(json.dumps({"import_web_app_s": round(t1 - t, 3), "heavy_modules_imported": heavy}))
"""

LOAD_MODEL = """
import json, time, sys, resource
t = time.perf_counter()
from qa.embed import Embedder
e = Embedder(backend=sys.argv[1])
t1 = time.perf_counter()
e.embed_query("warm up")
t2 = time.perf_counter()
mods = sorted(m for m in ("sentence_transformers", "transformers") if m in sys.modules)
peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps({"backend": e.backend, "load_s": round(t1 - t, 3), "first_query_s": round(t2 - t1, 3),
                  "peak_rss_mib": peak, "modules": mods}))
"""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Start the server --repeat times, time the imports and model loads; print and write the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    from qa.embed import Embedder

    index_dir = tmpdir("startup")
    try:
        corpus = sample_corpus()
        build(corpus, Embedder(), index_dir)
        load_before = background_load()
        starts: list[dict[str, Any]] = []
        for i in range(args.repeat):
            print(f"… start {i + 1}/{args.repeat}", flush=True)
            with Server(index_dir) as server:
                ready = server.wait_ready()
                mem = rss_mib(server.proc.pid)
                starts.append({"ready_s": round(ready, 3), **mem})
        imports = [run_child([PY, "-c", IMPORT_WEB], 300) for _ in range(3)]
        loads = {
            backend: [run_child([PY, "-c", LOAD_MODEL, backend], 300) for _ in range(3)]
            for backend in ("direct", "sentence-transformers")
        }
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)

    result = {
        "corpus": "sample",
        "repeat": args.repeat,
        "background_load_cores_before": load_before,
        "ready_s_median": median_of(starts, "ready_s"),
        "ready_s_max": max(s["ready_s"] for s in starts),
        "rss_mib_median": median_of(starts, "rss_mib"),
        "starts": starts,
        "import_web_app_s": median_of(imports, "import_web_app_s"),
        "heavy_modules_after_import": imports[0]["heavy_modules_imported"],
        "model_load": {
            b: {
                "load_s": median_of(rows, "load_s"),
                "first_query_s": median_of(rows, "first_query_s"),
                "peak_rss_mib": median_of(rows, "peak_rss_mib"),
                "modules": rows[0]["modules"],
            }
            for b, rows in loads.items()
        },
        "target_ready_s": 5,
    }
    finish("startup", result, report_table)
    return result


def report_table(r: dict[str, Any]) -> str:
    """Each step's seconds and memory, and which heavy modules web.app imports."""
    rows = [
        ["qa serve → /healthz 200 (median)", r["ready_s_median"], r["rss_mib_median"]],
        ["qa serve → /healthz 200 (slowest)", r["ready_s_max"], None],
        ["import web.app", r["import_web_app_s"], None],
    ]
    for b, m in r["model_load"].items():
        rows.append([f"load model: {b} (incl. imports)", m["load_s"], m["peak_rss_mib"]])
    return table(["step", "seconds", "RSS MiB"], rows) + (
        f"\n(web.app imports {', '.join(r['heavy_modules_after_import']) or 'none'} of torch/"
        "sentence_transformers/transformers/faiss)"
    )


if __name__ == "__main__":
    main()
