"""Embedder: texts → normalised float32 vectors with a sentence-transformers model, loaded offline.

An `Encoder` (base.py) is a model that turns a list of texts into vectors. `Embedder` wraps one
with what every caller needs: passages embedded in batches of about one length, questions asked
at the same time sharing one model call (`QueryBatcher`, batch.py), and one model call at a time.
A test's fake implements the `Encoder` protocol only, and gets all of that from `Embedder`.

The real encoders, chosen by `load_encoder` (load.py) from what the model folder says it is:

- `DirectBert` (direct.py): when modules.json is exactly Transformer → Pooling(mean) [→ Normalize]
  over a BERT encoder (all-MiniLM-L6-v2 and its kind), a plain-torch BERT forward pass that
  gives the vectors of `SentenceTransformer.encode` at a fraction of its start-up and per-call cost.
- `STBackend` (st.py): any other model, through `SentenceTransformer.encode`.
- `ModelProcess` (process.py): either of them in a child process, for the server.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Unpack

import numpy as np

from qa.config import Settings
from qa.embed.base import (
    LAYER_TENSORS,
    QKV,
    Encoder,
    Runtime,
    configure_threads,
    native_bfloat16,
    resolve_model,
)
from qa.embed.batch import MAX_QUERY_BATCH, QueryBatcher
from qa.embed.direct import DirectBert, direct_plan
from qa.embed.load import Deferred, ModelOptions, load_encoder
from qa.embed.process import ModelProcess
from qa.embed.st import STBackend

__all__ = [
    "DOC_BATCH_TOKENS",
    "LAYER_TENSORS",
    "MAX_QUERY_BATCH",
    "QKV",
    "Deferred",
    "DirectBert",
    "Embedder",
    "Encoder",
    "ModelOptions",
    "ModelProcess",
    "QueryBatcher",
    "Runtime",
    "STBackend",
    "configure_threads",
    "direct_plan",
    "load_encoder",
    "native_bfloat16",
    "resolve_model",
]

# Token budget of one passage batch on the direct path: past a few thousand tokens the
# activations leave the CPU caches and throughput drops.
DOC_BATCH_TOKENS = 1024


class Embedder:
    """Encodes passages and questions with one encoder, loaded once and shared by threads."""

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        runtime: Runtime | None = None,
        max_query_batch: int = MAX_QUERY_BATCH,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Wrap `encoder` (`runtime`: how it runs), or load the model that `options` describe
        (see load_encoder; no options: the default model with its answer model)."""
        if encoder is None:
            encoder, runtime = load_encoder(**options)
        elif options:
            raise TypeError(f"Embedder takes an encoder or options to load one, not both: {sorted(options)}")
        self.encoder = encoder
        self._runtime = runtime
        self._lock = threading.Lock()  # one model call at a time: the cores are already all in use
        self._batcher = QueryBatcher(self._encode, max_query_batch)

    @classmethod
    def from_settings(cls, settings: Settings, process: bool = False) -> Embedder:
        """The embedder the settings describe (model, answer model, threads, precision). The model
        loads when first needed: an index build that finds nothing changed never loads it."""
        deferred = Deferred(
            model=settings.embed_model,
            threads=settings.threads,
            precision=settings.embed_precision,
            process=process,
            answer_model=settings.answer_model,
        )
        return cls(deferred)

    @property
    def name(self) -> str:
        """The model's name, as an index records it."""
        return self.encoder.name

    @property
    def dimension(self) -> int:
        """Length of a vector."""
        return int(self.encoder.dimension)

    @property
    def max_tokens(self) -> int:
        """Longer texts are truncated."""
        return int(self.encoder.max_tokens)

    @property
    def runtime(self) -> Runtime:
        """How the model runs (a deferred model is loaded to tell)."""
        if self._runtime is None:
            self._runtime = self.encoder.load()[1] if isinstance(self.encoder, Deferred) else Runtime()
        return self._runtime

    @property
    def backend(self) -> str:
        """How the model runs: "direct", "sentence-transformers", or "custom" (an encoder given as is)."""
        return self.runtime.backend

    @property
    def precision(self) -> str:
        """Of the matrix products: "float32" or "bfloat16"."""
        return self.runtime.precision

    @property
    def threads(self) -> int:
        """torch's intra-op threads (in the model process, if the model runs in one)."""
        return self.runtime.threads

    @property
    def batcher(self) -> QueryBatcher:
        """The question batcher (its counters tell how many questions shared each model call)."""
        return self._batcher

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        return self.encoder.count_tokens(text)

    def embed_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed many passages in batches; `progress(n)` is called after each batch.

        Texts are sorted by length so that a batch holds texts of about one length (padding is
        the main waste of encoding). The direct path also caps a batch at DOC_BATCH_TOKENS tokens.
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for idx in self._batches(order, texts, batch_size):
            out[idx] = self._encode([texts[i] for i in idx])
            if progress:
                progress(len(idx))
        return out

    def _batches(self, order: list[int], texts: Sequence[str], batch_size: int) -> list[list[int]]:
        if self.backend != "direct":
            return [order[b : b + batch_size] for b in range(0, len(order), batch_size)]
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            # Characters/4 is a cheap token estimate; sorted order means the last text is the longest.
            tokens = min(self.max_tokens, math.ceil(len(texts[i]) / 4) + 2)
            if current and (len(current) >= batch_size or (len(current) + 1) * tokens > DOC_BATCH_TOKENS):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question: a (dimension,) normalised float32 vector.

        Safe to call from many threads: questions asked together share one model call.
        """
        return self._batcher(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed several questions in one model call."""
        return self._encode(list(texts))

    def close(self) -> None:
        """Stop the model process, if the model runs in one."""
        if isinstance(self.encoder, ModelProcess | Deferred):
            self.encoder.close()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self.encoder.encode(texts)
