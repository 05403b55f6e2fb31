"""Which encoder runs a model: the direct path when the model folder qualifies, else
sentence-transformers; in this process or in a child one."""

from __future__ import annotations

import logging
import os
import threading
from typing import TypedDict, Unpack

import numpy as np

from qa.config import DEFAULT_MODEL, PRECISIONS
from qa.embed.base import Encoder, Runtime, configure_threads, offline_hub, resolve_model
from qa.embed.direct import DirectBert, direct_plan
from qa.embed.process import ModelProcess
from qa.embed.st import STBackend
from qa.errors import ModelUnavailable
from qa.model import Delta, load_delta, model_name, resolve_delta

log = logging.getLogger(__name__)


class ModelOptions(TypedDict, total=False):
    """load_encoder's arguments, as `Embedder(**options)` passes them on."""

    model: str
    threads: int
    backend: str
    precision: str
    process: bool
    answer_model: str


def load_encoder(
    model: str = DEFAULT_MODEL,
    threads: int = 0,
    backend: str = "auto",
    precision: str = "auto",
    process: bool = False,
    answer_model: str = "auto",
) -> tuple[Encoder, Runtime]:
    """The encoder for `model`, and how it runs.

    `backend`: "auto" (direct when the model qualifies), "direct" or "sentence-transformers".
    `precision`: "auto" lets the direct path use bfloat16 matrix products on CPUs that have them
    natively; "float32" never does. `process`: run the model in a child process (`ModelProcess`),
    for a server whose request threads would otherwise hold it up. `answer_model`: the trained
    delta laid over the model ("auto": the bundled one over the default model; "none"; or a folder
    written by `qa train`).
    """
    if precision not in PRECISIONS:
        choices = ", ".join(PRECISIONS)
        raise ModelUnavailable(f"embedding precision must be one of {choices}, not {precision!r}")
    if not process:
        return load_local(model, threads, backend, precision, answer_model)
    # Threads 0 in the child: one per core but one, which is left to the server's request threads
    # (their OpenMP workers spin while they wait, and on 2 cores they took 1.3 of them).
    remote = ModelProcess(
        load_local,
        model=model,
        threads=threads or max(1, (os.cpu_count() or 1) - 1),
        backend=backend,
        precision=precision,
        answer_model=answer_model,
    )
    return remote, remote.runtime


class Deferred:
    """An encoder that loads its model on first use. Its name is known before (qa.model's
    model_name), so a build that finds nothing to embed never loads the model."""

    def __init__(self, **options: Unpack[ModelOptions]) -> None:
        self._options = options
        self._name = model_name(options.get("model", DEFAULT_MODEL), options.get("answer_model", "auto"))
        self._loaded: tuple[Encoder, Runtime] | None = None
        self._lock = threading.Lock()

    def load(self) -> tuple[Encoder, Runtime]:
        """The encoder and how it runs, loading the model the first time."""
        with self._lock:
            if self._loaded is None:
                self._loaded = load_encoder(**self._options)
            return self._loaded

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._loaded is not None

    @property
    def name(self) -> str:
        """The model's name, without loading it (the loaded encoder's once it is loaded)."""
        return self._loaded[0].name if self._loaded else self._name

    @property
    def dimension(self) -> int:
        """Length of a vector (loads the model)."""
        return self.load()[0].dimension

    @property
    def max_tokens(self) -> int:
        """Longest text the model reads (loads the model)."""
        return self.load()[0].max_tokens

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text` (loads the model)."""
        return self.load()[0].count_tokens(text)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts` (loads the model)."""
        return self.load()[0].encode(texts)

    def close(self) -> None:
        """Stop the model process, if the model was loaded into one."""
        if self._loaded is not None and isinstance(self._loaded[0], ModelProcess):
            self._loaded[0].close()


def load_local(
    model: str, threads: int, backend: str, precision: str, answer_model: str
) -> tuple[Encoder, Runtime]:
    """The model in this process (see load_encoder for the arguments), with any failure to load it
    told as ModelUnavailable."""
    offline_hub()
    path = resolve_model(model)
    delta_path = resolve_delta(answer_model, model)
    delta = load_delta(delta_path) if delta_path is not None else None
    try:
        threads = configure_threads(threads)
        direct = _direct(path, backend, precision, delta, model)
        if direct is not None:
            return direct, Runtime("direct", direct.precision, threads)
        return STBackend(path, delta, name=model), Runtime("sentence-transformers", "float32", threads)
    except ModelUnavailable:
        raise
    except Exception as exc:  # the libraries raise many kinds; the message is what matters
        raise ModelUnavailable(
            f"could not load embedding model {model!r} from {path}: {exc}. "
            "Set QA_EMBED_MODEL (or --model) to a local sentence-transformers model path."
        ) from None


def _direct(path: str, backend: str, precision: str, delta: Delta | None, name: str) -> DirectBert | None:
    """The model on the direct path, or None for sentence-transformers (when `backend` allows it)."""
    plan = direct_plan(path) if backend in ("auto", "direct") else None
    if backend == "direct" and plan is None:
        raise ValueError("the model does not qualify for the direct path (see the log)")
    if plan is None:
        return None
    try:
        return DirectBert(plan, precision, delta, name=name)
    except (KeyError, ValueError, OSError, RuntimeError) as exc:
        if backend == "direct":
            raise
        log.warning("direct path failed for %s (%s); using sentence-transformers", path, exc)
        return None
