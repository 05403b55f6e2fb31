"""The answer model: the bundled delta loads over the base, a broken one is a clear error, and
`qa train` trains and writes a delta that loads."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from qa.cli import main
from qa.embed import Embedder
from qa.errors import ModelUnavailable
from qa.model import (
    BUNDLED,
    CARD_FILE,
    DELTA_FILE,
    apply_delta,
    fingerprint,
    load_delta,
    model_name,
    resolve_delta,
)

NAME = "encoder.layer.1.output.dense.bias"


def _base() -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    return {
        "embeddings.word_embeddings.weight": torch.randn(10, 4, generator=g),
        "encoder.layer.0.attention.self.query.weight": torch.randn(4, 4, generator=g),
        NAME: torch.zeros(4),
    }


def _write_delta(path: Path, base: dict[str, Any], tensors: dict[str, Any] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors or {NAME: torch.ones(4, dtype=torch.float16)}, str(path / DELTA_FILE))
    card = {"name": "qa-answer-test", "base_fingerprint": fingerprint(base)}
    (path / CARD_FILE).write_text(json.dumps(card))
    return path


def test_apply_delta_replaces_only_its_tensors(tmp_path: Path) -> None:
    base = _base()
    out = apply_delta(base, load_delta(_write_delta(tmp_path / "d", base)))
    assert torch.equal(out[NAME], torch.ones(4))
    assert torch.equal(out["embeddings.word_embeddings.weight"], base["embeddings.word_embeddings.weight"])


def _no_card(p: Path) -> None:
    (p / CARD_FILE).unlink()


def _no_tensors(p: Path) -> None:
    (p / DELTA_FILE).unlink()


def _garbled(p: Path) -> None:
    (p / DELTA_FILE).write_bytes(b"\x07not a safetensors file")


def _bad_card(p: Path) -> None:
    (p / CARD_FILE).write_text("{not json")


def _other_base(p: Path) -> None:
    (p / CARD_FILE).write_text(json.dumps({"name": "x", "base_fingerprint": "0123456789abcdef"}))


def _wrong_shape(p: Path) -> None:
    save_file({NAME: torch.ones(7, dtype=torch.float16)}, str(p / DELTA_FILE))


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_no_card, r"no answer model at .*qa train"),
        (_no_tensors, r"has no delta.safetensors"),
        (_garbled, r"delta.safetensors is corrupt .*retrain it"),
        (_bad_card, r"delta.json is unreadable"),
        (_other_base, r"trained on another base model .*QA_ANSWER_MODEL=none"),
        (_wrong_shape, r"tensor encoder.layer.1.output.dense.bias does not fit the base model"),
    ],
)
def test_broken_answer_model_is_a_clear_error(tmp_path: Path, breakage: Any, message: str) -> None:
    base = _base()
    path = _write_delta(tmp_path / "d", base)
    breakage(path)
    with pytest.raises(ModelUnavailable, match=message):
        apply_delta(base, load_delta(path))


def test_resolve_delta_takes_the_bundled_model_only_over_the_default_base() -> None:
    assert resolve_delta("none", "all-MiniLM-L6-v2") is None
    assert resolve_delta("auto", "/some/other/model") is None
    assert resolve_delta("/my/delta", "all-MiniLM-L6-v2") == Path("/my/delta")
    assert resolve_delta("auto", "all-MiniLM-L6-v2") == BUNDLED


def test_bundled_answer_model_is_small_and_credited() -> None:
    size = sum(f.stat().st_size for f in BUNDLED.iterdir())
    assert size <= 25 * 2**20
    card = json.loads((BUNDLED / CARD_FILE).read_text())
    assert model_name("all-MiniLM-L6-v2", "auto") == f"all-MiniLM-L6-v2+{card['name']}"
    assert card["dev_top1"]["after"]["all"] > card["dev_top1"]["before"]["all"]


@pytest.mark.slow
def test_embedder_loads_the_bundled_answer_model(real_embedder: Embedder) -> None:
    assert real_embedder.name == model_name("all-MiniLM-L6-v2", "auto")
    assert real_embedder.backend == "direct"


@pytest.mark.slow
def test_embedder_refuses_a_broken_answer_model(tmp_path: Path) -> None:
    broken = tmp_path / "delta"
    shutil.copytree(BUNDLED, broken)
    _garbled(broken)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        Embedder(answer_model=str(broken))


def _training_files(folder: Path) -> Path:
    """A tiny training file in the shared format: questions whose answer is one sentence of three."""
    folder.mkdir()
    rows = []
    for n in range(60):
        context = (f"The bridge number {n} opened in {1900 + n}. It cost {n} million dollars to build. "
                   f"Its designer was engineer number {n}.")  # fmt: skip
        answer = f"{n} million dollars"
        rows.append({"question": f"How much did bridge {n} cost?", "context": context, "answers": [answer],
                     "answer_starts": [context.index(answer)], "title": f"Bridge {n}",
                     "source": "tiny", "start_method": "unique"})  # fmt: skip
    with gzip.open(folder / "squad-v1.1-train.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return folder


@pytest.mark.slow
def test_train_writes_a_delta_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _training_files(tmp_path / "train")
    out = tmp_path / "delta"
    assert main(["train", "--data", str(data), "--out", str(out), "--steps", "2", "--batch", "4"]) == 0
    log = capsys.readouterr().out
    assert "data: " in log and "step 2/2" in log and "dev top-1 after" in log
    card = json.loads((out / CARD_FILE).read_text())
    assert card["steps"] == 2 and card["data"] == {"tiny": 8} and card["layers"] == [3, 4, 5]
    tuned = Embedder(answer_model=str(out), precision="float32")
    plain = Embedder(answer_model="none", precision="float32")
    assert tuned.name == f"all-MiniLM-L6-v2+{card['name']}"
    a, b = tuned.embed_query("How much did it cost?"), plain.embed_query("How much did it cost?")
    assert 0.9 < float(a @ b) < 1.0 - 1e-6


def test_train_without_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "d")]) == 1
    assert "no training data in" in capsys.readouterr().err


def test_conditional_logit_recovers_the_weights_that_made_the_choices() -> None:
    from qa.model.fit import conditional_logit

    rng = np.random.default_rng(0)
    true = np.array([2.0, -1.0])
    groups = []
    for _ in range(400):
        x = rng.normal(size=(6, 2))
        p = np.exp(x @ true)
        pos = np.zeros(6, dtype=bool)
        pos[rng.choice(6, p=p / p.sum())] = True
        groups.append((x, np.zeros(6), pos))
    w = conditional_logit(groups, l2=0.0)
    assert np.allclose(w, true, atol=0.35), w


def test_fit_weights_on_asked_questions_gives_usable_weights(sample_index: Path) -> None:
    from conftest import FakeEncoder

    from qa.answer import WEIGHTS
    from qa.index import Index
    from qa.model.fit import answer_hit, ask_all, fit_weights

    questions = [
        ("What did Sarandos say about Sora?", ("We do not anticipate AI supplanting creativity",), "test"),
        ("Which series first used generative AI in final footage?", ("The Eternaut",), "test"),
        ("How much did quarterly revenue grow?", ("17%",), "test"),
        ("Who urged OpenAI to add protections against deepfakes?", ("SAG-AFTRA",), "test"),
        ("What did the Happy Gilmore 2 team use AI for?", ("de-age characters",), "test"),
    ]
    index = Index(sample_index)
    asked = ask_all(index, Embedder(FakeEncoder()), questions, 5)
    fitted = fit_weights(asked, WEIGHTS, refuse=0.2)
    assert fitted.meaning == 1.0 and fitted.per_char == WEIGHTS.per_char
    hit, median = answer_hit(asked, fitted)
    assert hit >= 0.8 and 0 < median <= 420
