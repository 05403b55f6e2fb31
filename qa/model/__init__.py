"""The trained answer model: a small delta (the top encoder layers, fp16) over the packaged base.

all-MiniLM-L6-v2 embeds passages, sentences and questions. `qa train` fine-tunes its top layers so
that a question lands next to the sentence that answers it, and ships only those layers
(`answer-minilm/`, a few MB) instead of a second copy of the model. The embedder overlays them on
the base weights at load time; the index records the combined name, so an index built with the
plain base model is refused with a clear message instead of being searched with the wrong vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.config import DEFAULT_MODEL
from qa.errors import ModelUnavailable

BUNDLED = Path(__file__).resolve().parent / "answer-minilm"
DELTA_FILE = "delta.safetensors"
CARD_FILE = "delta.json"
# Tensors whose values identify the base model the delta was trained on.
FINGERPRINT_TENSORS = ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight")


@dataclass(frozen=True)
class Delta:
    """Replacement tensors for some of the base model's weights, and what they were trained on."""

    name: str
    path: Path
    tensors: dict[str, Any]
    base_fingerprint: str


def resolve_delta(answer_model: str, embed_model: str) -> Path | None:
    """Which delta to load: 'auto' takes the bundled one over the default base, 'none' none."""
    if answer_model == "none":
        return None
    if answer_model == "auto":
        bundled = embed_model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")
        return BUNDLED if bundled and (BUNDLED / CARD_FILE).exists() else None
    return Path(answer_model)


def model_name(embed_model: str, answer_model: str) -> str:
    """The name an index records: the base model, plus the delta's name when one is applied."""
    path = resolve_delta(answer_model, embed_model)
    return embed_model if path is None else combined_name(embed_model, str(read_card(path)["name"]))


def combined_name(embed_model: str, delta_name: str) -> str:
    """The base model's name with the delta's after a '+'."""
    return f"{embed_model}+{delta_name}"


def read_card(path: Path) -> dict[str, Any]:
    """The delta's card (name, base fingerprint, training log); a clear error if unusable."""
    card = path / CARD_FILE
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelUnavailable(
            f"no answer model at {path} (missing {CARD_FILE}): train one with `qa train --out {path}`, "
            "or set QA_ANSWER_MODEL=none to use the plain embedding model"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"the answer model's {card} is unreadable ({exc}); retrain it") from None
    if not isinstance(data, dict) or not {"name", "base_fingerprint"} <= data.keys():
        raise ModelUnavailable(f"{card} lacks 'name' or 'base_fingerprint'; retrain the answer model")
    return data


def load_delta(path: Path) -> Delta:
    """Read a delta folder: its card and its tensors (as float32)."""
    import torch
    from safetensors.torch import load_file

    card = read_card(path)
    try:
        tensors = load_file(str(path / DELTA_FILE), device="cpu")
    except FileNotFoundError:
        raise ModelUnavailable(f"the answer model at {path} has no {DELTA_FILE}; retrain it") from None
    except Exception as exc:  # safetensors raises its own kinds for truncated or garbled files
        raise ModelUnavailable(
            f"the answer model's {path / DELTA_FILE} is corrupt ({exc}); reinstall or retrain it "
            "(`qa train`), or set QA_ANSWER_MODEL=none"
        ) from None
    floats = {k: v.to(torch.float32) for k, v in tensors.items()}
    return Delta(str(card["name"]), path, floats, str(card["base_fingerprint"]))


def fingerprint(weights: dict[str, Any]) -> str:
    """A short digest of the base model's weights, to tell whether a delta was trained on them."""
    import hashlib

    digest = hashlib.sha256()
    for name in FINGERPRINT_TENSORS:
        tensor = _find(weights, name)
        if tensor is None:
            return "unknown"
        digest.update(tensor.float().flatten()[:4096].numpy().round(5).tobytes())
    return digest.hexdigest()[:16]


def apply_delta(weights: dict[str, Any], delta: Delta) -> dict[str, Any]:
    """The base weights with the delta's tensors in place; refuses a delta made for another base."""
    if fingerprint(weights) != delta.base_fingerprint:
        raise ModelUnavailable(
            f"the answer model at {delta.path} was trained on another base model than the one loaded; "
            "set QA_ANSWER_MODEL=none, or retrain it on this base with `qa train`"
        )
    out = dict(weights)
    for name, tensor in delta.tensors.items():
        key = _key(weights, name)
        if key is None or tuple(weights[key].shape) != tuple(tensor.shape):
            raise ModelUnavailable(f"the answer model's tensor {name} does not fit the base model")
        out[key] = tensor.to(weights[key].dtype)
    return out


def _key(weights: dict[str, Any], name: str) -> str | None:
    for key in (name, f"bert.{name}"):
        if key in weights:
            return key
    return None


def _find(weights: dict[str, Any], name: str) -> Any:
    key = _key(weights, name)
    return None if key is None else weights[key]
