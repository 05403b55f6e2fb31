"""The optional LLM answer path: retrieved passages → a grounded prompt → the LLM's cited answer →
only the sentences a cited passage supports, each citation pointing at its supporting span.

`client` (the one interface to an OpenAI-compatible server), `prompt` (+ prompt.txt, the template),
`verify` (claims, support, spans). `generate` puts them together; when no sentence survives, or
the LLM fails, it raises `Fallback` with the note the extractive answer is returned with.
Nothing here is imported unless an LLM is configured (QA_LLM_URL).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.render import citation
from qa.config import Settings
from qa.embed import Embedder
from qa.llm.client import ChatClient, LLMError, Message
from qa.llm.prompt import Passage, build_messages, says_not_covered
from qa.llm.verify import Draft, Source, Verdict, check, split_claims
from qa.question import Question
from qa.records import GENERATE, Answer, Citation, Claim, Hit
from qa.retriever import PassageStore

__all__ = [
    "ChatClient", "Fallback", "LLMError", "Message", "Prompt", "generate", "passage_citations", "prompt_for",
    "verified",
]  # fmt: skip

UNVERIFIED = "(unverified)"


class Fallback(Exception):
    """No verified generated answer: `note` says why, `claims` lists what was checked (if anything)."""

    def __init__(self, note: str, claims: tuple[Claim, ...] = ()) -> None:
        super().__init__(note)
        self.note = note
        self.claims = claims


@dataclass(frozen=True)
class Written:
    """The answer text, its citations and its claims, as verification leaves them."""

    text: str
    citations: tuple[Citation, ...]
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Prompt:
    """What the LLM is asked: the passages it is given, numbered from 1 in this order, and the messages."""

    given: tuple[Hit, ...]
    messages: tuple[Message, ...]


def prompt_for(settings: Settings, question: Question, hits: Sequence[Hit]) -> Prompt:
    """The grounded prompt over the best `settings.llm_passages` passages."""
    given = tuple(hits[: settings.llm_passages])
    asked = question.text if not question.earlier else f"{question.text} (earlier: {question.earlier})"
    passages = [Passage(n, h.title, h.chunk.text) for n, h in enumerate(given, 1)]
    return Prompt(given, tuple(build_messages(asked, passages)))


def passage_citations(prompt: Prompt) -> tuple[Citation, ...]:
    """The given passages as citations numbered as the prompt numbers them, each spanning the
    whole passage: what a streamed reply's [n] markers refer to until it is verified."""
    return tuple(
        citation(hit, hit.chunk.start, hit.chunk.start + len(hit.chunk.text), n)
        for n, hit in enumerate(prompt.given, 1)
    )


def generate(
    client: ChatClient,
    settings: Settings,
    embedder: Embedder,
    index: PassageStore,
    question: Question,
    hits: Sequence[Hit],
) -> Answer:
    """Ask the LLM about the best passages and keep the sentences they support; Fallback otherwise."""
    prompt = prompt_for(settings, question, hits)
    t0 = time.perf_counter()
    try:
        reply = client.complete(prompt.messages)
    except LLMError as exc:
        raise Fallback(str(exc)) from None
    return verified(reply, prompt, settings, embedder, index, time.perf_counter() - t0)


def verified(
    reply: str, prompt: Prompt, settings: Settings, embedder: Embedder, index: PassageStore, llm_s: float
) -> Answer:
    """The reply's sentences that their cited passages support, as an Answer; Fallback when none is."""
    t1 = time.perf_counter()
    if says_not_covered(reply):
        raise Fallback("the LLM found no answer in the passages")
    drafts = split_claims(reply)
    if not any(d.cited for d in drafts):
        raise Fallback("the LLM's reply cited no passage")
    verdicts = verify_drafts(embedder, index, drafts, prompt.given)
    written = assemble(verdicts, prompt.given, settings.llm_unsupported)
    if not any(c.supported for c in written.claims):
        raise Fallback(
            f"none of the LLM's {len(drafts)} sentence(s) is supported by its cited passage", written.claims
        )
    timings = {"llm": round(llm_s * 1000, 2), "verify": round((time.perf_counter() - t1) * 1000, 2)}
    return Answer(written.text, False, written.citations, timings, mode=GENERATE, claims=written.claims)


def verify_drafts(
    embedder: Embedder, index: PassageStore, drafts: Sequence[Draft], given: Sequence[Hit]
) -> list[Verdict]:
    """Each sentence of the reply checked against the sentences of the passages it cites."""
    sources = []
    for n, hit in enumerate(given, 1):
        c = hit.chunk
        for row, sentence in index.sentences(c.doc_id, c.first, c.last):
            sources.append(Source(n, sentence, index.sentence_vectors[row]))
    vectors = embedder.embed_queries([d.text for d in drafts])
    return [check(d, v, sources) for d, v in zip(drafts, vectors, strict=True)]


def assemble(verdicts: Sequence[Verdict], given: Sequence[Hit], unsupported: str) -> Written:
    """Supported sentences with [n] markers renumbered onto their spans (one citation per distinct
    span, numbered in order of use); unsupported ones dropped or marked, as QA_LLM_UNSUPPORTED says."""
    ids: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    claims: list[Claim] = []
    for v in verdicts:
        if not v.supported:
            claims.append(Claim(v.draft.text, (), False, v.reason))
            if unsupported == "mark":
                parts.append(f"{v.draft.text} {UNVERIFIED}")
            continue
        first, last = v.span[0], v.span[-1]
        key = (first.passage, first.sentence.start, last.sentence.end)
        if key not in ids:
            ids[key] = len(citations) + 1
            citations.append(citation(given[first.passage - 1], key[1], key[2], ids[key]))
        claims.append(Claim(v.draft.text, (ids[key],), True))
        parts.append(f"{v.draft.text} [{ids[key]}]")
    return Written(" ".join(parts), tuple(citations), tuple(claims))
