"""The question-answering service: one embedder and one live index, asked from many threads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.answer import compose
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import QAError
from qa.index import Index, read_manifest
from qa.live import LiveIndex
from qa.question import Question, parse
from qa.records import Answer, Filters, Hit, Turn
from qa.retrieve import NO_FILTERS, IndexRetriever
from qa.retriever import Retriever
from qa.validate import validate


class QA:
    """Answers questions over the index in `settings.index_dir`, reloading it when rebuilt."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        require_index: bool = True,
        model_process: bool = False,
    ) -> None:
        """`model_process`: run the model in a child process (the server does, see Settings)."""
        self.settings = settings
        if require_index:
            read_manifest(Path(settings.index_dir))  # fail fast, before the slow model load
        self.embedder = embedder or Embedder.from_settings(settings, process=model_process)
        self.live = LiveIndex(
            Path(settings.index_dir),
            self.embedder.name,
            self.embedder.dimension,
            settings.reload_interval_s,
            require=require_index,
        )

    @property
    def index(self) -> Index:
        """The live index (a new object after a reload; old ones stay valid for their readers)."""
        return self.live.current()

    @property
    def retriever(self) -> Retriever:
        """The search backend over the live index (the seam a second backend plugs into)."""
        return IndexRetriever(self.index)

    @property
    def ready(self) -> bool:
        """Whether an index is loaded."""
        return self.live.ready

    @property
    def error(self) -> QAError | None:
        """Why no index is loaded, or why the newest one was refused; None when all is well."""
        return self.live.error

    def maybe_reload(self, force: bool = False) -> bool:
        """Swap in a rebuilt index if CURRENT moved; never raises, never blocks other readers."""
        return self.live.maybe_reload(force)

    def ask(
        self,
        question: object,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer one question (with optional conversation history) from the live index."""
        return self.run(question, history, top_k, filters)[0]

    def run(
        self,
        question: object,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> tuple[Answer, list[Hit]]:
        """`ask`, also returning the retrieved passages (for evaluation and debugging)."""
        t0 = time.perf_counter()
        text, k = validate(question, history, top_k, self.settings)
        store = self.retriever
        parsed = parse(text, history)
        search, meaning = self._vectors(parsed)
        t1 = time.perf_counter()
        hits = store.retrieve(parsed, search, k, filters or NO_FILTERS)
        t2 = time.perf_counter()
        answer = compose(store, parsed, meaning, hits)
        t3 = time.perf_counter()
        timings = {
            "embed": round((t1 - t0) * 1000, 2),
            "retrieve": round((t2 - t1) * 1000, 2),
            "answer": round((t3 - t2) * 1000, 2),
            "total": round((t3 - t0) * 1000, 2),
        }
        return replace(answer, timings_ms=timings), hits

    def _vectors(self, question: Question) -> tuple[np.ndarray, np.ndarray]:
        """The vector to search with and the one to weigh sentences against.

        A follow-up searches with the earlier turn, but its sentences are weighed against what it
        asks now as much as against that turn: the long previous answer would otherwise pull the
        choice back to itself. Both texts go through one model call.
        """
        if not question.earlier:
            vector = self.embedder.embed_query(question.search)
            return vector, vector
        search, own = self.embedder.embed_queries([question.search, question.text])
        return search, (own + search) / float(np.linalg.norm(own + search) or 1.0)

    def close(self) -> None:
        """Stop the model process, if the model runs in one (any other embedder is left alone)."""
        close = getattr(self.embedder, "close", None)
        if callable(close):
            close()
