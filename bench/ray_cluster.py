"""A Ray cluster of N nodes on this machine, for the Ray tests and bench/scale_ray.py.

The cluster (ray.cluster_utils.Cluster: a head node and N - 1 more, each with its own raylet and
object store) lives in a child process, so a test can make it go away in the middle of a build and
every one of its processes ends with that child, by its pid:

    with LocalCluster(nodes=2) as cluster:
        cluster.address        # "127.0.0.1:PORT", for `qa index --ray`
        cluster.node_pids()    # {node id: pids of its processes and their children}
        cluster.stop()         # the cluster goes away (also done on leaving the block)
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.child import child_env
from bench.machine import descendants
from bench.paths import PY, ROOT

OBJECT_STORE_MIB = 100  # per node: the tests' and the bench's blocks are small; Ray spills past it
START_TIMEOUT_S = 120.0


class LocalCluster:
    """A local Ray cluster of `nodes` nodes with `cpus` CPUs each, in a child process."""

    def __init__(self, nodes: int = 2, cpus: int = 1) -> None:
        """Start the cluster and wait until every node has joined."""
        # No usage statistics: nothing outside this machine can be reached, and nothing should be.
        env = child_env({"RAY_USAGE_STATS_ENABLED": "0"})
        argv = [PY, "-m", "bench.ray_cluster", "--nodes", str(nodes), "--cpus", str(cpus)]
        self._proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        # The child's one line, once every node is up.
        ready, _, _ = select.select([self._proc.stdout], [], [], START_TIMEOUT_S)
        line = self._proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            self._proc.wait(10)
            raise RuntimeError(f"the Ray cluster did not start (exit code {self._proc.returncode})")
        info = json.loads(line)
        # 127.0.0.1: ray.init dials this machine's address for it, where the nodes listen.
        self.address = "127.0.0.1:" + info["address"].rsplit(":", 1)[1]
        self.nodes: dict[str, list[int]] = info["nodes"]
        self.pid = self._proc.pid  # the process holding the cluster; every node's processes are under it

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def node_pids(self) -> dict[str, list[int]]:
        """Each node's processes (raylet, object store, GCS on the head) and their children (workers)."""
        return {
            n: sorted({*pids, *(d for p in pids for d in descendants(p))}) for n, pids in self.nodes.items()
        }

    def stop(self) -> None:
        """Shut the cluster down: ask the child, then make sure, by its pid."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("stop\n")
                self._proc.stdin.flush()
                self._proc.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                os.kill(self._proc.pid, signal.SIGKILL)
                self._proc.wait()


def serve(nodes: int, cpus: int) -> None:
    """The child: start the cluster, print its address and nodes, shut it down on 'stop' or EOF."""
    # Its own temporary folder (sessions, logs, sockets, the address file `ray.init("auto")` reads),
    # removed with the cluster: nothing lands in, or needs, the shared /tmp/ray. Short, for sockets.
    temp = tempfile.mkdtemp(prefix="qa-ray-")
    os.environ["RAY_TMPDIR"] = temp
    os.makedirs(os.path.join(temp, "ray"))
    from ray.cluster_utils import Cluster

    args: dict[str, Any] = {"num_cpus": cpus, "object_store_memory": OBJECT_STORE_MIB << 20}
    try:
        cluster = Cluster(initialize_head=True, head_node_args={**args, "include_dashboard": False})
        try:
            for _ in range(nodes - 1):
                cluster.add_node(**args)
            members = [cluster.head_node, *cluster.worker_nodes]
            pids = {
                n.node_id: [p.process.pid for ps in n.all_processes.values() for p in ps] for n in members
            }
            print(json.dumps({"address": cluster.address, "nodes": pids}), flush=True)
            sys.stdin.readline()  # "stop", or EOF when the parent is gone
        finally:
            cluster.shutdown()
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Run as the cluster's child process (see LocalCluster)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--cpus", type=int, default=1)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    serve(args.nodes, args.cpus)
    print(f"cluster of {args.nodes} node(s) ran {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
