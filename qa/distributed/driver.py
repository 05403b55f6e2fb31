"""The Ray driver: a child process of the build that connects to the cluster and runs one job there.

The parent (ray_embed.DriverProcess) asks for one of two jobs, after ("ready",) says it is connected:
- embedding, as a Ray Data job: ("block", positions, texts)... then ("run", batch size); the driver
  sends ("batch", positions, vectors, node ids) for each embedded block, as the stream yields it;
- the compressed dense index (qa.index.write's IVF-PQ tier): ("ivfpq", .npy path, seed, block
  rows); the driver sends ("working", stage, done, total) as it goes and at least every
  RAY_HEARTBEAT_S, then ("index", serialized index, node ids).
Then ("done",); or ("error", message) instead, when something fails. Ray is imported here only,
inside the functions, so that the parent can start this process without loading Ray itself.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import qa
from qa.config import RAY_HEARTBEAT_S
from qa.errors import DistributedUnavailable, QAError
from qa.index.write import ivfpq_sample, merge_ivfpq, train_ivfpq

PACKAGE = Path(qa.__file__).resolve().parent


def drive(conn: Any, address: str, options: dict[str, Any], log: str) -> None:
    """The child's whole life: connect, take the job, run it, send its results back."""
    _log_to(log)
    import ray

    try:
        _connect(address)
        conn.send(("ready",))
        job = conn.recv()
        if job[0] == "ivfpq":
            conn.send(("index", *_ivfpq(conn, job[1], job[2], job[3])))
        else:
            refs, batch_size = _input_blocks(conn, job)
            for position, vector, node in _embedded(refs, options, batch_size):
                conn.send(("batch", position, vector, sorted(set(node.tolist()))))
        conn.send(("done",))
    except QAError as exc:
        conn.send(("error", exc.message))
    except Exception as exc:  # Ray raises many kinds; the parent turns the message into its error
        first_line = (str(exc).strip().splitlines() or [""])[0]
        conn.send(("error", f"{type(exc).__name__}: {first_line[:400]}"))
    finally:
        ray.shutdown()


def _log_to(path: str) -> None:
    """Send this process's output, Ray's own C++ logging included, to the log file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _connect(address: str) -> None:
    """ray.init on the cluster at `address`, after checking that something listens there."""
    import ray

    _check_reachable(address)
    # The workers import this very `qa` (shipped to the cluster), so the vectors are the ones a
    # local build would make, whatever copy the nodes have installed.
    runtime_env = {"py_modules": [str(PACKAGE)], "excludes": ["__pycache__", "*.pyc"]}
    ray.init(
        address=address,
        runtime_env=runtime_env,
        logging_level=logging.WARNING,
        log_to_driver=False,
        namespace="qa-index",
    )


def _check_reachable(address: str) -> None:
    """DistributedUnavailable unless the cluster's address accepts a TCP connection."""
    # ray.init retries an address where nothing listens for ever; this fails in a moment instead.
    target = _bootstrap_address(address)
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        shown = address if target == address else f"{address} ({target})"
        raise DistributedUnavailable(
            f"no Ray cluster at {shown}: {exc}. Start one with `ray start --head` (README, Scale)"
        ) from None


def _bootstrap_address(address: str) -> str:
    """The host:port that ray.init will dial for `address`."""
    try:
        # Private, but it is what ray.init itself calls: 'auto' read from the running cluster's
        # file, and 127.0.0.1 turned into this machine's address (where a `ray start` node listens).
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:
        return address
    target = canonicalize_bootstrap_address(address)
    if target is None:
        raise DistributedUnavailable(f"no running Ray cluster found for address {address!r}")
    return str(target)


def _input_blocks(conn: Any, message: tuple[Any, ...]) -> tuple[list[Any], int]:
    """The texts the parent sends (`message` the first), put into the object store block by block;
    and the batch size."""
    import pyarrow as pa
    import ray

    refs: list[Any] = []
    while message[0] != "run":
        refs.append(ray.put(pa.table({"position": message[1], "text": message[2]})))
        message = conn.recv()
    return refs, int(message[1])


