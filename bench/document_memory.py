"""What a reader holds in memory per document: `Index.open` on an index of many small web articles.

A big archive is millions of articles, and a reader keeps a record of each one (title, source,
url, site, date, author, content hash) for citations, filters and the library. This writes one
index of `--documents` one-chunk articles with web metadata (200 sites, two years of days, 5,000
authors; 8-dimensional vectors, so the vector index is negligible) and opens it in a fresh process
per checkout given (`--code DIR`, default this one; e.g. a `git worktree` of an earlier commit),
reporting the Python memory `Index.open` allocates (tracemalloc) and the process's VmRSS growth,
per document.

    .venv/bin/python bench/document_memory.py [--documents 200000] [--code DIR ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import child_env
from bench.paths import PY, ROOT, tmpdir
from bench.results import finish, table

# Run twice per checkout: tracemalloc's own bookkeeping would inflate VmRSS, so RSS is measured
# in a process that doesn't trace.
OPEN = """
import json, sys, tracemalloc
from pathlib import Path
def rss():
    status = Path('/proc/self/status').read_text().splitlines()
    return int(next(line for line in status if line.startswith('VmRSS')).split()[1])
from qa.index import Index
import qa
trace = sys.argv[2] == "trace"
before = rss()
if trace:
    tracemalloc.start()
index = Index.open(Path(sys.argv[1]))
grown = tracemalloc.get_traced_memory()[0] if trace else (rss() - before) * 1024
print(json.dumps({"documents": len(index.documents), "bytes": grown, "qa": qa.__file__}))
"""


def write_index(folder: Path, n: int) -> None:
    """An index of n one-chunk web articles."""
    from qa.index import Prepared, write_generation
    from qa.ingest import make_document
    from qa.records import Chunk

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    prepared = []
    for i in range(n):
        site = f"site{i % 200}.example"
        text = f"Story {i} reports that the council met on day {i % 730} and decided on item {i}."
        doc = make_document(
            f"https://www.{site}/news/{i // 1000}/story-{i}-about-the-council-meeting",
            f"Council decides on item {i} after a long meeting",
            text,
            published=f"{2023 + (i % 730) // 365}-{1 + (i % 365) // 31:02d}-{1 + i % 28:02d}",
            url=f"https://www.{site}/news/{i // 1000}/story-{i}-about-the-council-meeting",
            site=f"The {site.split('.')[0].title()} Times",
            author=f"Reporter {i % 5000}",
        )
        chunk = Chunk(doc.doc_id, 0, 0, len(text), text, 0, 0, None)
        prepared.append(Prepared(doc, [], [chunk], vectors[i : i + 1], np.zeros((0, 8), np.float32)))
    write_generation(folder, prepared, "synthetic-8d", {"max_tokens": 256, "overlap": 0, "version": 0}, 8)


def measure(index_dir: Path, code: Path) -> dict[str, Any]:
    """Index.open of `index_dir` with the `qa` of `code`, in fresh processes."""
    env = {**child_env(), "PYTHONPATH": str(code)}
    grown = {}
    for kind in ("trace", "rss"):
        # cwd too: `python -c` puts the working directory first on sys.path.
        argv = [PY, "-c", OPEN, str(index_dir), kind]
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=code, timeout=600)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        data = json.loads(out.stdout.strip().splitlines()[-1])
        assert data["qa"].startswith(str(code)), (code, data["qa"])  # the checkout asked for
        grown[kind] = data["bytes"] / data["documents"]
    return {
        "code": str(code),
        "documents": data["documents"],
        "traced_bytes_per_document": round(grown["trace"]),
        "rss_bytes_per_document": round(grown["rss"]),
    }


def report(result: dict[str, Any]) -> str:
    """The table: one row per checkout."""
    keys = ("code", "documents", "traced_bytes_per_document", "rss_bytes_per_document")
    rows = [[r[k] for k in keys] for r in result["runs"]]
    headers = ["code", "documents", "Python bytes/doc (tracemalloc)", "VmRSS growth bytes/doc"]
    note = f"VmRSS includes the vector index: {result['faiss_bytes_per_document']} bytes a document."
    return table(headers, rows) + "\n\n" + note


def main() -> None:
    """Write the index once, open it with each checkout, print and save the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--documents", type=int, default=200_000)
    p.add_argument("--code", type=Path, action="append", help="a checkout whose qa opens the index")
    args = p.parse_args()
    work = tmpdir("docmem")
    try:
        t0 = time.perf_counter()
        write_index(work / "index", args.documents)
        written = round(time.perf_counter() - t0, 1)
        runs = [measure(work / "index", code) for code in (args.code or [ROOT])]
        # Part of VmRSS: the vector index (HNSW over 8 dimensions), read whole into memory.
        faiss_bytes = next((work / "index").glob("gen-*/chunks.faiss")).stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "write_s": written,
        "faiss_bytes_per_document": round(faiss_bytes / args.documents),
        "runs": runs,
    }
    finish("document_memory", result, report)  # write_result adds the benchmark's name and the machine


if __name__ == "__main__":
    main()
