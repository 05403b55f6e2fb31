"""RayIndexBuilder: the compressed dense index of a `--ray` build, trained and added on the cluster."""

from __future__ import annotations

import time
from pathlib import Path

import faiss
import numpy as np

from qa.config import RAY_CONNECT_TIMEOUT_S, RAY_STALL_TIMEOUT_S
from qa.distributed.ray_embed import DriverProcess, require_ray
from qa.index import write


class RayIndexBuilder:
    """A qa.index.DenseBuilder: the IVF-PQ tier on the Ray cluster at `address`, the others here."""

    def __init__(
        self,
        address: str,
        connect_timeout_s: float = RAY_CONNECT_TIMEOUT_S,
        stall_timeout_s: float = RAY_STALL_TIMEOUT_S,
    ) -> None:
        """Check that Ray is installed; nothing is started until a build needs the compressed tier."""
        require_ray()
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.nodes: set[str] = set()  # ids of the Ray nodes that trained or added
        self.seconds: float | None = None  # the last job's, connecting included; None: none ran

    def __call__(self, vectors: np.ndarray, saved: Path) -> faiss.Index:
        """The dense index of `vectors`, which the build saved at `saved` (a .npy on this machine)."""
        if write.index_type(len(vectors)) != "ivfpq":
            # Exact and HNSW need no training and take minutes at most here: not worth a job.
            return write.build_faiss(vectors)
        t0 = time.perf_counter()
        with DriverProcess(self.address, {}, self.connect_timeout_s, self.stall_timeout_s) as driver:
            # The driver reads the rows from the file. The sample's seed and the block size are
            # build_ivfpq's, read here so that the driver's can't differ (a test lowers the block).
            data, nodes = driver.build_ivfpq(saved, write.PQ_SAMPLE_SEED, write.PQ_ADD_BLOCK)
        self.nodes = nodes
        self.seconds = round(time.perf_counter() - t0, 2)
        return faiss.deserialize_index(data)
