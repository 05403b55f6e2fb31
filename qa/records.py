"""The vocabulary of the pipeline: Document → Sentence/Chunk → Hit → Answer.

Every record is a frozen dataclass so a stage can never change what an earlier stage produced.
This module imports nothing else from `qa`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One article: its plain text plus where section headings sit inside it."""

    doc_id: str
    title: str
    source: str
    text: str
    content_hash: str
    published: str | None = None  # ISO 8601 date (or date and time), when any source gives one
    headings: tuple[Span, ...] = ()
    url: str | None = None  # the canonical address of a web article
    site: str | None = None  # the publication's name, or else the host
    author: str | None = None
    # Every address the story was found at: its own and those of syndicated copies folded into it.
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document with its offsets and the section heading above it."""

    doc_id: str
    idx: int
    start: int
    end: int
    text: str
    section: str | None = None
    paragraph: int = 0


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences sized for the embedding model; `first`/`last` are sentence indexes."""

    doc_id: str
    idx: int
    start: int
    end: int
    text: str
    first: int
    last: int
    section: str | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks that produced it."""

    chunk_id: int
    chunk: Chunk
    title: str
    source: str
    score: float
    dense_score: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None
    published: str | None = None
    url: str | None = None
    site: str | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage and the offsets of the quoted sentence(s)."""

    id: int
    title: str
    source: str
    text: str
    start: int
    end: int
    score: float
    passage_start: int
    section: str | None = None
    published: str | None = None
    url: str | None = None
    site: str | None = None


# What an answer says when the indexed articles don't answer the question.
ABSTAIN_TEXT = "The indexed articles don't cover this."


@dataclass(frozen=True)
class Filters:
    """Which articles a question may be answered from: published between `since` and `until`
    (ISO dates, inclusive; an article without a date is left out when either is set), and from one
    of `sources` (a site's name, or a prefix of the article's url or path)."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.since or self.until or self.sources)


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class Claim:
    """One sentence of a generated answer, and whether a sentence of its cited passages says it."""

    text: str
    # Ids of the answer's citations that hold its supporting span; none when it is unsupported.
    citations: tuple[int, ...]
    supported: bool
    # Why it is unsupported, in words for a tooltip ("the cited sentence doesn't give 2027"); None
    # when it is supported.
    reason: str | None = None


# How an answer was made: the sentences chosen from the articles, or written by an LLM and verified.
EXTRACTIVE = "extractive"
GENERATE = "generate"


@dataclass(frozen=True)
class Answer:
    """What `ask` returns: a short answer with [n] markers, or an abstention."""

    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    # How strongly the chosen sentences answer the question (the answer model's score, the one
    # abstention compares with its threshold); 0 for a refusal.
    support: float = 0.0
    mode: str = EXTRACTIVE
    # Why a generated answer was asked for but this one is extractive (the LLM failed, or none of
    # its sentences could be verified); None otherwise.
    note: str | None = None
    # The sentences an LLM wrote, each checked against its cited passages; empty when extractive.
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The /ask response object, shared by the API and `qa ask --json`."""
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": self.mode,
            "support": self.support,
            "citations": [asdict(c) for c in self.citations],
            "claims": [
                {"text": c.text, "citations": list(c.citations), "supported": c.supported, "reason": c.reason}
                for c in self.claims
            ],
            "note": self.note,
            "timings_ms": dict(self.timings_ms),
        }


# What a streamed answer sends, in order: the numbered passages its [n] markers refer to, the text
# as it is written, then the answer as the non-streaming call returns it.


@dataclass(frozen=True)
class Retrieved:
    """The numbered passages the text that follows cites (the answer's citations when extractive;
    the passages given to the LLM, as numbered in its prompt, when it writes)."""

    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text as it is written (the LLM's raw, unverified tokens)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The finished answer: exactly what the non-streaming call returns."""

    answer: Answer


Event = Retrieved | Delta | Final
