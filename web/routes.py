"""GET / (chat page), POST /ask, GET /healthz: parse, call qa, format (/documents: web/documents.py)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from qa import QA, Settings, Turn, example_questions, parse_filters
from qa.errors import QAError, Unauthorized
from qa.records import Delta, Event, Final, Retrieved
from web.schemas import AskRequest, AskResponse, ErrorResponse, Health
from web.sse import event_stream, message

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
ERROR_DESCRIPTIONS = {
    401: "Missing or wrong API key",
    403: "Adding and removing articles is off: QA_API_KEY is not set",
    404: "No indexed article has this id",
    413: "Request body too large",
    422: "Invalid request",
    503: "No usable index",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route: each of these statuses has the one error shape."""
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


ERRORS = errors(401, 413, 422, 503)
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            # OpenAPI 3.2's way to describe one server-sent event; `data` is JSON: {"citations"},
            # {"text"}, the AskResponse, or the error shape.
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"enum": ["citations", "delta", "final", "error"]},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
        "description": "The answer object; with `stream`, server-sent events ending with it.",
    }
}


def get_settings(request: Request) -> Settings:
    """The app's settings (override in tests with app.dependency_overrides)."""
    settings: Settings = request.app.state.settings
    return settings


def get_qa(request: Request) -> QA:
    """The loaded question-answering engine."""
    qa: QA = request.app.state.qa
    return qa


def require_key(
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    """When QA_API_KEY is set, demand it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.

    A bare 'Authorization: <key>' is refused: only the Bearer scheme carries the key.
    """
    if not settings.api_key:
        return
    scheme, _, token = (authorization or "").strip().partition(" ")
    given = x_api_key or (token.strip() if scheme.lower() == "bearer" else "")
    if not given or not secrets.compare_digest(given.encode(), settings.api_key.encode()):
        raise Unauthorized(
            "this server needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )


@router.post(
    "/ask",
    response_model=AskResponse,
    responses=STREAMED | ERRORS,
    dependencies=[Depends(require_key)],
    summary="Answer a question with cited source sentences",
    description="An answer whose [n] markers point at the cited source sentences (the articles' own "
    "sentences, or with an LLM configured, its sentences that a cited sentence supports), or "
    "an abstention with related passages when the indexed articles don't cover the question. "
    'Every error has the shape {"error": {"code", "message"}}. With `"stream": true` the answer '
    "comes as server-sent events: `citations` (the numbered passages), `delta` (text as it is "
    "written), `final` (this same response object).",
)
def ask(body: AskRequest, qa: Annotated[QA, Depends(get_qa)]) -> Response:
    # Plain `def`: the work is CPU-bound, so FastAPI runs it in its thread pool.
    history = [Turn(t.role, t.content) for t in body.history]
    f = body.filters
    filters = parse_filters(f.since, f.until, f.sources) if f else None
    if body.stream:
        # Checked and retrieved here, so a bad request is still an HTTP error, not an event.
        return event_stream(qa.stream(body.question, history, body.top_k, filters, body.mode), ask_event)
    # Answer.to_dict() already has AskResponse's shape (the schema tests check it), so it is
    # sent as is rather than validated field by field again: that took ~1 ms of the GIL.
    return JSONResponse(qa.ask(body.question, history, body.top_k, filters, body.mode).to_dict())


def ask_event(event: Event) -> bytes:
    """One /ask stream event: `citations`, `delta` or `final`."""
    if isinstance(event, Retrieved):
        return message({"citations": [asdict(c) for c in event.citations]}, "citations")
    if isinstance(event, Delta):
        return message({"text": event.text}, "delta")
    assert isinstance(event, Final)
    return message(event.answer.to_dict(), "final")


@router.get("/healthz", response_model=Health, responses={503: {"model": ErrorResponse}})
def healthz(qa: Annotated[QA, Depends(get_qa)]) -> Any:
    """200 once an index is loaded, 503 with the reason before (the app's QAError handler)."""
    info = qa.index.summary()
    return {"status": "ok", **{k: info[k] for k in ("documents", "chunks", "generation")}}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def chat_page(
    request: Request,
    qa: Annotated[QA, Depends(get_qa)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> HTMLResponse:
    """The chat page, with what is indexed and a few example questions for its empty state."""
    try:
        corpus: dict[str, Any] | None = qa.index.summary()
    except QAError:
        corpus = None
    titles = list(corpus.get("titles") or []) if corpus else []
    context = {
        "corpus": corpus,
        "examples": example_questions(titles),
        "max_question_chars": settings.max_question_chars,
        "max_history_turns": settings.max_history_turns,
        "writes": bool(settings.llm_url),  # an LLM writes the answers (and verification checks them)
    }
    return templates.TemplateResponse(request, "chat.html", context)
