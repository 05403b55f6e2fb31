"""A scripted OpenAI-compatible LLM server on 127.0.0.1, run in a thread: what each test's "LLM"
replies is a function of the request it gets (a correct cited answer, an invented sentence, a 500,
a reply slower than the client's timeout, garbage, a stream cut in the middle...)."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the server answers: the message text (wrapped in a Chat Completions response), or a
    raw body; after `delay_s`; streamed as `chunks` when the request asks for a stream."""

    text: str = ""
    status: int = 200
    body: bytes | None = None
    delay_s: float = 0.0
    chunks: list[str] = field(default_factory=list)
    cut: bool = False  # a stream that ends without its [DONE]
    chunk_delay_s: float = 0.0  # between streamed chunks


Script = Callable[[dict[str, Any]], Reply]
_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)


def passages(request: dict[str, Any]) -> dict[int, str]:
    """The numbered passages of a request's user message."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return {int(n): text for n, text in _PASSAGE.findall(user)}


def passage_with(request: dict[str, Any], fragment: str) -> int:
    """The number of the first passage holding `fragment` (an AssertionError when none does)."""
    found = [n for n, text in passages(request).items() if fragment in text]
    assert found, f"no passage holds {fragment!r}"
    return found[0]


def passage_without(request: dict[str, Any], fragment: str) -> int:
    """The number of the first passage that doesn't hold `fragment`."""
    return next(n for n, text in sorted(passages(request).items()) if fragment not in text)


class LLMServer(http.server.ThreadingHTTPServer):
    """POST /v1/chat/completions answered by `script`; every request's body and headers are kept."""

    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        # For each stream the client closed early: how many chunks had been sent.
        self.abandoned: list[int] = []

    @property
    def url(self) -> str:
        """The base URL a client is configured with (QA_LLM_URL)."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: LLMServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows the test's own output

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        try:
            reply = self.server.script(body)
        except Exception as exc:  # a broken script is a 500 that names it, not a dropped connection
            reply = Reply(status=500, body=f"script failed: {exc!r}".encode())
        time.sleep(reply.delay_s)
        try:
            if body.get("stream") and reply.status == 200 and reply.body is None:
                self._stream(reply)
            else:
                self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the slow replies)

    def _send(self, reply: Reply) -> None:
        if reply.body is not None:
            data = reply.body
        else:
            message = {"role": "assistant", "content": reply.text}
            data = json.dumps(
                {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
            ).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for sent, piece in enumerate(reply.chunks):
            event = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}}],
            }
            try:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.server.abandoned.append(sent)
                raise
            time.sleep(reply.chunk_delay_s)
        if not reply.cut:
            self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


@contextmanager
def llm_server(script: Script) -> Iterator[LLMServer]:
    """A running server answering with `script`, stopped afterwards."""
    server = LLMServer(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
