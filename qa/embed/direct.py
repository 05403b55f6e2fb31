"""The direct path: tokenizer → BERT encoder → mean pooling → L2 normalisation, in plain torch.

When a model folder is exactly Transformer → Pooling(mean) [→ Normalize] over a BERT encoder
(all-MiniLM-L6-v2 and its kind), the tokenizer (the `tokenizers` library), the weights
(safetensors) and this forward pass replace sentence-transformers. It gives the same vectors as
`SentenceTransformer.encode` (within 1e-5; tests/test_embed.py), without importing
sentence-transformers or transformers (seconds at start-up) and without their per-call overhead
(a third of a one-question call).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.base import LAYER_TENSORS, QKV, native_bfloat16, offline_hub
from qa.model import Delta, apply_delta, combined_name

log = logging.getLogger(__name__)

# Pre-pack weights for oneDNN (see DirectBert._pack); False: plain F.linear.
PACK_WEIGHTS = True
# Positions in a layer's tuple of the weight matrices that go through a matrix product; each is
# followed by its bias. The third (intermediate.dense) is followed by GELU.
_MATRICES = (0, 2, 6, 8)
_GELU_MATRIX = 6

Linear = Callable[[Any, Any, Any], Any]


def direct_plan(path: str | Path) -> dict[str, Any] | None:
    """The direct path's settings when the model folder qualifies for it, else None (with a log line).

    Qualifies: modules.json is Transformer (at the folder root) → Pooling with mean pooling only →
    optionally Normalize; config.json is a BERT encoder with GELU and absolute positions;
    tokenizer.json and model.safetensors are there.
    """
    root = Path(path)
    plan = _plan(root)
    if isinstance(plan, str):
        log.info("embedding model %s runs through sentence-transformers: %s", root, plan)
        return None
    return plan


def _plan(root: Path) -> dict[str, Any] | str:
    """direct_plan's checks: the plan, or why the model does not qualify."""
    try:
        modules = json.loads((root / "modules.json").read_text())
        config = json.loads((root / "config.json").read_text())
    except (OSError, ValueError):
        return "no readable modules.json/config.json"
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"modules are {kinds}"
    if modules[0].get("path", "") not in ("", "."):
        return "the Transformer module is not at the folder root"
    try:
        pooling = json.loads((root / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError):
        return "no readable pooling config"
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
    if modes != {"pooling_mode_mean_tokens"} or pooling.get("pooling_mode") not in (None, "mean"):
        return f"pooling is {sorted(modes) or pooling.get('pooling_mode')}"
    if pooling.get("include_prompt") is False:
        return "pooling excludes the prompt"
    st_config: dict[str, Any] = {}
    if (root / "sentence_bert_config.json").exists():
        try:
            st_config = json.loads((root / "sentence_bert_config.json").read_text())
        except ValueError:
            return "sentence_bert_config.json is unreadable"
    if set(st_config) - {"max_seq_length", "do_lower_case"} or st_config.get("do_lower_case"):
        return f"sentence_bert_config.json has {sorted(st_config)}"
    try:
        prompts = json.loads((root / "config_sentence_transformers.json").read_text()).get("prompts")
    except (OSError, ValueError):
        prompts = None
    if prompts and any(prompts.values()):
        return "the model has prompts"
    if config.get("model_type") != "bert":
        return f"model_type is {config.get('model_type')!r}"
    if config.get("hidden_act", "gelu") != "gelu":
        return f"hidden_act is {config.get('hidden_act')!r}"
    if config.get("position_embedding_type", "absolute") != "absolute" or config.get("is_decoder"):
        return "not an absolute-position BERT encoder"
    for name in ("tokenizer.json", "model.safetensors"):
        if not (root / name).exists():
            return f"no {name}"
    max_tokens = int(st_config.get("max_seq_length") or 0) or int(config.get("max_position_embeddings", 512))
    return {
        "root": root,
        "max_tokens": min(max_tokens, int(config.get("max_position_embeddings", 512))),
        "heads": int(config["num_attention_heads"]),
        "eps": float(config.get("layer_norm_eps", 1e-12)),
    }


def _tokenizers(root: Path, max_tokens: int) -> tuple[Any, Any]:
    """One tokenizer for counting (no truncation, no special tokens), one for the model."""
    from tokenizers import Tokenizer

    counter = Tokenizer.from_file(str(root / "tokenizer.json"))
    counter.no_truncation()
    counter.no_padding()
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    # Pad to the longest text of a batch (tokenizer.json may ask for a fixed length instead).
    pad = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0}
    tokenizer.enable_padding(
        pad_id=pad["pad_id"], pad_token=pad["pad_token"], pad_type_id=pad.get("pad_type_id", 0)
    )
    return counter, tokenizer


