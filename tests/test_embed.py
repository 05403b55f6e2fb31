"""The embedder: the direct path equals SentenceTransformer.encode, the question batcher, and
Embedder over any encoder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FAKE_DIM, FAKE_MODEL, FakeEncoder

from qa.embed import (
    DOC_BATCH_TOKENS,
    Embedder,
    QueryBatcher,
    Runtime,
    STBackend,
    direct_plan,
    native_bfloat16,
    resolve_model,
)
from qa.errors import ModelUnavailable
from qa.model import load_delta, resolve_delta

TEXTS = [
    "What did Netflix announce about generative AI?",
    "hi",
    "Café déjà vu: naïve résumés, 北京 and ÜPPER-case words",
    "   leading and trailing spaces   ",
    "The streaming service said in 2024 that 12.5% of its $33 billion budget would go to AI tools. " * 12,
]


def asked_together(ask: Callable[[str], np.ndarray], questions: list[str]) -> list[np.ndarray]:
    """What `ask` returned for each question, every question asked from a thread of its own at once."""
    got: dict[int, np.ndarray] = {}

    def one(i: int) -> None:
        got[i] = ask(questions[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [got[i] for i in range(len(questions))]


@pytest.fixture(scope="module")
def sentence_transformer() -> Any:
    """The same model (with the bundled answer model laid over it) through sentence-transformers,
    as the reference."""
    path = resolve_delta("auto", "all-MiniLM-L6-v2")
    return STBackend(resolve_model("all-MiniLM-L6-v2"), load_delta(path) if path else None).model


@pytest.mark.slow
def test_default_model_takes_the_direct_path(real_embedder: Embedder) -> None:
    assert real_embedder.backend == "direct"
    assert real_embedder.dimension == 384
    assert real_embedder.max_tokens == 256


@pytest.fixture(scope="module")
def float32_embedder() -> Embedder:
    """The direct path with float32 matrix products (the default may use bfloat16)."""
    return Embedder(precision="float32")


@pytest.mark.slow
def test_direct_path_equals_sentence_transformers_encode(
    float32_embedder: Embedder, sentence_transformer: Any
) -> None:
    embedder = float32_embedder
    assert embedder.precision == "float32"
    want = sentence_transformer.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    # The last text is longer than 256 tokens: both must truncate it the same way.
    assert embedder.count_tokens(TEXTS[-1]) > embedder.max_tokens
    np.testing.assert_allclose(embedder.embed_queries(TEXTS), want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(embedder.embed_documents(TEXTS), want, atol=1e-5, rtol=0)
    for text, row in zip(TEXTS, want, strict=True):
        got = embedder.embed_query(text)
        assert got.shape == (384,) and got.dtype == np.float32
        np.testing.assert_allclose(got, row, atol=1e-5, rtol=0)
    norms = np.linalg.norm(embedder.embed_queries(TEXTS), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


@pytest.mark.slow
def test_default_precision_keeps_the_vectors_of_sentence_transformers(
    real_embedder: Embedder, sentence_transformer: Any
) -> None:
    # bfloat16 where the CPU has it natively, float32 elsewhere: either way the same directions.
    assert real_embedder.precision == ("bfloat16" if native_bfloat16() else "float32")
    want = sentence_transformer.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    for got in (real_embedder.embed_queries(TEXTS), real_embedder.embed_documents(TEXTS)):
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert (got * want).sum(axis=1).min() > 0.9999


def test_embedder_refuses_an_unknown_precision() -> None:
    with pytest.raises(ModelUnavailable, match="precision must be one of auto, float32, not 'half'"):
        Embedder(precision="half")


@pytest.mark.slow
def test_direct_path_counts_tokens_like_the_model_tokenizer(
    real_embedder: Embedder, sentence_transformer: Any
) -> None:
    tok = sentence_transformer.tokenizer
    for text in TEXTS:
        want = len(tok(text, add_special_tokens=False, truncation=False)["input_ids"])
        assert real_embedder.count_tokens(text) == want


@pytest.mark.slow
def test_concurrent_questions_get_their_own_vectors(real_embedder: Embedder) -> None:
    questions = [f"What happened in {year}?" for year in range(1990, 2014)]
    want = real_embedder.embed_queries(questions)
    got = asked_together(real_embedder.embed_query, questions)
    for i, row in enumerate(want):
        np.testing.assert_allclose(got[i], row, atol=1e-5, rtol=0)


def _model_copy(tmp_path: Path) -> Path:
    """The default model's configuration files (no weights) in a folder the test may edit."""
    src = Path(resolve_model("all-MiniLM-L6-v2"))
    dst = tmp_path / "model"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    (dst / "model.safetensors").write_bytes(b"")  # only its presence is checked
    return dst


