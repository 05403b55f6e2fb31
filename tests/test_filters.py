"""Filters (date range, sources) inside retrieval, and recency for questions about recent events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEncoder
from fastapi.testclient import TestClient

from qa.build import index_paths
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import BadInput
from qa.pipeline import QA
from qa.records import Filters
from qa.validate import parse_filters
from web.app import create_app

ARTICLES = [
    {"title": "Harbour bridge closes for repairs", "url": "https://daily.example/2024/01/bridge",
     "site": "The Daily", "published": "2024-01-10",
     "text": "The harbour bridge closed on Monday for repairs. The council said they would take a year."},
    {"title": "Harbour bridge repairs run over budget", "url": "https://herald.example/bridge-budget",
     "site": "The Herald", "published": "2024-02-20",
     "text": "The harbour bridge repairs will cost 12 million euros, the council said, twice the estimate."},
    {"title": "Harbour bridge reopens early", "url": "https://daily.example/2024/03/bridge-reopens",
     "site": "The Daily", "published": "2024-03-15",
     "text": "The harbour bridge reopened on Friday, months ahead of schedule, the council said."},
    {"title": "Harbour bridge history", "text": "The harbour bridge was built in 1932 by the council."},
]  # fmt: skip


@pytest.fixture
def news(tmp_path: Path) -> QA:
    """QA over four articles about one bridge: three dated, on two sites, one undated."""
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n")
    index_paths([corpus], Embedder(FakeEncoder()), tmp_path / "index")
    return QA(Settings.from_env(env={}, index_dir=tmp_path / "index"), Embedder(FakeEncoder()))


def titles(qa: QA, question: str, filters: Filters | None = None) -> list[str]:
    return [h.title for h in qa.run(question, top_k=10, filters=filters)[1]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            Filters(since="2024-02-01"),
            {"Harbour bridge repairs run over budget", "Harbour bridge reopens early"},
        ),
        (Filters(until="2024-01-31"), {"Harbour bridge closes for repairs"}),
        (Filters(since="2024-02-01", until="2024-02-29"), {"Harbour bridge repairs run over budget"}),
        (Filters(sources=("The Herald",)), {"Harbour bridge repairs run over budget"}),
        (Filters(sources=("https://daily.example/2024/03",)), {"Harbour bridge reopens early"}),
        (
            Filters(sources=("the daily",)),
            {"Harbour bridge closes for repairs", "Harbour bridge reopens early"},
        ),
        (Filters(since="2030-01-01"), set()),
    ],
    ids=["since", "until", "range", "site", "url-prefix", "site-any-case", "nothing"],
)
def test_filters_apply_inside_retrieval(news: QA, filters: Filters, expected: set[str]) -> None:
    assert set(titles(news, "What happened to the harbour bridge?", filters)) == expected


def test_filters_leave_out_undated_articles_only_for_dates(news: QA) -> None:
    assert "Harbour bridge history" in titles(news, "Who built the harbour bridge?", Filters())
    assert "Harbour bridge history" not in titles(
        news, "Who built the harbour bridge?", Filters(since="1900-01-01")
    )


def test_filtered_answer_cites_only_matching_articles(news: QA) -> None:
    answer = news.ask(
        "What did the council say about the harbour bridge?", filters=Filters(sources=("The Herald",))
    )
    assert answer.citations and {c.site for c in answer.citations} == {"The Herald"}
    assert all(c.url == "https://herald.example/bridge-budget" for c in answer.citations)


def test_recent_question_prefers_the_newest_article(news: QA) -> None:
    assert titles(news, "What is the latest on the harbour bridge?")[0] == "Harbour bridge reopens early"


def test_question_without_a_time_cue_is_ranked_by_relevance_alone(news: QA, tmp_path: Path) -> None:
    undated = tmp_path / "undated" / "news.jsonl"
    undated.parent.mkdir()
    undated.write_text("\n".join(json.dumps({**a, "published": None}) for a in ARTICLES) + "\n")
    index_paths([undated], Embedder(FakeEncoder()), tmp_path / "undated-index")
    same = QA(Settings.from_env(env={}, index_dir=tmp_path / "undated-index"), Embedder(FakeEncoder()))
    for question in ("What happened to the harbour bridge?", "Who built the harbour bridge?"):
        assert titles(news, question) == titles(same, question), question
    # The cue is what changes the order: the same corpus without dates ranks by relevance.
    assert titles(news, "What is the latest on the harbour bridge?") != titles(
        same, "What is the latest on the harbour bridge?"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"since": "2024-13-01"}, "filters.since must be a date as YYYY-MM-DD"),
        ({"until": "March 3"}, "filters.until must be a date as YYYY-MM-DD"),
        ({"since": "2024-03-01", "until": "2024-01-01"}, "is after filters.until"),
        ({"sources": "daily.example"}, "filters.sources must be a list"),
        ({"sources": [""]}, "filters.sources[0] must be a non-empty string"),
    ],
    ids=["bad-month", "words", "reversed", "not-a-list", "empty-source"],
)
def test_parse_filters_refuses(values: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_filters(**values)


def test_ask_filters_over_http(news: QA) -> None:
    client = TestClient(create_app(news.settings, qa=news))
    body = {"question": "What happened to the harbour bridge?", "filters": {"sources": ["The Herald"]}}
    data = client.post("/ask", json=body).json()
    assert {c["site"] for c in data["citations"]} == {"The Herald"}
    bad = client.post("/ask", json={"question": "Bridge?", "filters": {"since": "yesterday"}})
    assert bad.status_code == 422 and "filters.since must be a date" in bad.json()["error"]["message"]
    unknown = client.post("/ask", json={"question": "Bridge?", "filters": {"after": "2024-01-01"}})
    assert unknown.status_code == 422
