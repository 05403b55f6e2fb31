"""The /ask and /documents contracts as pydantic models: what clients send and what they get back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from qa import MAX_HISTORY_TURNS, MAX_PAGE, MAX_TOP_K, MAX_TURN_CHARS

# How an answer may be asked for (qa.config.ANSWER_MODES): /ask's and /v1/chat/completions' `mode`.
AnswerMode = Literal["auto", "extractive", "generate"]


class HistoryTurn(BaseModel):
    """One earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: StrictStr = Field(max_length=MAX_TURN_CHARS, description="What was said.")


class FiltersIn(BaseModel):
    """Which articles to answer from; applied inside retrieval, before its top k."""

    model_config = ConfigDict(extra="forbid")
    since: StrictStr | None = Field(default=None, description="Published on or after this date, YYYY-MM-DD.")
    until: StrictStr | None = Field(default=None, description="Published on or before this date, YYYY-MM-DD.")
    sources: list[StrictStr] = Field(
        default_factory=list,
        max_length=50,
        description="Site names or url (or path) prefixes; any may match.",
    )


class AskRequest(BaseModel):
    """A question, with the conversation so far and how many passages to retrieve."""

    model_config = ConfigDict(extra="forbid")
    question: StrictStr = Field(
        min_length=1, description="The question (at most QA_MAX_QUESTION_CHARS characters)."
    )
    history: list[HistoryTurn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS, description="Earlier turns, oldest first."
    )
    top_k: StrictInt | None = Field(
        default=None, ge=1, le=MAX_TOP_K, description="Passages to retrieve (default QA_TOP_K)."
    )
    filters: FiltersIn | None = Field(default=None, description="Date range and sources to answer from.")
    mode: AnswerMode = Field(
        default="auto",
        description="'extractive': the articles' own sentences; 'generate': written by the configured LLM "
        "(QA_LLM_URL; 422 without one), each sentence verified against its cited passage; 'auto': "
        "generate when an LLM is configured, else extractive.",
    )
    stream: StrictBool = Field(
        default=False,
        description="Answer as server-sent events (text/event-stream): `citations` once the passages "
        "are retrieved, `delta` with text as it is written (the LLM's unverified tokens; an extractive "
        "answer in one piece), then `final` with the response object the non-streaming call returns.",
    )


class CitationOut(BaseModel):
    """A numbered source: the passage and the offsets of the quoted sentence(s) in the document."""

    id: int = Field(description="The n of the [n] marker in the answer.")
    title: str
    source: str = Field(description="File path or URL of the article.")
    text: str = Field(description="The cited passage.")
    start: int = Field(description="Offset of the quoted sentence(s) in the document.")
    end: int = Field(description="End offset (exclusive) of the quoted sentence(s).")
    score: float = Field(description="Retrieval score of the passage (fusion of vector and keyword ranks).")
    passage_start: int = Field(description="Offset of `text` in the document.")
    section: str | None = Field(default=None, description="Section heading above the passage.")
    published: str | None = Field(default=None, description="Publication date (ISO 8601), when known.")
    url: str | None = Field(default=None, description="Canonical address of a web article.")
    site: str | None = Field(default=None, description="The publication's name, or else the host.")


class ClaimOut(BaseModel):
    """One sentence an LLM wrote, checked against its cited passage."""

    text: str = Field(description="The sentence, without its [n] markers.")
    citations: list[int] = Field(
        description="Ids of the citations holding its supporting span; none if unsupported."
    )
    supported: bool = Field(
        description="Whether a sentence of its cited passage states it, numbers and names included."
    )
    reason: str | None = Field(
        default=None, description="Why it is unsupported (for a tooltip); null when it is supported."
    )


class AskResponse(BaseModel):
    """An answer with inline [n] markers, or an abstention with related passages."""

    answer: str
    abstained: bool
    mode: Literal["extractive", "generate"] = Field(
        description="Which path answered: the articles' sentences, or the LLM's verified sentences."
    )
    support: float = Field(
        description="How strongly the quoted sentences answer the question (the answer model's "
        "score, which abstention compares with its threshold); 0 for a refusal."
    )
    citations: list[CitationOut]
    claims: list[ClaimOut] = Field(
        description="Every sentence the LLM wrote, supported or not; empty for an extractive answer "
        "the LLM had no part in."
    )
    note: str | None = Field(
        description="Why the answer is extractive although an LLM answer was asked for (the LLM failed, "
        "timed out, or none of its sentences could be verified); null otherwise."
    )
    timings_ms: dict[str, float]


class ErrorBody(BaseModel):
    """What went wrong, in words meant for people."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorBody


# The message of every unexpected error (a 500, or an `error` event once a stream has started).
UNEXPECTED = "the server hit an unexpected error; it is logged"


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """An ErrorResponse as sent: {"error": {"code", "message"}}."""
    return {"error": {"code": code, "message": message}}


class Health(BaseModel):
    """Liveness and what is loaded."""

    status: str
    documents: int
    chunks: int
    generation: str


class DocumentOut(BaseModel):
    """One indexed article as the library lists it."""

    id: str = Field(description="The article's id (what DELETE /documents/{id} takes).")
    title: str
    site: str | None = Field(description="The publication's name, or else the host, when known.")
    published: str | None = Field(description="Publication date (ISO 8601), when known.")
    url: str | None = Field(description="Canonical address of a web article.")
    source: str = Field(description="File path or URL the article was read from.")
    urls: list[str] = Field(description="Every address the story was found at, syndicated copies included.")


class DocumentPage(BaseModel):
    """A page of the library: `total` articles match, `entries` are those from `offset` on."""

    total: int
    offset: int
    limit: int = Field(description=f"Entries asked for (1-{MAX_PAGE}).")
    entries: list[DocumentOut] = Field(description="Newest first; undated articles last.")


class AddDocumentRequest(BaseModel):
    """The address of a news article to fetch and index."""

    model_config = ConfigDict(extra="forbid")
    url: StrictStr = Field(min_length=1, max_length=4096, description="An http or https address.")


class DocumentAdded(BaseModel):
    """What POST /documents did: the article as now indexed and the generation that holds it."""

    added: DocumentOut = Field(
        description="The article as indexed now. A syndicated copy of an indexed story is folded "
        "into that story, which is the one returned."
    )
    generation: str = Field(description="The index generation serving it (already live).")
    documents: int = Field(description="Articles indexed now.")


class DocumentRemoved(BaseModel):
    """What DELETE /documents/{id} removed and the generation without it."""

    removed: DocumentOut
    generation: str = Field(description="The index generation without it (already live).")
    documents: int = Field(description="Articles indexed now.")
