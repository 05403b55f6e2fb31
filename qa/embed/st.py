"""Any model that the direct path does not take, through sentence-transformers.

Named `st`, not `sentence_transformers`, so as not to shadow the library it imports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa.embed.base import offline_hub
from qa.model import Delta, apply_delta, combined_name


class STBackend:
    """Any sentence-transformers model, through SentenceTransformer.encode."""

    def __init__(self, path: str, delta: Delta | None = None, name: str | None = None) -> None:
        """`delta`: trained tensors laid over the encoder's weights (the answer model). `name`: the
        base model's name as the user gave it (default: `path`); a delta's name is added to it."""
        offline_hub()
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        base = name if name is not None else path
        self.name = combined_name(base, delta.name) if delta is not None else base
        self.model = SentenceTransformer(path, device="cpu")
        if delta is not None:
            transformer: Any = self.model[0].auto_model
            transformer.load_state_dict(apply_delta(transformer.state_dict(), delta))
        self.model.eval()
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(self.model.max_seq_length or 0)
        self.tokenizer: Any = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence vectors, (len(texts), dimension) float32."""
        with self._torch.inference_mode():
            vecs = self.model.encode(
                texts,
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)
