"""The question-answering service: one embedder and one live index, asked from many threads."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.answer import compose
from qa.config import MAX_TOP_K, Settings
from qa.embed import Embedder
from qa.errors import BadInput, QAError
from qa.question import parse
from qa.records import Answer, Hit, Turn
from qa.retrieve import retrieve
from qa.store import Index, current_generation, read_manifest

log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def validate(
    question: object, history: Sequence[Turn], top_k: int | None, settings: Settings
) -> tuple[str, int]:
    """Check a request against the limits; returns the cleaned question and top_k."""
    if not isinstance(question, str):
        raise BadInput("question must be a string")
    if len(question) > settings.max_question_chars:
        raise BadInput(f"question is {len(question)} characters; the limit is {settings.max_question_chars}")
    # Control characters carry no meaning (ingestion drops them from articles too).
    q = _CONTROL.sub("", question).strip()
    if not q:
        raise BadInput("question must not be empty")
    if len(history) > settings.max_history_turns:
        raise BadInput(f"history has {len(history)} turns; the limit is {settings.max_history_turns}")
    for n, turn in enumerate(history):
        if turn.role not in ("user", "assistant"):
            raise BadInput(f"history[{n}].role must be 'user' or 'assistant', not {turn.role!r}")
    k = settings.top_k if top_k is None else top_k
    if not 1 <= k <= MAX_TOP_K:
        raise BadInput(f"top_k must be between 1 and {MAX_TOP_K}, not {k}")
    return q, k


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
        self._reload_lock = threading.Lock()
        self._checked = time.monotonic()
        self._index: Index | None = None
        self._error: QAError | None = None
        try:
            self._index = self._open()
        except QAError as exc:
            # A server may start before the first build; it picks the index up when it appears.
            if require_index:
                raise
            self._error = exc

    def _open(self) -> Index:
        return Index(
            Path(self.settings.index_dir),
            expect_model=self.embedder.name,
            expect_dim=self.embedder.dimension,
        )

    @property
    def index(self) -> Index:
        """The live index (a new object after a reload; old ones stay valid for their readers)."""
        if self._index is None:
            self.maybe_reload(force=True)
        if self._index is None:
            assert self._error is not None
            raise self._error
        return self._index

    @property
    def ready(self) -> bool:
        """Whether an index is loaded."""
        return self._index is not None

    def maybe_reload(self, force: bool = False) -> bool:
        """Swap in a rebuilt index if CURRENT moved; never raises, never blocks other readers."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.reload_interval_s:
            return False
        if not self._reload_lock.acquire(blocking=force):
            return False
        try:
            self._checked = now
            gen = current_generation(Path(self.settings.index_dir))
            if gen is None or (self._index is not None and gen.name == self._index.generation):
                return False
            try:
                fresh = self._open()
            except QAError as exc:
                if self._error is None or exc.message != self._error.message:  # once, not per check
                    if self._index is not None:
                        log.warning("kept the loaded index; the new one failed to load: %s", exc.message)
                    else:
                        log.warning("no usable index: %s", exc.message)
                self._error = exc
                return False
            self._error = None
            self._index = fresh
            log.info("reloaded index generation %s", fresh.generation)
            return True
        finally:
            self._reload_lock.release()

    def ask(self, question: object, history: Sequence[Turn] = (), top_k: int | None = None) -> Answer:
        """Answer one question (with optional conversation history) from the live index."""
        return self.run(question, history, top_k)[0]

    def run(
        self, question: object, history: Sequence[Turn] = (), top_k: int | None = None
    ) -> tuple[Answer, list[Hit]]:
        """`ask`, also returning the retrieved passages (for evaluation and debugging)."""
        t0 = time.perf_counter()
        q, k = validate(question, history, top_k, self.settings)
        self.maybe_reload()
        index = self.index
        question_ = parse(q, history)
        # A follow-up searches with the earlier turn, but its sentences are weighed against what
        # it asks now as much as against that turn: the long previous answer would otherwise
        # pull the choice back to itself. Both texts go through one model call.
        if question_.context:
            vector, own = self.embedder.embed_queries([question_.search, question_.text])
            meaning = (own + vector) / float(np.linalg.norm(own + vector) or 1.0)
        else:
            vector = meaning = self.embedder.embed_query(question_.search)
        t1 = time.perf_counter()
        hits = retrieve(index, question_, vector, k)
        t2 = time.perf_counter()
        answer = compose(index, question_, meaning, hits)
        t3 = time.perf_counter()
        timings = {
            "embed": round((t1 - t0) * 1000, 2),
            "retrieve": round((t2 - t1) * 1000, 2),
            "answer": round((t3 - t2) * 1000, 2),
            "total": round((t3 - t0) * 1000, 2),
        }
        return Answer(answer.answer, answer.abstained, answer.citations, timings), hits

    def close(self) -> None:
        """Stop the model process, if the model runs in one (any other embedder is left alone)."""
        close = getattr(self.embedder, "close", None)
        if callable(close):
            close()

    def corpus(self) -> dict[str, object]:
        """What is indexed: counts and titles, for the chat page's empty state and /healthz."""
        idx = self.index
        return {
            "documents": len(idx.documents),
            "chunks": idx.n_chunks,
            "titles": [d.title for d in idx.documents.values()][:20],
            "model": idx.manifest.get("model"),
            "built_at": idx.manifest.get("built_at"),
            "generation": idx.generation,
        }
