"""The `Retriever` seam: the FAISS + FTS5 store implements it, and the pipeline asks through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa.pipeline
from qa.config import Settings
from qa.embed import Embedder
from qa.index import Index
from qa.pipeline import QA
from qa.question import Question, parse
from qa.records import Filters, Hit
from qa.retrieve import IndexRetriever, retrieve
from qa.retriever import PassageStore, Retriever


def test_the_index_store_is_a_retriever(sample_index: Path) -> None:
    index = Index(sample_index)
    store = IndexRetriever(index)
    assert isinstance(store, Retriever)
    assert isinstance(index, PassageStore)  # the answer stage reads an Index as it is
    assert not isinstance(index, Retriever)  # searching is retrieve()'s, above the index


def test_index_retriever_retrieves_what_retrieve_does(sample_index: Path, fake_embedder: Embedder) -> None:
    index = Index(sample_index)
    question = parse("What did Sarandos say about Sora?")
    vector = fake_embedder.embed_query(question.search)
    direct = retrieve(index, question, vector, 5, Filters())
    through = IndexRetriever(index).retrieve(question, vector, 5, Filters())
    assert [h.chunk_id for h in through] == [h.chunk_id for h in direct]
    assert IndexRetriever(index).summary() == index.summary()


class Recording:
    """Another backend in a few lines: here, the index store with its calls recorded."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.asked: list[str] = []

    def retrieve(self, question: Question, vector: np.ndarray, top_k: int, filters: Filters) -> list[Hit]:
        self.asked.append(question.text)
        return self.inner.retrieve(question, vector, top_k, filters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_pipeline_asks_through_the_retriever(
    sample_settings: Settings, fake_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = QA(sample_settings, embedder=fake_embedder)
    backend = Recording(IndexRetriever(engine.index))
    monkeypatch.setattr(qa.pipeline.QA, "retriever", property(lambda self: backend))
    answer = engine.ask("What did Sarandos say about Sora?")
    assert backend.asked == ["What did Sarandos say about Sora?"]
    assert not answer.abstained and answer.citations
