"""Index build throughput on a local Ray cluster of 1 node and of 2 nodes, and the memory of each node.

Each build is `qa index --ray` as the library runs it (build_index with a RayEmbedder, nothing reused):
every Ray build is a new Ray Data job, so its time includes starting the actors and loading the model
in each, as a real one does. For reference, the same build without Ray (Embedder in this process,
with one torch thread like each actor). A node is one CPU (one actor, one torch thread). Peak memory
per node is the highest sum of the resident memory of its processes (raylet, object store, workers;
GCS on the head) seen while the builds ran, sampled every 0.2 s; the driver (this process, which
splits the documents, and the Ray driver process it starts) is counted apart.

On this project's machine both nodes share 2 cores with whatever else runs there: the ratio shows
what a second node on a second core gives after Ray's overhead, not how a cluster of machines scales.

    .venv/bin/python bench/scale_ray.py [--squad PATH | --articles N] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build_speed import corpus_documents
from bench.corpora import DEFAULT_SQUAD
from bench.machine import background_load, rss_mib, wait_for_quiet
from bench.paths import tmpdir
from bench.results import finish, table
from bench.stats import median_of

DRIVER = "driver"  # NodeMemory's name for this process and its children, the Ray driver among them
HEADERS = ["build", "nodes used", "seconds", "texts/s", "vs 1 node", "peak RSS MiB per node", "driver MiB"]
HEADERS += ["others' cores before"]


class NodeMemory:
    """The highest resident memory of each node's processes while running, sampled in a thread."""

    def __init__(self, nodes: dict[str, list[int]], cluster: int = 0, every_s: float = 0.2) -> None:
        """`nodes`: each node's own processes, with DRIVER for this one; `cluster`: the cluster's process."""
        # A node's processes count with their children (the workers); the driver without the cluster.
        self.nodes = nodes
        self._cluster = cluster
        self.peak = {node: 0.0 for node in nodes}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> NodeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for node, pids in self.nodes.items():
                now = self._driver() if node == DRIVER else sum(rss_mib(p)["rss_mib"] or 0.0 for p in pids)
                self.peak[node] = max(self.peak[node], round(now, 1))

    def _driver(self) -> float:
        """This process and its children (the Ray driver among them), the cluster's process tree apart."""
        ours = rss_mib(os.getpid())["rss_mib"] or 0.0
        return ours - ((rss_mib(self._cluster)["rss_mib"] or 0.0) if self._cluster else 0.0)


def build_once(docs: list[Any], local: Any, address: str | None) -> dict[str, Any]:
    """One full build on the cluster at `address` (None: in this process, with `local`); its figures."""
    from qa.build import BuildOptions, build_index
    from qa.config import Settings
    from qa.distributed import RayEmbedder

    settings = Settings.from_env(env={})
    # `local` counts tokens for splitting either way, as `qa index --ray` does with its own model.
    embedder = RayEmbedder(address, settings, local) if address else local
    index_dir = tmpdir("scale-ray")
    t0 = time.perf_counter()
    report = build_index(docs, embedder, index_dir, BuildOptions.from_settings(settings, incremental=False))
    seconds = time.perf_counter() - t0
    shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "seconds": round(seconds, 2),
        "embed_seconds": report.embed_seconds,
        "texts": report.embedded_texts,
        "chunks": report.chunks,
        "nodes_used": len(embedder.nodes) if isinstance(embedder, RayEmbedder) else 0,
    }


