"""Streaming with an LLM, over real sockets: /ask's events carry the LLM's tokens as they come and
end with the verified answer; a cut, failing or slow stream ends with the extractive answer and a
note; a client that goes away stops the LLM's stream; /v1 streams only verified text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from llm_server import LLMServer, Reply, Script, llm_server, passage_with, passages
from serving import serve
from sse_events import events, parse, without_timings
from test_api import assert_answer_contract
from test_llm_answers import REVENUE, index_dir  # noqa: F401 (index_dir: the module's index fixture)

from qa import QA, Settings
from qa.embed import Embedder
from qa.index import Index
from web.app import create_app

pytestmark = pytest.mark.slow

TRUE = "Netflix’s quarterly revenue reached $11.5 billion [{n}]. "
INVENTED = "Netflix also plans to open theme parks in Brazil by 2027 [{n}]."


def pieces(text: str, size: int = 12) -> list[str]:
    """`text` in chunks of `size` characters, as an LLM streams tokens."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def streaming(text: str, **reply: Any) -> Script:
    """An LLM streaming `text`, with {n} the number of the passage holding the revenue figure."""

    def script(request: dict[str, Any]) -> Reply:
        filled = text.format(n=passage_with(request, "$11.5 billion"))
        return Reply(text=filled, chunks=pieces(filled), **reply)

    return script


@pytest.fixture
def server(index_dir: Path, real_embedder: Embedder) -> Iterator[Any]:  # noqa: F811
    """server(script, **settings) → (base URL, scripted LLM): a real server whose LLM follows it."""
    with ExitStack() as running:

        def start(script: Script, **more: Any) -> tuple[str, LLMServer]:
            llm = running.enter_context(llm_server(script))
            settings = replace(Settings(index_dir=index_dir, llm_url=llm.url, llm_timeout_s=10), **more)
            return running.enter_context(serve(create_app(settings, qa=QA(settings, real_embedder)))), llm

        yield start


def stream(base: str, **body: Any) -> list[tuple[str, Any]]:
    r = httpx.post(
        f"{base}/ask", json={"question": REVENUE, "stream": True, **body}, timeout=30, trust_env=False
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    return events(r.text)


def test_tokens_stream_then_the_verified_answer(server: Any, index_dir: Path) -> None:  # noqa: F811
    base, llm = server(streaming(TRUE + INVENTED))
    got = stream(base)
    names = [name for name, _ in got]
    assert names[0] == "citations" and names[-1] == "final" and set(names[1:-1]) == {"delta"}
    # The deltas are the LLM's words as it sent them, [n] markers and the invented sentence included.
    written = TRUE.format(n=passage_with(llm.requests[0], "$11.5 billion")) + INVENTED.format(
        n=passage_with(llm.requests[0], "$11.5 billion")
    )
    assert "".join(data["text"] for name, data in got if name == "delta") == written
    assert len(names) - 2 == len(pieces(written))
    # The citations event numbers the passages as the prompt did, so the deltas' [n] resolve.
    given = passages(llm.requests[0])
    assert {c["id"]: c["text"] for c in got[0][1]["citations"]} == given
    final = got[-1][1]
    assert_answer_contract(final, Index(index_dir))
    assert final["mode"] == "generate" and "theme parks" not in final["answer"]
    assert [c["supported"] for c in final["claims"]] == [True, False]
    assert final["claims"][1]["reason"] and final["claims"][0]["reason"] is None
    plain = httpx.post(f"{base}/ask", json={"question": REVENUE}, timeout=30, trust_env=False).json()
    assert without_timings(final) == without_timings(plain)


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        ({"cut": True}, "cut off"),
        ({"status": 500}, "HTTP 500"),
        ({"delay_s": 3.0}, "did not answer within 1 s"),
    ],
    ids=["cut-midway", "http-500", "slower-than-the-timeout"],
)
def test_a_failed_stream_ends_with_the_extractive_answer(
    server: Any, reply: dict[str, Any], note: str
) -> None:
    base, _ = server(streaming(TRUE, **reply), llm_timeout_s=1)
    final = stream(base)[-1]
    assert final[0] == "final"
    assert final[1]["mode"] == "extractive" and note in final[1]["note"]
    extractive = stream(base, mode="extractive")[-1][1]
    assert final[1]["answer"] == extractive["answer"]


def test_a_client_that_goes_away_stops_the_llm(server: Any) -> None:
    long = TRUE * 40
    base, llm = server(streaming(long, chunk_delay_s=0.05))
    total = len(pieces(long.format(n=1)))
    body = {"question": REVENUE, "stream": True}
    with (
        httpx.Client(trust_env=False, timeout=30) as http,
        http.stream("POST", f"{base}/ask", json=body) as r,
    ):
        lines = r.iter_lines()
        seen: list[str] = []
        while not any(name == "delta" for name, _ in parse(seen)):
            seen.append(next(lines))
    # Leaving the block closed the connection after the first delta.
    deadline = time.monotonic() + 5
    while not llm.abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert llm.abandoned and llm.abandoned[0] < total // 2, (llm.abandoned, total)


def test_v1_streams_only_the_verified_text(server: Any) -> None:
    base, _ = server(streaming(TRUE + INVENTED))
    with httpx.Client(trust_env=False) as http:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, http_client=http)
        chunks = list(
            client.chat.completions.create(
                model="newsqa", messages=[{"role": "user", "content": REVENUE}], stream=True
            )
        )
        whole = client.chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": REVENUE}]
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert "$11.5 billion. [1]" in text and "theme parks" not in text
    extra = chunks[-1].model_extra or {}
    assert extra["mode"] == "generate" and [c["supported"] for c in extra["claims"]] == [True, False]
    assert extra["citations"] == (whole.model_extra or {})["citations"]