def _embedded(refs: list[Any], options: dict[str, Any], batch_size: int) -> Any:
    """The job: each block through an actor that loaded the model once; the results as a stream."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the parent shows its own progress bar
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = max(1, min(cpus, len(refs)))
    dataset = ray.data.from_arrow_refs(refs).map_batches(
        EncodeBlock,
        fn_constructor_kwargs={"options": options, "batch_size": batch_size},
        batch_size=None,  # a whole block per call: the parent sized them
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
        num_cpus=1,
        # Fault tolerance is Ray Data's own: an actor that dies (its process killed, its node lost) is
        # started again and its block retried (max_restarts and max_task_retries -1: Ray Data sets
        # them on its pool, and deprecates setting them here). A build that stops moving still
        # ends: the parent gives up after RAY_STALL_TIMEOUT_S without an embedded block.
    )
    # Streaming: blocks are embedded while earlier ones are read here, and Ray Data's backpressure
    # bounds the blocks in flight; the parent copies each into its one preallocated array.
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        yield batch["position"], batch["vector"], batch["node"]


class EncodeBlock:
    """A Ray actor: loads the model once, then embeds each block it is given."""

    def __init__(self, options: dict[str, Any], batch_size: int) -> None:
        """Load the model that `options` describe (qa.embed.load_encoder's arguments)."""
        import ray

        from qa.embed import Embedder

        self._embedder = Embedder(**options)
        self._batch_size = batch_size
        self._node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The block's vectors, with its positions and the id of the node that embedded it."""
        texts = [str(t) for t in batch["text"]]
        vectors = self._embedder.embed_documents(texts, batch_size=self._batch_size)
        return {"position": batch["position"], "vector": vectors, "node": np.full(len(texts), self._node)}


def _ivfpq(conn: Any, path: str, seed: int, block: int) -> tuple[np.ndarray, list[str]]:
    """The IVF-PQ index of the vectors saved at `path`, trained and added on the cluster, serialized;
    and the ids of the nodes that did it. The same index as qa.index.write.build_ivfpq's."""
    import ray

    # The file is on this machine (the build just saved it): only the rows sent are read.
    vectors = np.load(path, mmap_mode="r")
    n, dim = vectors.shape
    # Training is one k-means after another on one sample: one task, as many threads as a node has.
    cpus = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    threads = max(1, int(max(cpus, default=1)))
    sample = ray.put(np.ascontiguousarray(vectors[ivfpq_sample(n, dim, seed)], dtype=np.float32))
    train: Any = ray.remote(_train).options(num_cpus=threads, num_returns=2)
    trained, node = train.remote(sample, n, threads)
    del sample  # the task holds it; the object store frees it once training is done
    index = faiss.deserialize_index(_wait(conn, trained, ("training", 0, n)))
    nodes: set[str] = {ray.get(node)}
    conn.send(("working", "adding", 0, n))
    nodes |= _add_blocks(conn, vectors, trained, index, block)
    return faiss.serialize_index(index), sorted(nodes)


def _add_blocks(conn: Any, vectors: np.ndarray, trained: Any, index: faiss.Index, block: int) -> set[str]:
    """Add `vectors` to `index` as one task per block of rows (the trained index in `trained`);
    the ids of the nodes that did."""
    import ray

    n = len(vectors)
    # One CPU a task, spread over the nodes; at most one block in flight per CPU of the cluster, so
    # the object store holds no more blocks than that. Merged in row order, as build_ivfpq adds.
    add: Any = ray.remote(_add).options(num_cpus=1, num_returns=2, scheduling_strategy="SPREAD")
    in_flight = max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending: deque[tuple[int, Any, Any]] = deque()
    nodes: set[str] = set()

    def merge_first() -> None:
        # No heartbeat here: a block takes seconds, so the parent's stall timeout can catch one
        # that never comes back (a task waiting for a CPU that no node has any more).
        start, part, node = pending.popleft()
        merge_ivfpq(index, faiss.deserialize_index(ray.get(part)), start)
        nodes.add(ray.get(node))
        conn.send(("working", "adding", min(n, start + block), n))

    for start in range(0, n, block):
        rows = ray.put(np.ascontiguousarray(vectors[start : start + block], dtype=np.float32))
        pending.append((start, *add.remote(trained, rows)))
        if len(pending) >= in_flight:
            merge_first()
    while pending:
        merge_first()
    return nodes


def _wait(conn: Any, ref: Any, stage: tuple[str, int, int]) -> Any:
    """ray.get(ref), telling the parent every RAY_HEARTBEAT_S that the job is still going: training
    takes minutes at millions of vectors, longer than the parent waits for a silent driver."""
    import ray

    while not ray.wait([ref], timeout=RAY_HEARTBEAT_S)[0]:
        conn.send(("working", *stage))
    return ray.get(ref)


def _train(sample: np.ndarray, n: int, threads: int) -> tuple[np.ndarray, str]:
    """A Ray task: the empty index trained on `sample` (train_ivfpq), serialized; and its node's id."""
    faiss.omp_set_num_threads(threads)
    return faiss.serialize_index(train_ivfpq(sample, n)), _node_id()


def _add(trained: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, str]:
    """A Ray task: the trained index with `rows` added, serialized; and its node's id."""
    # One thread, as one CPU was asked for: adding makes the same codes with any number of threads.
    faiss.omp_set_num_threads(1)
    index = faiss.deserialize_index(trained)
    index.add(rows)
    return faiss.serialize_index(index), _node_id()


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())
