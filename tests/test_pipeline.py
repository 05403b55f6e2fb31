"""QA: the stages in order, one model call per question, and what it says when it cannot answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder

from qa.config import Settings
from qa.embed import Embedder
from qa.errors import BadInput, IndexMissing
from qa.pipeline import QA
from qa.records import Turn


class RecordingEncoder(FakeEncoder):
    """The fake encoder, recording the texts of every model call."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[tuple[str, ...]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.queries.append(tuple(texts))
        return super().encode(texts)


def test_qa_run_times_every_stage_and_returns_the_hits(sample_settings: Settings) -> None:
    answer, hits = QA(sample_settings, Embedder(FakeEncoder())).run(
        "How much was Netflix's quarterly revenue?", top_k=4
    )
    assert set(answer.timings_ms) == {"embed", "retrieve", "answer", "total"}
    assert 0 < len(hits) <= 4
    assert not answer.abstained and "$11.5 billion" in answer.answer
    assert answer.support > 0


def test_qa_follow_up_embeds_both_texts_in_one_call(sample_settings: Settings) -> None:
    encoder = RecordingEncoder()
    engine = QA(sample_settings, Embedder(encoder))
    engine.ask("What did Sarandos say about Sora?")
    history = [Turn("user", "Who is Netflix's co-CEO?"), Turn("assistant", "Ted Sarandos [1]")]
    engine.ask("What did he say about it?", history)
    first, follow_up = encoder.queries
    assert len(first) == 1
    assert len(follow_up) == 2 and follow_up[1] == "What did he say about it?"
    assert "Sarandos" in follow_up[0]  # the search carries the earlier turn


def test_qa_bad_request_is_refused_before_the_model_runs(sample_settings: Settings) -> None:
    encoder = RecordingEncoder()
    with pytest.raises(BadInput):
        QA(sample_settings, Embedder(encoder)).ask("   ")
    assert encoder.queries == []


def test_qa_without_an_index_fails_fast_or_waits(tmp_path: Path) -> None:
    settings = Settings.from_env(env={}, index_dir=tmp_path / "none")
    with pytest.raises(IndexMissing):
        QA(settings, Embedder(FakeEncoder()))
    waiting = QA(settings, Embedder(FakeEncoder()), require_index=False)
    assert not waiting.ready and isinstance(waiting.error, IndexMissing)
    with pytest.raises(IndexMissing):
        waiting.ask("Anything?")
