"""The seam between the pipeline and a search backend: `Retriever`, which FAISS + SQLite/FTS5
(`qa.retrieve.IndexRetriever` over a `qa.index.Index`) implements today.

A second backend (OpenSearch, docs/scale.md) is one new class with these methods; the question
path (`qa.pipeline.QA`) and the answer stage (`qa/answer/`, typed against `PassageStore`) stay
as they are. Protocols only: this module imports no backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from qa.question import Question
from qa.records import Filters, Hit, Sentence

T = TypeVar("T")


class TermStatistics(Protocol):
    """Corpus word statistics the answer stage asks about (`qa.lexicon.Lexicon` today)."""

    def sentence_count(self) -> int:
        """How many sentences the corpus holds (the N of an IDF)."""
        ...

    def document_frequencies(self, words: Iterable[str]) -> dict[str, int]:
        """In how many sentences each stemmed term occurs (absent terms left out)."""
        ...

    def known_prefixes(self, words: Iterable[str]) -> set[str]:
        """The words that occur in the corpus, or begin a word that does."""
        ...

    def near_misses(self, words: Iterable[str]) -> set[str]:
        """The words with a near spelling in the corpus."""
        ...


@runtime_checkable
class PassageStore(Protocol):
    """What the answer stage reads about the passages retrieval returned."""

    @property
    def lexicon(self) -> TermStatistics:
        """Word statistics of the corpus."""
        ...

    @property
    def sentence_vectors(self) -> np.ndarray:
        """Sentence vectors by the row ids `sentences` returns (answer model, normalised)."""
        ...

    def sentences(self, doc_id: str, first: int, last: int) -> list[tuple[int, Sentence]]:
        """(row id, sentence) for sentences first..last (inclusive) of a document, exact offsets."""
        ...

    def derived(self, key: Any, make: Callable[[], T]) -> T:
        """`make()`, memoised for as long as this corpus version is served."""
        ...


@runtime_checkable
class Retriever(PassageStore, Protocol):
    """A search backend: ranked passages for a question, and the reads of `PassageStore`."""

    def retrieve(self, question: Question, vector: np.ndarray, top_k: int, filters: Filters) -> list[Hit]:
        """The best `top_k` passages for the question (dense `vector` and its words), filtered."""
        ...

    def summary(self) -> dict[str, Any]:
        """What is served: documents, chunks, titles, model, build time, generation."""
        ...
