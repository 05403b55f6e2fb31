"""The model in a child process, for a server whose request threads would otherwise hold it up."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from qa.embed.base import Encoder, Runtime
from qa.errors import ModelUnavailable

log = logging.getLogger(__name__)

# Loads an encoder from keyword options: run in the child, so it must be a module-level function.
Loader = Callable[..., tuple[Encoder, Runtime]]


def _serve_model(conn: Any, load: Loader, options: dict[str, Any]) -> None:
    """The model process: load the encoder, say what it is, then encode what it is sent."""
    try:
        encoder, runtime = load(**options)
    except Exception as exc:  # told to the parent, which raises it there
        conn.send(("error", str(getattr(exc, "message", exc))))
        return
    conn.send(("ready", encoder.name, encoder.dimension, encoder.max_tokens, runtime))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if request[0] == "stop":
            return
        try:
            # One byte says what follows: 0, the answer; 1, an error message.
            if request[0] == "encode":
                vectors = np.asarray(encoder.encode(request[1]), dtype=np.float32)
                conn.send_bytes(b"\x00" + vectors.tobytes())
            else:
                conn.send_bytes(b"\x00" + str(encoder.count_tokens(request[1])).encode())
        except Exception as exc:
            conn.send_bytes(b"\x01" + str(exc).encode())


class ModelProcess:
    """The model in a child process: the server's request threads then never make it wait for the
    Python lock (each of the forward pass's ~60 torch calls takes that lock again), and the two
    processes use both cores. Questions travel over a pipe; the child restarts after a crash."""

    # As the child reports them once it has loaded the model.
    name: str
    dimension: int
    max_tokens: int
    runtime: Runtime

    def __init__(self, load: Loader, **options: Any) -> None:
        """Start a child that runs `load(**options)` and serves the encoder it returns."""
        self._load = load
        self._options = options
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        import multiprocessing

        # spawn, not fork: a forked torch (OpenMP threads, locks) is not safe to use.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve_model, args=(child, self._load, self._options), daemon=True, name="qa-model"
        )
        self._proc.start()
        child.close()
        try:
            hello = self._conn.recv()
        except (EOFError, OSError):
            hello = ("error", f"the model process exited with code {self._proc.exitcode}")
        if hello[0] != "ready":
            self._proc.join(5)
            raise ModelUnavailable(hello[1])
        _, self.name, self.dimension, self.max_tokens, self.runtime = hello

    def _call(self, send: Callable[[], None]) -> bytes:
        with self._lock:
            try:
                if not self._proc.is_alive():
                    log.warning(
                        "the model process had stopped (exit code %s); restarting it", self._proc.exitcode
                    )
                    self._start()
                send()
                data = self._conn.recv_bytes()
            except (EOFError, OSError):
                raise ModelUnavailable(
                    f"the model process stopped (exit code {self._proc.exitcode}); "
                    "it is restarted for the next question"
                ) from None
        if data[:1] != b"\x00":
            raise RuntimeError(f"the model process failed: {data[1:].decode(errors='replace')}")
        return data[1:]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors computed in the child, (len(texts), dimension) float32."""
        data = self._call(lambda: self._conn.send(("encode", texts)))
        return np.frombuffer(data, dtype=np.float32).reshape(len(texts), self.dimension).copy()

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens (counted in the child)."""
        return int(self._call(lambda: self._conn.send(("count", text))))

    def close(self) -> None:
        """Ask the child to stop, and make sure it has."""
        with self._lock:
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
            self._conn.close()