def _packed_ops(torch: Any, bf16: bool) -> tuple[Callable[[Any], Any], Linear, Linear]:
    """oneDNN's weight packing, linear and GELU-linear, with bfloat16 or float32 arithmetic."""
    ops = torch.ops.mkldnn
    if bf16:

        def pack(w: Any) -> Any:
            return ops._reorder_linear_weight(w.to(torch.bfloat16), 16)

        def linear(x: Any, w: Any, b: Any) -> Any:
            return ops._linear_pointwise(x.to(torch.bfloat16), w, b, "none", [], "").float()

        def gelu_linear(x: Any, w: Any, b: Any) -> Any:
            y = ops._linear_pointwise(x.to(torch.bfloat16), w, b, "gelu", [], "none")
            return y.float()

    else:

        def pack(w: Any) -> Any:
            return ops._reorder_linear_weight(w, 16)

        def linear(x: Any, w: Any, b: Any) -> Any:
            return ops._linear_pointwise(x, w, b, "none", [], "")

        def gelu_linear(x: Any, w: Any, b: Any) -> Any:
            return ops._linear_pointwise(x, w, b, "gelu", [], "none")  # exact (erf) GELU

    return pack, linear, gelu_linear


class DirectBert:
    """Tokenizer → BERT encoder → mean pooling → L2 normalisation, in plain torch (no autograd)."""

    def __init__(
        self,
        plan: dict[str, Any],
        precision: str = "auto",
        delta: Delta | None = None,
        pack: bool = True,
        name: str | None = None,
    ) -> None:
        """`precision`: "auto" (bfloat16 matrix products where the CPU has them) or "float32".

        `delta`: trained tensors laid over the base weights (the answer model). `pack`: False keeps
        plain float32 tensors, which training needs for gradients. `name`: the base model's name
        as the user gave it (default: its folder); a delta's name is added to it."""
        offline_hub()
        import torch

        self._torch = torch
        root: Path = plan["root"]
        base = name if name is not None else str(root)
        self.name = combined_name(base, delta.name) if delta is not None else base
        self.max_tokens = int(plan["max_tokens"])
        self._heads = int(plan["heads"])
        self._eps = float(plan["eps"])
        self.counter, self.tokenizer = _tokenizers(root, self.max_tokens)
        self._load_weights(root, delta)
        packed = self._pack(precision) if PACK_WEIGHTS and pack else None
        self.packed = packed is not None
        self.precision = packed or "float32"

    def _load_weights(self, root: Path, delta: Delta | None) -> None:
        """The weights of model.safetensors (with `delta` laid over them), as float32 tensors."""
        torch = self._torch
        from safetensors.torch import load_file

        raw = load_file(str(root / "model.safetensors"), device="cpu")
        if delta is not None:
            raw = apply_delta(raw, delta)
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""

        def w(name: str) -> Any:
            return raw[prefix + name].to(torch.float32).contiguous()

        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        self._type0 = w("embeddings.token_type_embeddings.weight")[0].clone()
        self._ln = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.dimension = int(self._word.shape[1])
        if self.dimension % self._heads:
            raise ValueError("hidden size is not a multiple of the number of heads")
        self._layers = []
        n = 0
        while f"{prefix}encoder.layer.{n}.attention.self.query.weight" in raw:
            p = f"encoder.layer.{n}."
            att = p + "attention.self."
            self._layers.append(
                (
                    # Query, key and value as one matrix: one matrix product instead of three.
                    torch.cat([w(f"{att}{part}.weight") for part in QKV]),
                    torch.cat([w(f"{att}{part}.bias") for part in QKV]),
                    *(w(p + name) for name in LAYER_TENSORS),
                )
            )
            n += 1
        if not self._layers:
            raise ValueError("no encoder layers in model.safetensors")

    def _linear(self, x: Any, w: Any, b: Any) -> Any:
        return self._torch.nn.functional.linear(x, w, b)

    def _gelu_linear(self, x: Any, w: Any, b: Any) -> Any:
        F = self._torch.nn.functional
        return F.gelu(F.linear(x, w, b))

    def _pack(self, precision: str) -> str | None:
        """Pre-pack the weight matrices for oneDNN, when this torch has it and it agrees with F.linear.

        A BLAS matrix product re-packs its weight matrix on every call; for a question of a dozen
        tokens that packing costs more than the arithmetic. Packed once at load, a one-question
        forward pass takes about a third of the time. With `precision` "auto" on a CPU with native
        bfloat16 arithmetic (AVX512-BF16 or AMX), the weights are packed as bfloat16: the matrix
        products take about half the time, and vectors keep a cosine above 0.9999 with float32
        ones. The result is checked against F.linear on probe inputs, and anything unexpected keeps
        the plain path. Returns the precision packed, or None.
        """
        torch = self._torch
        try:
            if not torch.backends.mkldnn.is_available():
                return None
            bf16 = precision == "auto" and native_bfloat16()
            pack, linear, gelu_linear = _packed_ops(torch, bf16)
            packed = self._packed_layers(pack, linear, gelu_linear, bf16)
        except (AttributeError, RuntimeError) as exc:
            log.info("no oneDNN packed linear (%s); using F.linear", exc)
            return None
        if packed is None:
            return None
        self._layers = packed
        self._linear = linear  # type: ignore[method-assign,assignment]
        self._gelu_linear = gelu_linear  # type: ignore[method-assign,assignment]
        return "bfloat16" if bf16 else "float32"

    def _packed_layers(
        self, pack: Callable[[Any], Any], linear: Linear, gelu_linear: Linear, bf16: bool
    ) -> list[tuple[Any, ...]] | None:
        """The layers with packed matrices, or None when a packed product is off F.linear's."""
        torch = self._torch
        # bfloat16 keeps 8 bits of mantissa: compare whole outputs, not single numbers.
        tolerance = 2e-2 if bf16 else 1e-5
        packed = []
        gen = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for layer in self._layers:
                new = list(layer)
                for n in _MATRICES:
                    w, b = layer[n], layer[n + 1]
                    new[n] = pack(w)
                    if bf16:
                        new[n + 1] = b.to(torch.bfloat16)
                    for rows in (1, 37):
                        x = torch.randn(rows, w.shape[1], generator=gen)
                        want = torch.nn.functional.linear(x, w, b)
                        got = (gelu_linear if n == _GELU_MATRIX else linear)(x, new[n], new[n + 1])
                        if n == _GELU_MATRIX:
                            want = torch.nn.functional.gelu(want)
                        error = float((got - want).norm() / want.norm())
                        if not error <= tolerance:
                            log.info("oneDNN linear is off F.linear by %.2g; using F.linear", error)
                            return None
                packed.append(tuple(new))
        return packed

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        return len(self.counter.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence vectors, (len(texts), dimension) float32."""
        torch = self._torch
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        with torch.inference_mode():
            return self._forward(ids, mask).numpy()

    def _forward(self, ids: Any, mask: Any) -> Any:
        torch = self._torch
        F = torch.nn.functional
        batch, length = ids.shape
        width = self.dimension
        heads, head_dim = self._heads, self.dimension // self._heads
        x = F.embedding(ids, self._word) + self._position[:length] + self._type0
        x = F.layer_norm(x, (width,), *self._ln, self._eps)
        weights = mask.to(x.dtype)
        # Padded keys get the most negative float, as in transformers; no padding, no mask at all.
        bias = None
        if not bool(mask.all()):
            bias = ((1.0 - weights) * torch.finfo(x.dtype).min)[:, None, None, :]
        linear, gelu_linear = self._linear, self._gelu_linear
        for wqkv, bqkv, wo, bo, g1, b1, wi, bi, wo2, bo2, g2, b2 in self._layers:
            qkv = linear(x, wqkv, bqkv).view(batch, length, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(batch, length, width)
            x = F.layer_norm(linear(ctx, wo, bo) + x, (width,), g1, b1, self._eps)
            x = F.layer_norm(linear(gelu_linear(x, wi, bi), wo2, bo2) + x, (width,), g2, b2, self._eps)
        weights = weights.unsqueeze(-1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1)
