"""The HTTP API: the /ask contract, citation offsets, input errors, headers, auth, limits, no index."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
from conftest import FakeEncoder, build_sample
from fastapi.testclient import TestClient

from qa import QA, Settings
from qa.build import index_paths
from qa.config import ANSWER_MODES
from qa.embed import Embedder
from qa.index import Index
from qa.ingest import bundled_corpus
from web.app import create_app
from web.schemas import AnswerMode, AskResponse

CITATION_KEYS = {
    "id",
    "title",
    "source",
    "text",
    "start",
    "end",
    "score",
    "passage_start",
    "section",
    "published",
    "url",
    "site",
}
QUESTIONS = [
    "What did Sarandos say about Sora?",
    "How much was Netflix's quarterly revenue?",
    "Which series used generative AI to depict a building collapse?",
    "Who urged OpenAI to implement stronger protections?",
]


def client_for(settings: Settings, embedder: Embedder, require_index: bool = True) -> TestClient:
    return TestClient(create_app(settings, qa=QA(settings, embedder, require_index=require_index)))


@pytest.fixture
def client(sample_settings: Settings, fake_embedder: Embedder) -> Iterator[TestClient]:
    with client_for(sample_settings, fake_embedder) as c:
        yield c


def assert_error(response: Any, status: int, code: str, phrase: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert phrase in body["error"]["message"]


def assert_answer_contract(data: dict[str, Any], index: Index) -> None:
    """The /ask response shape, and that every citation points at text that exists."""
    AskResponse.model_validate(data)
    assert set(data) == {
        "answer",
        "abstained",
        "mode",
        "support",
        "citations",
        "claims",
        "note",
        "timings_ms",
    }
    assert isinstance(data["answer"], str) and data["answer"]
    assert isinstance(data["abstained"], bool)
    assert data["mode"] in ("extractive", "generate")
    cited = {i for claim in data["claims"] for i in claim["citations"]}
    assert cited <= {c["id"] for c in data["citations"]}
    assert {"embed", "retrieve", "answer", "total"} <= set(data["timings_ms"])
    ids = [c["id"] for c in data["citations"]]
    assert ids == list(range(1, len(ids) + 1))
    docs = {info.source: doc_id for doc_id, info in index.documents.items()}
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
        text = index.document_text(docs[c["source"]])
        assert c["title"] == index.documents[docs[c["source"]]].title
        assert text[c["passage_start"] : c["passage_start"] + len(c["text"])] == c["text"]
        assert c["passage_start"] <= c["start"] < c["end"] <= c["passage_start"] + len(c["text"])
        quoted = text[c["start"] : c["end"]]
        assert quoted == c["text"][c["start"] - c["passage_start"] : c["end"] - c["passage_start"]]
        if not data["abstained"] and data["mode"] == "extractive":
            # Sentences from two lines are joined by a space in the answer (a generated answer
            # words them its own way: verification ties each claim to its quote instead).
            assert " ".join(quoted.split()) in " ".join(data["answer"].split())
    if not data["abstained"]:
        assert ids, "an answer cites at least one source"
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
        assert markers == set(ids)


# --- health and the contract ----------------------------------------------------------------


def test_healthz_reports_loaded_index(client: TestClient, sample_index: Path) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["documents"] == 1
    assert body["chunks"] == Index(sample_index).n_chunks
    assert body["generation"] == Index(sample_index).generation


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_answer_contract_and_citation_offsets(
    client: TestClient, sample_index: Path, question: str
) -> None:
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["abstained"] is False
    assert (data["mode"], data["claims"], data["note"]) == ("extractive", [], None)
    assert_answer_contract(data, Index(sample_index))


def test_ask_revenue_answer_quotes_the_sentence(client: TestClient) -> None:
    data = client.post(
        "/ask", json={"question": "How much was Netflix's quarterly revenue?", "top_k": 3}
    ).json()
    assert "reaching $11.5 billion." in data["answer"]
    assert "$11.5 billion" in data["citations"][0]["text"]
    assert data["citations"][0]["section"] == "Financial Performance"


def test_ask_off_topic_abstains_with_related_passages(client: TestClient, sample_index: Path) -> None:
    data = client.post("/ask", json={"question": "What is the capital of France?"}).json()
    assert data["abstained"] is True
    assert data["answer"] == "The indexed articles don't cover this."
    assert data["citations"], "related passages are still offered"
    assert_answer_contract(data, Index(sample_index))


def test_schema_offers_the_answer_modes_qa_takes() -> None:
    assert get_args(AnswerMode) == ANSWER_MODES


def test_ask_with_history_accepted(client: TestClient, sample_index: Path) -> None:
    history = [
        {"role": "user", "content": "What did Sarandos say about Sora?"},
        {"role": "assistant", "content": "He expected effects on content creators. [1]"},
    ]
    r = client.post(
        "/ask", json={"question": "And what about the film industry?", "history": history, "top_k": 2}
    )
    assert r.status_code == 200, r.text
    assert_answer_contract(r.json(), Index(sample_index))


# --- invalid input --------------------------------------------------------------------------

BAD_INPUT = [
    ("missing-question", {}, "question: is required"),
    ("empty-question", {"question": ""}, "question: String should have at least 1 character"),
    ("whitespace-question", {"question": "   "}, "question must not be empty"),
    ("number-question", {"question": 5}, "question: Input should be a valid string"),
    ("null-question", {"question": None}, "question: Input should be a valid string"),
    ("list-question", {"question": ["What?"]}, "question: Input should be a valid string"),
    ("long-question", {"question": "x" * 1001}, "question is 1001 characters; the limit is 1000"),
    ("top-k-zero", {"question": "q", "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
    ("top-k-negative", {"question": "q", "top_k": -1}, "top_k: Input should be greater than or equal to 1"),
    ("top-k-huge", {"question": "q", "top_k": 1000}, "top_k: Input should be less than or equal to 50"),
    ("top-k-string", {"question": "q", "top_k": "5"}, "top_k: Input should be a valid integer"),
    ("top-k-float", {"question": "q", "top_k": 2.5}, "top_k: Input should be a valid integer"),
    ("system-role", {"question": "q", "history": [{"role": "system", "content": "x"}]},
     "history.0.role: Input should be 'user' or 'assistant'"),
    ("history-not-list", {"question": "q", "history": "earlier"}, "history: Input should be a valid list"),
    ("history-no-content", {"question": "q", "history": [{"role": "user"}]},
     "history.0.content: is required"),
    ("extra-field", {"question": "q", "temperature": 0.2}, "temperature: Extra inputs are not permitted"),
    ("body-not-object", ["q"], "body: Input should be a valid dictionary"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "phrase"), [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT])
def test_ask_bad_input(client: TestClient, body: Any, phrase: str) -> None:
    assert_error(client.post("/ask", json=body), 422, "bad_input", phrase)


RAW_BODIES = [
    ("malformed-json", b'{"question": ', "the request body is not valid JSON"),
    ("empty-body", b"", "body: is required"),
    # Python's json raises RecursionError on these; FastAPI would turn that into a bare 400.
    ("deep-array", b"[" * 100_000, "the request body is nested too deeply"),
    ("deep-in-object", b'{"question": ' + b"[" * 100_000, "the request body is nested too deeply"),
    ("deep-objects", b'{"a":' * 50_000, "the request body is nested too deeply"),
    ("not-utf8", b'{"question": "caf\xe9"}', "the request body is not valid JSON (it is not UTF-8 text)"),
    ("lone-surrogate", b'{"question": "\\ud800"}', "question: Input should be a valid string"),
    ("nan-top-k", b'{"question": "q", "top_k": NaN}', "top_k: Input should be a valid integer"),
    ("huge-top-k", b'{"question": "q", "top_k": 1' + b"0" * 4000 + b"}", "top_k:"),
]


@pytest.mark.parametrize(("raw", "phrase"), [b[1:] for b in RAW_BODIES], ids=[b[0] for b in RAW_BODIES])
def test_ask_bad_raw_body(client: TestClient, raw: bytes, phrase: str) -> None:
    r = client.post("/ask", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 422, "bad_input", phrase)


def test_ask_body_not_sent_as_json_says_so(client: TestClient) -> None:
    for headers in (
        {},
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
    ):
        r = client.post("/ask", content=b'{"question": "What did Sarandos say?"}', headers=headers)
        assert_error(r, 422, "bad_input", "must be a JSON object sent with 'Content-Type: application/json'")


def test_ask_question_limit_is_configurable(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, max_question_chars=40)
    with client_for(settings, fake_embedder) as c:
        assert c.post("/ask", json={"question": "What did Sarandos say about Sora?"}).status_code == 200
        r = c.post("/ask", json={"question": "What did Sarandos say about Sora and the film industry?"})
        assert_error(r, 422, "bad_input", "question is 55 characters; the limit is 40")
        schema = c.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
        assert schema["properties"]["question"]["maxLength"] == 40


def test_ask_huge_history_is_refused_before_any_work(client: TestClient) -> None:
    turns = [{"role": "user", "content": "x"}] * 201
    r = client.post("/ask", json={"question": "q", "history": turns})
    assert_error(r, 422, "bad_input", "history: List should have at most 200 items")
    r = client.post("/ask", json={"question": "q", "history": [{"role": "user", "content": "x" * 20_001}]})
    assert_error(r, 422, "bad_input", "history.0.content: String should have at most 20000 characters")


GOOD_TEXT = [
    ("emoji", "What did Sarandos say about Sora? 🎬🤖"),
    ("arabic", "ماذا قال ساراندوس عن Sora؟"),
    ("hebrew", "מה אמר Sarandos על Sora?"),
    ("mixed-direction", "What did \u202eSarandos\u202c say about Sora?"),
    ("cjk", "Sarandos 对 Sora 说了什么？"),
    ("combining", "Whát dìd Sarandos sáy about Sora?"),
    ("control-chars", "What did\x00 Sarandos\x07 say\x1b about Sora?\x7f"),
    ("newlines-tabs", "What did\tSarandos\nsay about\r\nSora?"),
    ("zero-width", "What did Sa\u200brandos say about Sora?\ufeff"),
    ("path-like", "../../../../etc/passwd"),
    ("html", "<script>alert(1)</script> What did Sarandos say about Sora?"),
    ("sql-like", "Sora'; DROP TABLE chunks; --"),
    ("fts-syntax", 'Sora* AND "Sarandos" NEAR(x y) OR -netflix ^ : ( )'),
]


@pytest.mark.parametrize("question", [g[1] for g in GOOD_TEXT], ids=[g[0] for g in GOOD_TEXT])
def test_ask_unusual_text_is_answered(client: TestClient, sample_index: Path, question: str) -> None:
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert_answer_contract(r.json(), Index(sample_index))
    assert "root:" not in r.text  # nothing is read from the path-like question


def test_ask_control_characters_are_ignored(client: TestClient) -> None:
    plain = client.post("/ask", json={"question": "How much was Netflix's quarterly revenue?"}).json()
    noisy = client.post("/ask", json={"question": "How much\x00 was Netflix's\x1b quarterly revenue?\x07"})
    assert noisy.status_code == 200
    assert noisy.json()["answer"] == plain["answer"]
    only_controls = client.post("/ask", json={"question": "\x00\x01\x1f \x7f"})
    assert_error(only_controls, 422, "bad_input", "question must not be empty")


def test_ask_history_over_the_turn_limit(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, max_history_turns=2)
    history = [{"role": "user", "content": "hi"}] * 3
    with client_for(settings, fake_embedder) as c:
        r = c.post("/ask", json={"question": "What did Sarandos say?", "history": history})
    assert_error(r, 422, "bad_input", "history has 3 turns; the limit is 2")


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "http_error", "Not Found")
    assert_error(client.get("/ask"), 405, "http_error", "Method Not Allowed")


TRAVERSALS = [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static//etc/passwd",
    "/static/....//....//etc/passwd",
    "/..%2f..%2fetc/passwd",
    "/static/../app.py",
    "/static/../../qa/config.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_reads_files_outside_static(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (404, 400), (path, r.status_code)
    assert "root:" not in r.text and "import" not in r.text
    assert_security_headers(r)


def test_static_files_are_served_with_headers(client: TestClient) -> None:
    names = [p.name for p in (Path(__file__).parent.parent / "web" / "static").iterdir() if p.is_file()]
    assert names
    r = client.get(f"/static/{names[0]}")
    assert r.status_code == 200
    assert_security_headers(r)


# --- headers, auth, limits ------------------------------------------------------------------


def assert_security_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["default-src"] == "'self'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_security_headers_on_page_answer_and_errors(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for response in (
        page,
        client.post("/ask", json={"question": "What did Sarandos say about Sora?"}),
        client.post("/ask", json={}),
        client.get("/healthz"),
        client.get("/nope"),
        client.get("/ask"),
        client.post("/ask", content=b"[" * 100_000, headers={"content-type": "application/json"}),
        client.get("/openapi.json"),
    ):
        assert_security_headers(response)


class Exploding(QA):
    """An engine whose answers blow up, as a bug would."""

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: secret internals")


def test_unexpected_error_is_a_json_500_with_headers_and_a_log(
    sample_settings: Settings, fake_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(sample_settings, qa=Exploding(sample_settings, fake_embedder))
    with TestClient(app) as c, caplog.at_level(logging.INFO, logger="qa.web"):
        r = c.post("/ask", json={"question": "What did Sarandos say about Sora?"})
        assert_error(r, 500, "internal", "the server hit an unexpected error; it is logged")
        assert "boom" not in r.text
        assert_security_headers(r)
        assert c.get("/healthz").status_code == 200  # the server keeps serving
    assert any(rec.exc_info and "boom" in str(rec.exc_info[1]) for rec in caplog.records)
    lines = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.INFO]
    assert any(line.startswith("POST /ask 500 ") for line in lines)


def test_one_log_line_per_request_without_the_question(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    question = "What did Sarandos say about Sora?"
    with caplog.at_level(logging.INFO, logger="qa.web"):
        caplog.clear()
        assert client.post("/ask", json={"question": question}).status_code == 200
    lines = [r for r in caplog.records if r.name == "qa.web" and r.levelno == logging.INFO]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert re.fullmatch(r"POST /ask 200 \d+\.\dms", message), message
    assert "Sarandos" not in caplog.text and question not in caplog.text
    with caplog.at_level(logging.INFO, logger="qa.web"):
        caplog.clear()
        client.post("/ask", json={"question": "Sarandos", "top_k": 0})
        client.get("/nope")
    messages = [r.getMessage() for r in caplog.records if r.name == "qa.web"]
    assert [m.rsplit(" ", 1)[0] for m in messages] == ["POST /ask 422", "GET /nope 404"]
    assert "Sarandos" not in caplog.text


AUTH = [
    ("no-key", {}, 401),
    ("wrong-bearer", {"Authorization": "Bearer nope"}, 401),
    ("empty-bearer", {"Authorization": "Bearer "}, 401),
    ("bearer", {"Authorization": "Bearer secret"}, 200),
    ("bearer-any-case", {"Authorization": "bearer secret"}, 200),
    ("x-api-key", {"X-API-Key": "secret"}, 200),
    ("wrong-x-api-key", {"X-API-Key": "nope", "Authorization": "Bearer secret"}, 401),
    ("bare-key", {"Authorization": "secret"}, 401),
    ("basic-scheme", {"Authorization": "Basic secret"}, 401),
    ("key-as-query", {"X-Key-In-Url": "no"}, 401),
    ("prefix-of-key", {"Authorization": "Bearer secre"}, 401),
    ("key-with-suffix", {"Authorization": "Bearer secretX"}, 401),
]


@pytest.mark.parametrize(("headers", "status"), [a[1:] for a in AUTH], ids=[a[0] for a in AUTH])
def test_ask_api_key(
    sample_settings: Settings, fake_embedder: Embedder, headers: dict[str, str], status: int
) -> None:
    settings = replace(sample_settings, api_key="secret")
    with client_for(settings, fake_embedder) as c:
        r = c.post("/ask", json={"question": "What did Sarandos say about Sora?"}, headers=headers)
        if status == 401:
            assert_error(r, 401, "unauthorized", "Authorization: Bearer <key>")
            assert r.headers["www-authenticate"] == "Bearer"
            assert_security_headers(r)
        else:
            assert r.status_code == 200, r.text
            assert r.json()["abstained"] is False
        assert c.get("/healthz").status_code == 200  # health needs no key


def test_ask_api_key_checked_before_body(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, api_key="secret")
    with client_for(settings, fake_embedder) as c:
        assert_error(c.post("/ask", json={"question": 5}), 401, "unauthorized", "API key")


def test_ask_body_over_limit_is_413(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, max_body_bytes=2000)
    with client_for(settings, fake_embedder) as c:
        r = c.post("/ask", json={"question": "x" * 3000})
        assert_error(r, 413, "too_large", "the request body is over the 2000-byte limit")
        assert_security_headers(r)
        assert c.post("/ask", json={"question": "What did Sarandos say?"}).status_code == 200


def test_ask_chunked_body_over_limit_is_413(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, max_body_bytes=2000)

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        yield b"x" * 10_000
        yield b'"}'

    with client_for(settings, fake_embedder) as c:
        r = c.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert_error(r, 413, "too_large", "2000-byte limit")
    assert_security_headers(r)


def test_ask_chunked_body_within_limit_is_answered(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "What did Sarandos '
        yield b'say about Sora?", '
        yield b'"top_k": 3}'

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 200, r.text
    assert r.json()["abstained"] is False


def test_body_limit_applies_to_every_route(sample_settings: Settings, fake_embedder: Embedder) -> None:
    settings = replace(sample_settings, max_body_bytes=100)
    with client_for(settings, fake_embedder) as c:
        for method, path in (("POST", "/ask"), ("POST", "/healthz"), ("POST", "/nope"), ("PUT", "/")):
            r = c.request(method, path, content=b"x" * 101)
            assert_error(r, 413, "too_large", "100-byte limit")
        r = c.post("/ask", content=b"x", headers={"content-length": "-5"})
        assert r.status_code == 413


# --- no index -------------------------------------------------------------------------------


@pytest.fixture
def empty_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(env={}, index_dir=tmp_path / "empty-index")


def test_no_index_healthz_and_ask_are_503(empty_settings: Settings, fake_embedder: Embedder) -> None:
    with client_for(empty_settings, fake_embedder, require_index=False) as c:
        health = c.get("/healthz")
        assert_error(health, 503, "index_missing", "qa index")
        ask = c.post("/ask", json={"question": "What did Sarandos say about Sora?"})
        assert_error(ask, 503, "index_missing", "qa index")
        page = c.get("/")
        assert page.status_code == 200  # the chat page still renders, explaining there's no index
        # Input errors are still reported as such without an index.
        assert_error(c.post("/ask", json={"question": "  "}), 422, "bad_input", "must not be empty")


def test_index_built_after_start_is_picked_up(empty_settings: Settings, fake_embedder: Embedder) -> None:
    with client_for(empty_settings, fake_embedder, require_index=False) as c:
        assert c.get("/healthz").status_code == 503
        build_sample(empty_settings.index_dir, fake_embedder)
        assert c.get("/healthz").json()["documents"] == 1
        assert c.post("/ask", json={"question": "What did Sarandos say about Sora?"}).status_code == 200


def test_rebuilt_index_is_reloaded(
    sample_settings: Settings, fake_embedder: Embedder, tmp_path: Path
) -> None:
    settings = replace(sample_settings, reload_interval_s=0.0)
    extra = tmp_path / "extra.txt"
    extra.write_text("Otter Census\nVolunteers counted 412 river otters along the estuary this year.\n")
    with client_for(settings, fake_embedder) as c:
        before = c.get("/healthz").json()["generation"]
        index_paths([bundled_corpus(), extra], fake_embedder, settings.index_dir)
        data = c.post("/ask", json={"question": "How many river otters did volunteers count?"}).json()
        assert data["abstained"] is False and "412 river otters" in data["answer"]
        after = c.get("/healthz").json()
        assert after["generation"] != before and after["documents"] == 2


def test_index_of_other_model_is_503(sample_settings: Settings) -> None:
    other = Embedder(FakeEncoder(name="other-fake"))
    with client_for(sample_settings, other, require_index=False) as c:
        assert_error(c.get("/healthz"), 503, "index_mismatch", "qa index")
        assert_error(c.post("/ask", json={"question": "Sora?"}), 503, "index_mismatch", "qa index")


# --- real model -----------------------------------------------------------------------------


@pytest.mark.slow
def test_ask_end_to_end_with_real_model(tmp_path: Path, real_embedder: Any) -> None:
    settings = Settings.from_env(env={}, index_dir=tmp_path / "index")
    index_paths([bundled_corpus()], real_embedder, settings.index_dir)
    with TestClient(create_app(settings, qa=QA(settings, real_embedder))) as c:
        index = Index(settings.index_dir)
        for question in QUESTIONS:
            r = c.post("/ask", json={"question": question})
            assert r.status_code == 200, r.text
            data = r.json()
            assert data["abstained"] is False, question
            assert_answer_contract(data, index)
        sora = c.post("/ask", json={"question": QUESTIONS[0]}).json()
        assert any("Sarandos" in cit["text"] for cit in sora["citations"])


def test_unusable_index_is_logged_once_not_per_request(
    sample_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(sample_settings, reload_interval_s=0.0)
    with (
        caplog.at_level(logging.WARNING),
        client_for(settings, Embedder(FakeEncoder(name="other")), False) as c,
    ):
        for _ in range(5):
            assert c.post("/ask", json={"question": "Sora?"}).status_code == 503
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "was built with model 'fake-hashed-bow-64'" in warnings[0], warnings
