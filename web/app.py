"""create_app(): the FastAPI application. The lifespan loads the model and the index once."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import QA, QAError, Settings
from web.routes import router

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
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        msg = err.get("msg", "is invalid")
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        if err.get("type") == "missing":
            msg = "is required"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings | None = None, qa: QA | None = None) -> FastAPI:
    """Build the app; pass `qa` to reuse an already loaded engine (tests, benchmarks)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.qa = qa or QA(settings, require_index=False)
        if not app.state.qa.ready:
            log.warning("no index loaded yet: %s", app.state.qa._error.message)
        yield

    app = FastAPI(
        title="News QA",
        version="0.1.0",
        summary="Ask questions of news articles; answers quote source sentences with citations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "bad_input", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return error_response(422, "bad_input", "the request body is nested too deeply")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "the server hit an unexpected error; it is logged")

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            response: Response = error_response(
                413, "too_large", f"the request body is over the {settings.max_body_bytes}-byte limit"
            )
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        # One line per request; never the question text at info level.
        log.info(
            "%s %s %d %.1fms", request.method, request.url.path, response.status_code,
            (time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        return response

    return app