def builds(docs: list[Any], local: Any, nodes: int, repeat: int, wait_quiet: float) -> dict[str, Any]:
    """`repeat` builds on a fresh local cluster of `nodes` nodes of 1 CPU (0: without Ray)."""
    from bench.ray_cluster import LocalCluster

    # Ray runs its workers at nice 15: other work on the machine slows them more than a plain build.
    others = wait_for_quiet(wait_quiet)
    driver = {DRIVER: [os.getpid()]}  # this process and the Ray driver process it starts
    if not nodes:
        with NodeMemory(driver) as memory:
            runs = [build_once(docs, local, None) for _ in range(repeat)]
        return {**summary(runs, memory.peak), "others_cores_before": others}
    print(f"… {nodes} node(s): starting the cluster", flush=True)
    with (
        LocalCluster(nodes=nodes, cpus=1) as cluster,
        NodeMemory({**cluster.nodes, **driver}, cluster.pid) as memory,
    ):
        runs = []
        for i in range(repeat):
            runs.append(build_once(docs, local, cluster.address))
            print(f"    build {i + 1}/{repeat}: {runs[-1]['seconds']} s", flush=True)
    return {**summary(runs, memory.peak), "others_cores_before": others}


def summary(runs: list[dict[str, Any]], peak: dict[str, float]) -> dict[str, Any]:
    """The medians of the runs, with throughput, and the memory figures."""
    seconds = median_of(runs, "seconds")
    return {
        "seconds": seconds,
        "embed_seconds": median_of(runs, "embed_seconds"),
        "texts_per_s": round(runs[0]["texts"] / seconds, 1),
        "nodes_used": max(r["nodes_used"] for r in runs),
        "peak_rss_mib_per_node": sorted((m for n, m in peak.items() if n != DRIVER), reverse=True),
        "driver_peak_rss_mib": peak[DRIVER],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build on 1 node, on 2 nodes and without Ray; write and print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--squad", type=Path, default=DEFAULT_SQUAD, help="a SQuAD-format JSON whose articles to index"
    )
    p.add_argument("--articles", type=int, default=0, help="use N generated articles instead of SQuAD")
    p.add_argument("--repeat", type=int, default=2, help="builds of each kind (median reported)")
    p.add_argument("--wait-quiet", type=float, default=60.0, help="seconds to wait for an idle machine first")
    args = p.parse_args(argv)
    from qa.distributed import require_ray
    from qa.embed import Embedder

    require_ray()
    corpus_name, docs = corpus_documents(args)
    if not args.articles and args.squad.exists():
        corpus_name = args.squad.name  # any SQuAD-format file (NewsQA's dev stories, say)
    # One torch thread, as in each Ray actor: the same work on one core, without Ray.
    local = Embedder(threads=1)
    load_before = background_load()
    without, one, two = (builds(docs, local, n, args.repeat, args.wait_quiet) for n in (0, 1, 2))
    result = {
        "corpus": corpus_name,
        "documents": len(docs),
        "texts_embedded": one["runs"][0]["texts"],
        "chunks": one["runs"][0]["chunks"],
        "repeat": args.repeat,
        "background_load_cores_before": load_before,
        "local": without,
        "ray_1_node": one,
        "ray_2_nodes": two,
        "throughput_2_nodes_vs_1": round(two["texts_per_s"] / one["texts_per_s"], 2),
    }
    finish("scale_ray", result, report_table)
    return result


def report_table(r: dict[str, Any]) -> str:
    """The corpus, the ratio, and the three builds side by side."""
    one = r["ray_1_node"]["texts_per_s"]
    rows = []
    for label, key in (("without Ray (1 thread)", "local"), ("Ray, 1 node", "ray_1_node"),
                       ("Ray, 2 nodes", "ray_2_nodes")):  # fmt: skip
        f = r[key]
        peaks = " / ".join(f"{m:,.0f}" for m in f["peak_rss_mib_per_node"]) or None
        ratio = round(f["texts_per_s"] / one, 2) if key != "local" else None
        rows.append([label, f["nodes_used"] or None, f["seconds"], f["texts_per_s"], ratio, peaks,
                     f["driver_peak_rss_mib"], f["others_cores_before"]])  # fmt: skip
    head = (
        f"{r['corpus']}: {r['documents']} documents → {r['texts_embedded']} texts embedded per build "
        f"(median of {r['repeat']})\nthroughput on 2 nodes vs 1 node: {r['throughput_2_nodes_vs_1']}x "
        "(both nodes on this one machine: see the module's docstring)\n\n"
    )
    return head + table(HEADERS, rows)


if __name__ == "__main__":
    main()
