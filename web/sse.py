"""Server-sent events: a blocking iterator of qa events relayed to the client as it goes.

The events are made in FastAPI's thread pool (embedding, retrieval and the LLM's stream block),
one at a time; each is sent before the next is asked for. When the client goes away, sending
fails, the relay ends and its `finally` closes the iterator: `QA.stream` then closes the LLM's
stream, so the LLM's server stops generating an answer nobody will read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from web.schemas import UNEXPECTED, error_body

log = logging.getLogger("qa.web")
T = TypeVar("T")
# No caching, and no buffering by a proxy in front (nginx honours X-Accel-Buffering).
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL = error_body("internal", UNEXPECTED)


def message(data: Any, event: str | None = None) -> bytes:
    """One server-sent event: an optional event name and one line of JSON data."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def relay(events: Iterator[T], encode: Callable[[T], bytes]) -> AsyncIterator[bytes]:
    """Each event encoded as it comes; an error event (logged) if making one fails midway."""
    try:
        async for event in iterate_in_threadpool(events):
            yield encode(event)
    except Exception:
        # The status line is sent already: the failure can only be reported inside the stream.
        log.exception("unexpected error while streaming an answer")
        yield message(INTERNAL, "error")
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()


def event_stream(events: Iterator[T], encode: Callable[[T], bytes]) -> StreamingResponse:
    """A text/event-stream response relaying `events`."""
    return StreamingResponse(relay(events, encode), media_type="text/event-stream", headers=HEADERS)
