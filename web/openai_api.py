"""POST /v1/chat/completions and GET /v1/models: the bot as an OpenAI-compatible chat model.

Any OpenAI client (the `openai` SDK, Open WebUI, LibreChat) can talk to it. The last user message
is the question, the user and assistant messages before it the history (the most recent
QA_MAX_HISTORY_TURNS of them); system messages are the client's own instructions, which this bot,
whose prompt is fixed, does not take. Sampling fields (temperature, max_tokens, ...) are accepted
and ignored. The reply's text has [n] markers and the response a `citations` field with the
same objects as /ask (plus `claims`, `mode` and `note`). Streamed, the text sent is the verified
answer: a client accumulates whatever it is sent and cannot take back the LLM's unverified words,
so while the LLM writes, the stream carries only keep-alive comments.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from qa import MAX_HISTORY_TURNS, MAX_TURN_CHARS, QA, Settings, Turn
from qa.errors import BadInput
from qa.records import Answer, Delta, Event, Final
from web.routes import ERRORS, errors, get_qa, get_settings, require_key
from web.schemas import AnswerMode
from web.sse import event_stream, message

router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)], tags=["OpenAI-compatible"])
# The one model this server lists: the bot over its index, whatever LLM (if any) writes for it.
MODEL_ID = "newsqa"
CREATED = int(time.time())
# Messages a request may hold: the history limit, with room for system messages and the question.
MAX_MESSAGES = 2 * MAX_HISTORY_TURNS + 20


class ChatMessage(BaseModel):
    """One message of the conversation, as Chat Completions sends it."""

    model_config = ConfigDict(extra="allow")
    role: str = Field(description="'user', 'assistant', or 'system'/'developer' (not taken).")
    content: str | list[dict[str, Any]] | None = Field(
        default=None, description="Text, or a list of parts of which the 'text' ones are read."
    )


class ChatRequest(BaseModel):
    """A Chat Completions request; fields this bot has no use for are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default=MODEL_ID, description=f"Any name; this server has one model, {MODEL_ID!r}.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    mode: AnswerMode = Field(
        default="auto", description="As /ask's `mode` (an extension; send it in the body's extra fields)."
    )


def text_of(content: str | list[dict[str, Any]] | None, where: str) -> str:
    """A message's text: the string, or its text parts joined; BadInput for other parts."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise BadInput(f"{where} has a {part.get('type')!r} part; this bot reads text only")
        texts.append(part["text"])
    return "\n".join(texts)


def conversation(messages: list[ChatMessage], max_turns: int) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the turns before it."""
    last = messages[-1]
    if last.role != "user":
        raise BadInput(f"the last message must be the user's question, not a {last.role!r} message")
    turns = [
        # A chat client resends whole earlier answers: each is cut to the length /ask allows.
        Turn(m.role, text_of(m.content, f"messages[{n}]")[:MAX_TURN_CHARS])
        for n, m in enumerate(messages[:-1])
        if m.role in ("user", "assistant")
    ]
    return text_of(last.content, f"messages[{len(messages) - 1}]"), turns[-max_turns:] if max_turns else []


def completion(answer: Answer, reply: ReplyId) -> dict[str, Any]:
    """A chat.completion object for `answer`."""
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": answer.answer},
        "finish_reason": "stop",
        "logprobs": None,
    }
    return {**head(reply, "chat.completion"), "choices": [choice], **extras(answer)}


@dataclass(frozen=True)
class ReplyId:
    """What every chunk of one reply shares: its id and its creation time."""

    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))


def head(reply: ReplyId, kind: str) -> dict[str, Any]:
    """The fields every completion object and chunk starts with."""
    return {"id": reply.id, "object": kind, "created": reply.created, "model": MODEL_ID}


def extras(answer: Answer) -> dict[str, Any]:
    """What the bot adds to a completion: citations as /ask has them, claims, mode, note."""
    body = answer.to_dict()
    return {k: body[k] for k in ("citations", "claims", "mode", "note", "abstained")}


def chunk(reply: ReplyId, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    return {**head(reply, "chat.completion.chunk"), "choices": [choice]}


def chunk_encoder(reply: ReplyId) -> Callable[[Event], bytes]:
    """Events → chat.completion.chunk messages: the role first, keep-alives while the LLM writes,
    then the verified text a few words a chunk, a last chunk with the citations, and [DONE]."""

    def encode(event: Event) -> bytes:
        if isinstance(event, Delta):
            return b": writing\n\n"  # an SSE comment: clients skip it; a gone client is noticed
        if not isinstance(event, Final):
            return message(chunk(reply, {"role": "assistant", "content": ""}))
        words = event.answer.answer.split(" ")
        pieces = [
            " ".join(words[i : i + 4]) + (" " if i + 4 < len(words) else "") for i in range(0, len(words), 4)
        ]
        out = [message(chunk(reply, {"content": p})) for p in pieces]
        out.append(message({**chunk(reply, {}, "stop"), **extras(event.answer)}))
        return b"".join(out) + b"data: [DONE]\n\n"

    return encode


@router.post(
    "/chat/completions",
    responses=ERRORS,
    summary="Answer the last user message, OpenAI Chat Completions style",
)
def chat_completions(
    body: ChatRequest,
    qa: Annotated[QA, Depends(get_qa)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    """The answer as a chat.completion (or, streamed, chat.completion.chunk events) with citations."""
    question, history = conversation(body.messages, settings.max_history_turns)
    reply = ReplyId()
    if body.stream:
        return event_stream(qa.stream(question, history, mode=body.mode), chunk_encoder(reply))
    return JSONResponse(completion(qa.ask(question, history, mode=body.mode), reply))


@router.get("/models", responses=errors(401, 422), summary="The one model this server answers as")
def models() -> dict[str, Any]:
    """An OpenAI model list holding the bot."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "newsqa"}],
    }