def test_direct_plan_accepts_the_default_model(tmp_path: Path) -> None:
    plan = direct_plan(_model_copy(tmp_path))
    assert plan is not None
    assert plan["max_tokens"] == 256 and plan["heads"] == 12


@pytest.mark.parametrize(
    "change",
    ["cls pooling", "dense module", "not bert", "no tokenizer.json", "prompts"],
)
def test_direct_plan_falls_back_for_other_models(tmp_path: Path, change: str) -> None:
    root = _model_copy(tmp_path)
    if change == "cls pooling":
        cfg = json.loads((root / "1_Pooling/config.json").read_text())
        cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
        (root / "1_Pooling/config.json").write_text(json.dumps(cfg))
    elif change == "dense module":
        modules = json.loads((root / "modules.json").read_text())
        modules.append(
            {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
        )
        (root / "modules.json").write_text(json.dumps(modules))
    elif change == "not bert":
        cfg = json.loads((root / "config.json").read_text())
        cfg["model_type"] = "mpnet"
        (root / "config.json").write_text(json.dumps(cfg))
    elif change == "no tokenizer.json":
        (root / "tokenizer.json").unlink()
    elif change == "prompts":
        (root / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    assert direct_plan(root) is None


@pytest.mark.slow
def test_other_models_run_through_sentence_transformers(tmp_path: Path, sentence_transformer: Any) -> None:
    from sentence_transformers import SentenceTransformer

    root = _model_copy(tmp_path)
    (root / "model.safetensors").unlink()
    (root / "model.safetensors").symlink_to(Path(resolve_model("all-MiniLM-L6-v2")) / "model.safetensors")
    cfg = json.loads((root / "1_Pooling/config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (root / "1_Pooling/config.json").write_text(json.dumps(cfg))
    embedder = Embedder(model=str(root))
    assert embedder.backend == "sentence-transformers"
    want = SentenceTransformer(str(root), device="cpu").encode(TEXTS[:3], normalize_embeddings=True)
    np.testing.assert_allclose(embedder.embed_queries(TEXTS[:3]), want, atol=1e-5, rtol=0)
    # CLS pooling really is another model: its vectors differ from the mean-pooled ones.
    mean = sentence_transformer.encode(TEXTS[:3], normalize_embeddings=True)
    assert np.abs(want - mean).max() > 1e-2


def _slow_encoder(calls: list[list[str]], delay: float = 0.02) -> Any:
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        time.sleep(delay)
        return np.array([[float(len(t)), float(sum(map(ord, t)))] for t in texts], dtype=np.float32)

    return encode


def test_batcher_alone_runs_at_once_with_one_question() -> None:
    calls: list[list[str]] = []
    batcher = QueryBatcher(_slow_encoder(calls, delay=0.0))
    for q in ("a", "bb", "ccc"):
        assert batcher(q)[0] == len(q)
    assert calls == [["a"], ["bb"], ["ccc"]]


def test_batcher_shares_model_calls_between_threads() -> None:
    calls: list[list[str]] = []
    batcher = QueryBatcher(_slow_encoder(calls), max_batch=8)
    questions = [f"question {i}" + "?" * i for i in range(40)]
    got = asked_together(batcher, questions)
    for i, q in enumerate(questions):
        assert got[i][0] == len(q) and got[i][1] == sum(map(ord, q))
    assert sorted(q for call in calls for q in call) == sorted(questions)
    assert max(len(c) for c in calls) <= 8
    assert len(calls) < len(questions)  # some questions shared a call
    assert batcher.calls == len(calls) and batcher.questions == len(questions)


def test_batcher_hands_an_error_to_every_caller_of_the_batch_and_recovers() -> None:
    fail = threading.Event()
    fail.set()

    def encode(texts: list[str]) -> np.ndarray:
        time.sleep(0.02)
        if fail.is_set():
            raise RuntimeError("model broke")
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = QueryBatcher(encode)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            batcher("q")
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 6
    fail.clear()
    assert batcher("again").tolist() == [1.0, 1.0]


@pytest.fixture(scope="module")
def model_process() -> Any:
    """The default model in a child process (as `qa serve` runs it)."""
    embedder = Embedder(process=True)
    yield embedder
    embedder.close()


@pytest.mark.slow
def test_model_process_gives_the_vectors_of_the_model_in_process(
    model_process: Embedder, real_embedder: Embedder
) -> None:
    assert (model_process.backend, model_process.precision) == (
        real_embedder.backend,
        real_embedder.precision,
    )
    assert model_process.dimension == 384 and model_process.max_tokens == 256
    assert model_process.name == real_embedder.name  # the answer model's name comes back from the child
    # Threads "0" in the child: one per core but one, left to the server's request threads.
    assert model_process.threads == max(1, (os.cpu_count() or 1) - 1)
    np.testing.assert_allclose(
        model_process.embed_queries(TEXTS), real_embedder.embed_queries(TEXTS), atol=1e-6
    )
    np.testing.assert_allclose(
        model_process.embed_query(TEXTS[0]), real_embedder.embed_query(TEXTS[0]), atol=1e-6
    )
    assert model_process.count_tokens(TEXTS[2]) == real_embedder.count_tokens(TEXTS[2])


@pytest.mark.slow
def test_model_process_restarts_after_the_child_dies(model_process: Embedder) -> None:
    import signal

    child = model_process.encoder._proc  # type: ignore[attr-defined]
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    # The question in flight when the child died (none here) would get a 503-style error; the
    # next one finds the child gone and starts a new one.
    got = model_process.embed_query("Who founded Netflix?")
    assert got.shape == (384,)
    assert model_process.encoder._proc.pid != child.pid  # type: ignore[attr-defined]


def test_model_process_reports_a_model_that_does_not_load(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"could not load embedding model .*nowhere"):
        Embedder(model=str(tmp_path / "nowhere"), process=True)


# --- Embedder over an encoder that implements only the protocol ---------------------------------


def test_embedder_gives_an_encoder_batching_and_the_embed_methods() -> None:
    encoder = FakeEncoder()
    embedder = Embedder(encoder)
    assert (embedder.name, embedder.dimension, embedder.max_tokens) == (FAKE_MODEL, FAKE_DIM, 256)
    assert (embedder.backend, embedder.precision, embedder.threads) == ("custom", "float32", 0)
    assert embedder.count_tokens("three small words") == encoder.count_tokens("three small words")
    texts = [f"article {i} about the harbour" + " and the bridge" * (i % 7) for i in range(150)]
    done: list[int] = []
    vectors = embedder.embed_documents(texts, batch_size=64, progress=done.append)
    # Sorted by length for the model calls, returned in the callers' order.
    np.testing.assert_array_equal(vectors, FakeEncoder().encode(texts))
    assert encoder.calls == [64, 64, 22] and done == [64, 64, 22]
    encoder.calls.clear()
    np.testing.assert_array_equal(embedder.embed_query(texts[3]), vectors[3])
    np.testing.assert_array_equal(embedder.embed_queries(texts[:2]), vectors[:2])
    assert embedder.embed_queries([]).shape == (0, FAKE_DIM)
    assert encoder.calls == [1, 2]  # nothing sent to the model for no questions
    assert (embedder.batcher.calls, embedder.batcher.questions) == (1, 1)


def test_questions_asked_together_share_a_call_of_any_encoder() -> None:
    class SlowEncoder(FakeEncoder):
        def encode(self, texts: list[str]) -> np.ndarray:
            time.sleep(0.02)
            return super().encode(texts)

    encoder = SlowEncoder()
    embedder = Embedder(encoder, max_query_batch=4)
    questions = [f"question number {i}" for i in range(12)]
    got = asked_together(embedder.embed_query, questions)
    for i, q in enumerate(questions):
        np.testing.assert_array_equal(got[i], encoder._vector(q))
    assert sum(encoder.calls) == 12 and max(encoder.calls) <= 4 and len(encoder.calls) < 12


def test_direct_runtime_caps_a_passage_batch_by_tokens() -> None:
    encoder = FakeEncoder()
    embedder = Embedder(encoder, runtime=Runtime("direct", "float32", 1))
    texts = ["word " * 100] * 40  # about 127 tokens each: 8 to a batch of DOC_BATCH_TOKENS
    embedder.embed_documents(texts, batch_size=64)
    assert encoder.calls == [DOC_BATCH_TOKENS // 127] * 5


def test_embedder_takes_an_encoder_or_options_not_both() -> None:
    with pytest.raises(TypeError, match="not both"):
        Embedder(FakeEncoder(), model="all-MiniLM-L6-v2")


def test_importing_qa_embed_leaves_the_environment_alone() -> None:
    code = (
        "import os; before = dict(os.environ); import qa.embed; print(sorted(set(os.environ) - set(before)))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
