"""The LLM client: one OpenAI-compatible Chat Completions endpoint, over httpx.

Every server the product is pointed at (llama.cpp's llama-server, Ollama, vLLM, hosted APIs) speaks
the same small part of the protocol: POST {base}/chat/completions with messages, and a JSON reply
(or, with "stream": true, server-sent events of text deltas). That part is all this module speaks,
with one total deadline per call, a cap on the reply's size and no hidden retries, so what a slow or
broken server costs a request is bounded and visible. Prompts and replies are logged at debug level
only; the API key is sent in a header and never logged, repr'd or put in an error.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from qa.config import Settings

log = logging.getLogger("qa.llm")
# A Chat Completions reply to a few-sentence answer is a few kB; more is not a reply to this prompt.
MAX_REPLY_BYTES = 1_000_000
# Sent as the model's name when QA_LLM_MODEL is unset (llama-server serves one model whatever the name).
DEFAULT_MODEL_NAME = "default"


class LLMError(Exception):
    """The LLM gave no usable reply; the message says why, in words fit for an answer's note."""


@dataclass(frozen=True)
class Message:
    """One chat message: role 'system', 'user' or 'assistant'."""

    role: str
    content: str


class ChatClient:
    """Completions (whole, or streamed as text deltas) from one OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 400,
    ) -> None:
        """`base_url` ends before /chat/completions, e.g. http://127.0.0.1:8080/v1."""
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model or DEFAULT_MODEL_NAME
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        headers = {"User-Agent": "newsqa/0.1 (question answering over news articles)"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # trust_env off: a proxy from the environment must not see the prompt or the key.
        self._http = httpx.Client(headers=headers, timeout=timeout_s, trust_env=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatClient:
        """The client QA_LLM_* describe (the caller checks that QA_LLM_URL is set)."""
        assert settings.llm_url, "no QA_LLM_URL"
        return cls(
            settings.llm_url,
            settings.llm_model,
            settings.llm_api_key,
            settings.llm_timeout_s,
            settings.llm_max_tokens,
        )

    def __repr__(self) -> str:
        """The endpoint and model, never the key."""
        return f"ChatClient({self.url!r}, model={self.model!r})"

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole reply's text; LLMError when there is none in time."""
        deadline = time.monotonic() + self.timeout_s
        body = b"".join(self._post(messages, stream=False, deadline=deadline))
        try:
            data = json.loads(body)
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("the LLM's reply was not a Chat Completions response") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError("the LLM's reply held no text")
        log.debug("LLM reply: %r", text)
        return text

    def stream(self, messages: Sequence[Message]) -> Generator[str, None, None]:
        """The reply's text deltas as the server sends them; LLMError when the stream breaks off."""
        deadline = time.monotonic() + self.timeout_s
        lines = _lines(self._post(messages, stream=True, deadline=deadline))
        for line in lines:
            if not line.startswith("data:"):
                continue  # comments, event names and keep-alives of server-sent events
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            yield _delta(payload)
        raise LLMError("the LLM's stream was cut off before it ended")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _post(self, messages: Sequence[Message], stream: bool, deadline: float) -> Iterator[bytes]:
        """The reply's body in pieces, within the deadline and the size cap."""
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": 0,  # the same passages give the same answer: reproducible, and verifiable
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        log.debug("LLM request to %s: %r", self.url, request["messages"])
        received = 0
        try:
            with self._http.stream("POST", self.url, json=request) as response:
                if response.status_code != 200:
                    raise LLMError(f"the LLM server answered HTTP {response.status_code}")
                for piece in response.iter_bytes():
                    received += len(piece)
                    if received > MAX_REPLY_BYTES:
                        raise LLMError("the LLM's reply was too long")
                    if time.monotonic() > deadline:
                        raise LLMError(f"the LLM did not answer within {self.timeout_s:g} s")
                    yield piece
        except httpx.TimeoutException:
            raise LLMError(f"the LLM did not answer within {self.timeout_s:g} s") from None
        except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL) as exc:
            # The exception's class names what failed; its text may hold the URL, never headers.
            raise LLMError(f"the LLM server could not be reached ({type(exc).__name__})") from None


def _lines(pieces: Iterator[bytes]) -> Iterator[str]:
    """Lines of a byte stream, decoded as UTF-8 (server-sent events are UTF-8)."""
    buffer = b""
    for piece in pieces:
        buffer += piece
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace").rstrip("\r")
    if buffer:
        yield buffer.decode("utf-8", "replace")


def _delta(payload: str) -> str:
    """The text of one streamed chunk ('' for chunks that carry only a role or a finish reason)."""
    try:
        choices = json.loads(payload)["choices"]
        content = choices[0].get("delta", {}).get("content") if choices else ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LLMError("the LLM's stream was not Chat Completions chunks") from None
    if content is not None and not isinstance(content, str):
        raise LLMError("the LLM's stream was not Chat Completions chunks")
    return content or ""
