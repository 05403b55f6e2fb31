"""RayEmbedder: a build's texts embedded on a Ray cluster by a driver process (driver.py) it starts."""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import RAY_BLOCK_BATCHES, RAY_CONNECT_TIMEOUT_S, RAY_STALL_TIMEOUT_S, Settings
from qa.embed import Embedder, ModelOptions
from qa.errors import DistributedUnavailable

INSTALL_HINT = "pip install -e '.[ray]'"


def require_ray() -> None:
    """Raise DistributedUnavailable, saying what to install, unless Ray Data can be imported."""
    # find_spec, not import: the parent process never loads Ray (only the driver process does).
    missing = [m for m in ("ray", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise DistributedUnavailable(
            f"--ray needs Ray Data, which is not installed ({', '.join(missing)} missing): "
            f"{INSTALL_HINT} (the ray extra, ray[data])"
        )


class RayEmbedder:
    """Embeds passages as a Ray Data job on the cluster at `address`; tokens are counted here."""

    def __init__(
        self,
        address: str,
        settings: Settings,
        local: Embedder | None = None,
        connect_timeout_s: float = RAY_CONNECT_TIMEOUT_S,
        stall_timeout_s: float = RAY_STALL_TIMEOUT_S,
    ) -> None:
        """Check that Ray is installed; `local` names the model and counts tokens (default: the settings')."""
        require_ray()
        self.address = address
        # Loads its model only when a build has something to split (an unchanged corpus needs none).
        self._local = local or Embedder.from_settings(settings)
        # One torch thread per actor: Ray gives each actor one CPU, and runs one actor per CPU.
        self.options = ModelOptions(
            model=settings.embed_model,
            answer_model=settings.answer_model,
            precision=settings.embed_precision,
            threads=1,
        )
        self.connect_timeout_s = connect_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.nodes: set[str] = set()  # ids of the Ray nodes whose actors embedded texts

    @property
    def name(self) -> str:
        """The model's name, as an index records it (the actors load the same model)."""
        return self._local.name

    @property
    def dimension(self) -> int:
        """Length of a vector."""
        return self._local.dimension

    @property
    def max_tokens(self) -> int:
        """Longer texts are truncated."""
        return self._local.max_tokens

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text` (counted here, for splitting)."""
        return self._local.count_tokens(text)

    def embed_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors of `texts` in their order, embedded on the cluster; `progress(n)` per batch."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        if progress:
            progress(0)  # the bar shows while the cluster starts the actors and loads the model
        # By length, as Embedder does: a block then holds texts of about one length (less padding).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows = batch_size * RAY_BLOCK_BATCHES
        with DriverProcess(
            self.address, dict(self.options), self.connect_timeout_s, self.stall_timeout_s
        ) as driver:
            for start in range(0, len(order), rows):
                positions = order[start : start + rows]
                driver.send_block(np.asarray(positions, dtype=np.int64), [texts[i] for i in positions])
            for positions_done, vectors, nodes in driver.results(batch_size):
                out[positions_done] = vectors
                self.nodes |= nodes
                if progress:
                    progress(len(positions_done))
        return out

    def close(self) -> None:
        """Release the local model (the cluster keeps nothing between builds)."""
        self._local.close()


class DriverProcess:
    """The child process that drives one Ray job (driver.py's `drive`), and the pipe to it."""

    def __init__(
        self, address: str, options: dict[str, Any], connect_timeout_s: float, stall_timeout_s: float
    ) -> None:
        """Start the child and wait until it is connected to the cluster at `address` (or has failed
        to); `options` are the model's, for an embedding job."""
        from qa.distributed.driver import drive

        self.address = address
        self._stall = stall_timeout_s
        fd, self.log = tempfile.mkstemp(prefix="qa-ray-", suffix=".log")
        os.close(fd)
        # spawn, not fork: a forked torch (OpenMP threads, locks) is not safe, nor is a forked Ray.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=drive,
            args=(child, address, options, self.log),
            daemon=True,
            name="qa-ray-driver",
        )
        self._proc.start()
        child.close()
        try:
            self._receive(("ready",), connect_timeout_s, "to connect")
        except BaseException:
            self.stop(failed=True)  # a driver still trying to connect is not left behind
            raise

    def __enter__(self) -> DriverProcess:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.stop(failed=kind is not None)

    def stop(self, failed: bool) -> None:
        """Stop the child; keep Ray's log only when the job failed."""
        self._proc.join(0 if failed else 10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        if not failed:
            with contextlib.suppress(OSError):
                Path(self.log).unlink()

    def send_block(self, positions: np.ndarray, texts: list[str]) -> None:
        """One block of the job's input: texts and their positions in the build's list."""
        self._send(("block", positions, texts))

    def results(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, set[str]]]:
        """Start the job; (positions, vectors, node ids) of each embedded block as it arrives."""
        self._send(("run", batch_size))
        while True:
            message = self._receive(("batch",), self._stall, "for the next embedded batch")
            if message[0] == "done":
                return
            yield message[1], message[2], set(message[3])

    def build_ivfpq(self, vectors: Path, seed: int, block: int) -> tuple[np.ndarray, set[str]]:
        """Train and add the IVF-PQ index of the .npy file `vectors` (on this machine) on the cluster,
        as qa.index.write.build_ivfpq does here; the serialized index and the ids of the nodes used."""
        self._send(("ivfpq", str(vectors), seed, block))
        while True:
            message = self._receive(("working", "index"), self._stall, "for the compressed index")
            if message[0] == "index":
                return message[1], set(message[2])
            if message[0] == "done":
                raise self._failed("the driver process ended its job without the index")

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except OSError:  # the driver process is gone: its last message (an error) or exit code says why
            self._receive((), 1, "after it stopped taking input")
            raise self._failed("it stopped taking input") from None

    def _receive(self, expected: tuple[str, ...], timeout: float, waiting: str) -> tuple[Any, ...]:
        """The child's next message; DistributedUnavailable when it fails, dies or says nothing."""
        try:
            ready = self._conn.poll(timeout)
            message = self._conn.recv() if ready else None
        except (EOFError, OSError):
            self._proc.join(5)
            raise self._failed(
                f"its driver process ended (exit code {self._proc.exitcode}) before the job did; "
                "Ray ends it when the cluster goes away"
            ) from None
        if message is None:
            raise self._failed(f"nothing was heard from it in {timeout:g} s {waiting}")
        if message[0] == "error":
            raise self._failed(message[1])
        if message[0] not in (*expected, "done"):
            raise self._failed(f"the driver process said {message[0]!r}, not one of {expected!r}")
        return tuple(message)

    def _failed(self, reason: str) -> DistributedUnavailable:
        return DistributedUnavailable(
            f"the Ray build on {self.address} failed: {reason}. Nothing was written (Ray's log: {self.log})"
        )
