"""The question-answering service: one embedder and one live index, asked from many threads."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.answer import compose
from qa.config import ANSWER_MODES, Settings
from qa.embed import Embedder
from qa.errors import BadInput, QAError
from qa.index import Index, read_manifest
from qa.live import LiveIndex
from qa.question import Question, parse
from qa.records import Answer, Delta, Event, Filters, Final, Hit, Retrieved, Turn
from qa.retrieve import NO_FILTERS, IndexRetriever
from qa.retriever import Retriever
from qa.validate import validate

if TYPE_CHECKING:  # qa.llm (and httpx with it) is imported only when an LLM is configured
    from qa.llm import ChatClient

log = logging.getLogger("qa.pipeline")


@dataclass(frozen=True)
class Prepared:
    """One request once checked and retrieved: what every answer path starts from."""

    question: Question
    store: Retriever
    hits: list[Hit]
    answer: Answer  # the extractive answer
    generating: bool
    timings: dict[str, float]
    started_at: float
    extracted_at: float


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
        self.llm: ChatClient | None = None
        if settings.llm_url:
            from qa.llm import ChatClient

            self.llm = ChatClient.from_settings(settings)

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
        mode: str = "auto",
    ) -> Answer:
        """Answer one question (with optional conversation history) from the live index."""
        return self.run(question, history, top_k, filters, mode)[0]

    def run(
        self,
        question: object,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
        mode: str = "auto",
    ) -> tuple[Answer, list[Hit]]:
        """`ask`, also returning the retrieved passages (for evaluation and debugging)."""
        turn = self._extract(question, history, top_k, filters, mode)
        answer = turn.answer
        if turn.generating:
            answer = self._settle(answer, lambda: self._write(turn))
        return self._timed(turn, answer), turn.hits

    def stream(
        self,
        question: object,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
        mode: str = "auto",
    ) -> Iterator[Event]:
        """`ask` as events: Retrieved, Delta(s), then Final with what `ask` returns.

        The request is checked and the passages retrieved before this returns, so a bad request
        raises here, never halfway through a stream. Closing the iterator early (a client that
        went away) closes the LLM's stream too, which stops the generation on its server.
        """
        turn = self._extract(question, history, top_k, filters, mode)
        return self._events(turn)

    def _events(self, turn: Prepared) -> Iterator[Event]:
        """The events of one prepared turn (a generator: nothing runs until the first is asked for)."""
        if not turn.generating or turn.answer.abstained:
            yield Retrieved(turn.answer.citations)
            yield Delta(turn.answer.answer)
            answer = self._settle(turn.answer, lambda: self._write(turn)) if turn.generating else turn.answer
            yield Final(self._timed(turn, answer))
            return
        from qa.llm import LLMError, passage_citations, prompt_for, verified

        assert self.llm is not None
        prompt = prompt_for(self.settings, turn.question, turn.hits)
        yield Retrieved(passage_citations(prompt))
        pieces: list[str] = []
        failure: LLMError | None = None
        t0 = time.perf_counter()
        try:
            with closing(self.llm.stream(prompt.messages)) as tokens:
                for piece in tokens:
                    if piece:
                        pieces.append(piece)
                        yield Delta(piece)
        except LLMError as exc:
            failure = exc
        llm_s = time.perf_counter() - t0

        def finish() -> Answer:
            if failure is not None:
                raise failure
            return verified("".join(pieces), prompt, self.settings, self.embedder, turn.store, llm_s)

        yield Final(self._timed(turn, self._settle(turn.answer, finish)))

    def _extract(
        self,
        question: object,
        history: Sequence[Turn],
        top_k: int | None,
        filters: Filters | None,
        mode: str,
    ) -> Prepared:
        """Check the request, retrieve, and choose the extractive answer (the one every path has)."""
        t0 = time.perf_counter()
        text, k = validate(question, history, top_k, self.settings)
        generating = self._generating(mode)
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
        return Prepared(parsed, store, hits, answer, generating, timings, t0, t3)

    def _timed(self, turn: Prepared, answer: Answer) -> Answer:
        """`answer` with the request's timings; with an LLM step, "generate" is all of it (a
        fallback's too), "llm" and "verify" its parts when the LLM answered."""
        timings = dict(turn.timings)
        if turn.generating:
            now = time.perf_counter()
            timings |= {"generate": round((now - turn.extracted_at) * 1000, 2), **answer.timings_ms}
            timings["total"] = round((now - turn.started_at) * 1000, 2)
        return replace(answer, timings_ms=timings)

    def _generating(self, mode: str) -> bool:
        """Whether this request's answer is written by the LLM; a 422 for a mode that can't be."""
        if mode not in ANSWER_MODES:
            raise BadInput(f"mode must be one of {', '.join(ANSWER_MODES)}, not {mode!r}")
        if mode == "generate" and self.llm is None:
            raise BadInput(
                "mode 'generate' needs an LLM: set QA_LLM_URL to an OpenAI-compatible server's base URL "
                "(e.g. http://127.0.0.1:8080/v1), or ask with mode 'auto' or 'extractive'"
            )
        return mode != "extractive" and self.llm is not None

    def _write(self, turn: Prepared) -> Answer:
        """The LLM's verified answer (Fallback when there is none)."""
        from qa.llm import generate

        assert self.llm is not None
        return generate(self.llm, self.settings, self.embedder, turn.store, turn.question, turn.hits)

    def _settle(self, extractive: Answer, write: Callable[[], Answer]) -> Answer:
        """The LLM's verified answer, or the extractive one with a note saying why not. Never raises:
        the LLM is an optional writer, and a failure of it is no failure of the request."""
        from qa.llm import Fallback, LLMError

        if extractive.abstained:
            return replace(extractive, note="the articles don't cover the question, so no LLM was asked")
        try:
            answer = write()
        except Fallback as exc:
            return replace(extractive, note=exc.note, claims=exc.claims)
        except LLMError as exc:
            return replace(extractive, note=str(exc))
        except Exception:
            log.exception("the LLM answer could not be made; the extractive answer is returned")
            return replace(
                extractive, note="the LLM's answer could not be checked (an internal error, logged)"
            )
        return replace(answer, support=extractive.support)

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
        if self.llm is not None:
            self.llm.close()
