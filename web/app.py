"""create_app(): the FastAPI application. The lifespan loads the model and the index once."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import QA, QAError, Settings
from qa.errors import Unauthorized
from web import documents, openai_api
from web.routes import router
from web.schemas import UNEXPECTED, error_body

log = logging.getLogger("qa.web")
HERE = Path(__file__).parent

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one JSON error shape: {"error": {"code", "message"}}."""
    return JSONResponse(error_body(code, message), status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        msg = err.get("msg", "is invalid")
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        if loc == "body" and isinstance(getattr(exc, "body", None), bytes | str):
            # The body arrived but was not parsed: it was not sent as JSON.
            return "the request body must be a JSON object sent with 'Content-Type: application/json'"
        if err.get("type") == "missing":
            msg = "is required"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "invalid request"


class Guard:
    """Pure ASGI middleware around everything, 500s included.

    - Refuses request bodies over `max_body_bytes` with 413, whether announced by Content-Length
      or sent in chunks (the bytes are counted as they arrive, and at most that many are held).
    - Adds the security headers to every response: page, API, static files and errors.
    - Logs one line per request at info level: method, path, status and time, never the body.
    - Turns an unexpected exception into the JSON 500 error shape (and logs the traceback).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 0
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if body is None:
                status = 499  # the client went away before sending its whole request
                return
            if isinstance(body, JSONResponse):
                await body(scope, receive, send_secured)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_secured)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = error_response(500, "internal", UNEXPECTED)
            await response(scope, receive, send_secured)
        finally:
            # One line per request; never the question text at info level.
            ms = (time.perf_counter() - t0) * 1000
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, ms)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | JSONResponse | None:
        """The whole body, a 413 response when it is over the limit, or None on disconnect."""
        too_large = error_response(
            413, "too_large", f"the request body is over the {self.max_body_bytes}-byte limit"
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body_bytes):
                return too_large
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return too_large
            if not message.get("more_body", False):
                return bytes(body)


def create_app(settings: Settings | None = None, qa: QA | None = None) -> FastAPI:
    """Build the app; pass `qa` to reuse an already loaded engine (tests, benchmarks)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.qa = qa or QA(settings, require_index=False, model_process=settings.model_process)
        if not app.state.qa.ready:
            log.warning("no index loaded yet: %s", app.state.qa.error.message)
        yield
        if qa is None:
            app.state.qa.close()

    app = FastAPI(
        title="News QA",
        version="0.1.0",
        summary="Ask questions of news articles; answers quote source sentences with citations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if qa is not None:
        app.state.qa = qa  # usable even by clients that skip the lifespan
    app.include_router(router)
    app.include_router(documents.router)
    app.include_router(openai_api.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "bad_input", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI turns any failure to parse a JSON body into a bare 400; say what it was.
            if isinstance(exc.__cause__, RecursionError):
                message = "the request body is nested too deeply"
            elif isinstance(exc.__cause__, UnicodeError):
                message = "the request body is not valid JSON (it is not UTF-8 text)"
            else:
                message = "the request body is not valid JSON"
            return error_response(422, "bad_input", message)
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Guard answers unexpected errors itself; this only catches a failure inside Guard.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", UNEXPECTED)

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's schema, with the configured question and history limits written into it."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        ask = schema["components"]["schemas"]["AskRequest"]["properties"]
        ask["question"]["maxLength"] = settings.max_question_chars
        ask["history"]["maxItems"] = min(ask["history"].get("maxItems", 1 << 30), settings.max_history_turns)
        app.openapi_schema = schema
    return app.openapi_schema
