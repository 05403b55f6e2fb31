"""POST /ask with "stream": true: server-sent events `citations`, `delta`, `final`, where `final` is
exactly the non-streaming response and a bad request is still an HTTP error (no LLM here: the
extractive answer arrives as one delta; the LLM's streaming is in test_llm_stream.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sse_events import events, without_timings
from test_api import assert_answer_contract, assert_error, client_for

from qa import Settings
from qa.embed import Embedder
from qa.index import Index

QUESTION = "What did Sarandos say about Sora?"


@pytest.fixture
def client(sample_settings: Settings, fake_embedder: Embedder) -> Iterator[TestClient]:
    with client_for(sample_settings, fake_embedder) as c:
        yield c


@pytest.mark.parametrize(
    "question", [QUESTION, "How much was Netflix's quarterly revenue?", "What is the capital of France?"]
)
def test_stream_sends_citations_one_delta_and_the_final_answer(
    client: TestClient, sample_settings: Settings, question: str
) -> None:
    r = client.post("/ask", json={"question": question, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    got = events(r.text)
    assert [name for name, _ in got] == ["citations", "delta", "final"]
    plain = client.post("/ask", json={"question": question}).json()
    final = got[2][1]
    assert without_timings(final) == without_timings(plain)
    assert_answer_contract(final, Index(sample_settings.index_dir))
    assert got[0][1] == {"citations": final["citations"]}
    assert got[1][1] == {"text": final["answer"]}


def test_stream_false_is_the_json_answer(client: TestClient) -> None:
    r = client.post("/ask", json={"question": QUESTION, "stream": False})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"question": "", "stream": True}, "question"),
        ({"question": QUESTION, "stream": "yes"}, "stream"),
        ({"question": QUESTION, "stream": True, "mode": "generate"}, "needs an LLM"),
        ({"question": QUESTION, "stream": True, "filters": {"since": "yesterday"}}, "filters.since"),
    ],
    ids=["empty-question", "stream-not-bool", "generate-without-llm", "bad-filter"],
)
def test_stream_bad_request_is_an_http_error_not_an_event(
    client: TestClient, body: dict[str, Any], phrase: str
) -> None:
    assert_error(client.post("/ask", json=body), 422, "bad_input", phrase)


def test_stream_error_midway_is_an_error_event(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    qa = client.app.state.qa  # type: ignore[attr-defined]
    real = qa._events

    def breaks_after_the_citations(turn: Any) -> Iterator[Any]:
        yield next(real(turn))
        raise RuntimeError("boom")

    monkeypatch.setattr(qa, "_events", breaks_after_the_citations)
    r = client.post("/ask", json={"question": QUESTION, "stream": True})
    got = events(r.text)
    assert r.status_code == 200
    assert [name for name, _ in got] == ["citations", "error"]
    assert got[1][1]["error"]["code"] == "internal" and "boom" not in r.text
