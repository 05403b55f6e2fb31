"""The library API: GET /documents (paged, searched by title), POST /documents (add by URL, fetched
from the news site of tests/news_site.py on 127.0.0.1) and DELETE /documents/{id}, with their keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from news_site import news_site
from test_api import assert_error, client_for

from qa import Settings
from qa.build import index_paths
from qa.embed import Embedder

KEY = {"Authorization": "Bearer k"}
OTTERS_QUESTION = "How many river otters did volunteers count along the estuary?"
CANONICAL = "https://gazette.example/2024/05/otters"
OTTERS_PAGE = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Otters return to the estuary | Riverside Gazette</title>
<meta property="og:site_name" content="Riverside Gazette">
<link rel="canonical" href="{CANONICAL}">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Otters return to the estuary", "datePublished": "2024-05-14T08:00:00Z"}}</script>
</head><body><header><nav>Home | News | Sport</nav></header>
<article><h1>Otters return to the estuary</h1>
<p>Volunteers counted 412 river otters along the estuary this spring, the highest number since
records began in 1978.</p>
<p>The count was organised by the Riverside Wildlife Trust, which said cleaner water had brought
back the fish the otters feed on.</p>
<p>The trust plans to repeat the census every year in May.</p>
</article><footer>Copyright Riverside Gazette</footer></body></html>""".encode()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The news site of tests/news_site.py with /otters added: its base URL."""
    with news_site() as server:
        server.extra["/otters"] = OTTERS_PAGE
        yield server.base


@pytest.fixture
def writable(sample_settings: Settings, fake_embedder: Embedder) -> Iterator[TestClient]:
    """A client for the sample index with an API key and local URLs allowed (the test site)."""
    settings = replace(sample_settings, allow_private_urls=True, api_key="k")
    with client_for(settings, fake_embedder) as c:
        yield c


def library_corpus(folder: Path) -> Path:
    """25 dated stories (one a day from 2024-01-01), one accented title and one undated story."""
    lines = [
        {"title": f"Story {n}", "text": f"Story number {n} happened on day {n}.", "site": "The Daily",
         "published": f"2024-01-{n:02d}", "url": f"https://daily.example/{n}"}
        for n in range(1, 26)
    ]  # fmt: skip
    lines.append({"title": "Café prices rise", "text": "Coffee costs more.", "published": "2023-06-01"})
    lines.append({"title": "Undated notes", "text": "A note without a date."})
    path = folder / "library.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


@pytest.fixture
def library(tmp_path: Path, fake_embedder: Embedder) -> Iterator[TestClient]:
    index_paths([library_corpus(tmp_path)], fake_embedder, tmp_path / "index")
    settings = Settings.from_env(env={}, index_dir=tmp_path / "index")
    with client_for(settings, fake_embedder) as c:
        yield c


# --- GET /documents -------------------------------------------------------------------------


def test_list_pages_newest_first_with_undated_last(library: TestClient) -> None:
    first = library.get("/documents").json()
    assert (first["total"], first["offset"], first["limit"]) == (27, 0, 20)
    assert [e["title"] for e in first["entries"][:3]] == ["Story 25", "Story 24", "Story 23"]
    assert set(first["entries"][0]) == {"id", "title", "site", "published", "url", "source", "urls"}
    newest = first["entries"][0]
    assert newest["site"] == "The Daily" and newest["published"] == "2024-01-25"
    assert newest["url"] == newest["source"] == "https://daily.example/25"
    assert newest["urls"] == ["https://daily.example/25"]
    rest = library.get("/documents", params={"offset": 20, "limit": 20}).json()
    assert [e["title"] for e in rest["entries"]] == [f"Story {n}" for n in range(5, 0, -1)] + [
        "Café prices rise",
        "Undated notes",
    ]
    assert rest["entries"][-1]["published"] is None and rest["entries"][-1]["url"] is None
    ids = [e["id"] for e in first["entries"] + rest["entries"]]
    assert len(set(ids)) == 27
    assert library.get("/documents", params={"offset": 27}).json()["entries"] == []


def test_search_by_title_ignores_case_and_accents(library: TestClient) -> None:
    page = library.get("/documents", params={"q": "story 1", "limit": 5}).json()
    assert page["total"] == 11  # Story 1 and Story 10-19
    assert [e["title"] for e in page["entries"]] == [f"Story {n}" for n in range(19, 14, -1)]
    assert [e["title"] for e in library.get("/documents?q=CAFE").json()["entries"]] == ["Café prices rise"]
    assert library.get("/documents", params={"q": "no such title"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"limit": 0}, "limit must be between 1 and 100, not 0"),
        ({"limit": 1000}, "limit must be between 1 and 100, not 1000"),
        ({"offset": -1}, "offset must not be negative, not -1"),
        ({"limit": "ten"}, "limit: Input should be a valid integer"),
        ({"q": "x" * 301}, "q: String should have at most 300 characters"),
    ],
)
def test_list_bad_bounds_are_422(library: TestClient, params: dict[str, Any], phrase: str) -> None:
    assert_error(library.get("/documents", params=params), 422, "bad_input", phrase)


def test_list_without_an_index_is_503(tmp_path: Path, fake_embedder: Embedder) -> None:
    settings = Settings.from_env(env={}, index_dir=tmp_path / "none")
    with client_for(settings, fake_embedder, require_index=False) as c:
        assert_error(c.get("/documents"), 503, "index_missing", "qa index")


def test_list_needs_the_key_when_one_is_set(writable: TestClient) -> None:
    assert_error(writable.get("/documents"), 401, "unauthorized", "API key")
    assert writable.get("/documents", headers={"X-API-Key": "k"}).json()["total"] == 1


# --- who may write --------------------------------------------------------------------------


def test_writes_are_refused_without_a_configured_key(
    sample_settings: Settings, fake_embedder: Embedder, site: str
) -> None:
    settings = replace(sample_settings, allow_private_urls=True)
    with client_for(settings, fake_embedder) as c:
        doc_id = c.get("/documents").json()["entries"][0]["id"]
        for r in (
            c.post("/documents", json={"url": f"{site}/otters"}),
            c.post("/documents", json={"url": f"{site}/otters"}, headers=KEY),
            c.delete(f"/documents/{doc_id}"),
            c.post("/documents", json={"wrong": 1}),  # refused before the body is read
        ):
            assert_error(r, 403, "forbidden", "set QA_API_KEY")
        assert c.get("/documents").json()["total"] == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}])
def test_writes_with_a_missing_or_wrong_key_are_401(
    writable: TestClient, site: str, headers: dict[str, str]
) -> None:
    doc_id = writable.get("/documents", headers=KEY).json()["entries"][0]["id"]
    for r in (
        writable.post("/documents", json={"url": f"{site}/otters"}, headers=headers),
        writable.delete(f"/documents/{doc_id}", headers=headers),
    ):
        assert_error(r, 401, "unauthorized", "Authorization: Bearer <key>")
        assert r.headers["www-authenticate"] == "Bearer"
    assert writable.get("/documents", headers=KEY).json()["total"] == 1


# --- POST /documents ------------------------------------------------------------------------


def test_added_article_is_listed_and_answers_with_its_site_and_date(writable: TestClient, site: str) -> None:
    r = writable.post("/documents", json={"url": f"{site}/otters"}, headers=KEY)
    assert r.status_code == 201, r.text
    body = r.json()
    added = body["added"]
    assert added["title"] == "Otters return to the estuary"
    assert (added["site"], added["published"], added["url"]) == ("Riverside Gazette", "2024-05-14", CANONICAL)
    assert body["documents"] == 2
    assert body["generation"] == writable.get("/healthz").json()["generation"]  # already live

    listed = writable.get("/documents", headers=KEY).json()
    assert listed["total"] == 2 and listed["entries"][0] == added  # newest first

    answer = writable.post("/ask", json={"question": OTTERS_QUESTION}, headers=KEY).json()
    assert answer["abstained"] is False and "412 river otters" in answer["answer"]
    cited = answer["citations"][0]
    assert (cited["site"], cited["published"], cited["url"]) == ("Riverside Gazette", "2024-05-14", CANONICAL)

    # The same page again: the same article, still one copy of it.
    again = writable.post("/documents", json={"url": f"{site}/otters"}, headers=KEY)
    assert again.status_code == 201 and again.json()["added"]["id"] == added["id"]
    assert again.json()["documents"] == 2


def test_private_address_is_refused_by_default(
    sample_settings: Settings, fake_embedder: Embedder, site: str
) -> None:
    settings = replace(sample_settings, api_key="k")  # QA_ALLOW_PRIVATE_URLS left off
    with client_for(settings, fake_embedder) as c:
        r = c.post("/documents", json={"url": f"{site}/otters"}, headers=KEY)
        assert_error(r, 422, "fetch_failed", "private address")
        assert "QA_ALLOW_PRIVATE_URLS" in r.json()["error"]["message"]
        assert c.get("/documents", headers=KEY).json()["total"] == 1


@pytest.mark.parametrize(
    ("url", "code", "phrase"),
    [
        ("/missing", "fetch_failed", "404"),
        ("/images/photo.png", "fetch_failed", "image/png"),
        ("ftp://example.com/story", "bad_input", "url must be an http or https address"),
        ("not a url", "bad_input", "url must be an http or https address"),
    ],
)
def test_unfetchable_urls_are_422(writable: TestClient, site: str, url: str, code: str, phrase: str) -> None:
    target = site + url if url.startswith("/") else url
    r = writable.post("/documents", json={"url": target}, headers=KEY)
    assert_error(r, 422, code, phrase)
    assert writable.get("/documents", headers=KEY).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "phrase"),
    [({}, "url: is required"), ({"url": 5}, "url: Input should be a valid string"),
     ({"url": "https://a.example", "x": 1}, "x: Extra inputs are not permitted")],
)  # fmt: skip
def test_add_bad_body_is_422(writable: TestClient, body: Any, phrase: str) -> None:
    assert_error(writable.post("/documents", json=body, headers=KEY), 422, "bad_input", phrase)


def test_add_without_an_index_is_503(tmp_path: Path, fake_embedder: Embedder, site: str) -> None:
    settings = Settings.from_env(env={}, index_dir=tmp_path / "none")
    settings = replace(settings, allow_private_urls=True, api_key="k")
    with client_for(settings, fake_embedder, require_index=False) as c:
        r = c.post("/documents", json={"url": f"{site}/otters"}, headers=KEY)
        assert_error(r, 503, "index_missing", "qa index")


# --- DELETE /documents/{id} -----------------------------------------------------------------


def test_delete_unknown_id_is_404(writable: TestClient) -> None:
    r = writable.delete("/documents/0123456789abcdef", headers=KEY)
    assert_error(r, 404, "not_found", "no indexed article has id '0123456789abcdef'")


def test_deleted_article_is_gone_from_the_list_and_the_answers(writable: TestClient, site: str) -> None:
    added = writable.post("/documents", json={"url": f"{site}/otters"}, headers=KEY).json()["added"]
    assert writable.post("/ask", json={"question": OTTERS_QUESTION}, headers=KEY).json()["abstained"] is False

    r = writable.delete(f"/documents/{added['id']}", headers=KEY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["removed"] == added
    assert body["documents"] == 1
    assert body["generation"] == writable.get("/healthz").json()["generation"]

    listed = writable.get("/documents", headers=KEY).json()
    assert listed["total"] == 1 and added["id"] not in {e["id"] for e in listed["entries"]}
    answer = writable.post("/ask", json={"question": OTTERS_QUESTION}, headers=KEY).json()
    assert all(c["url"] != CANONICAL for c in answer["citations"])
    assert "412" not in answer["answer"]
    assert_error(writable.delete(f"/documents/{added['id']}", headers=KEY), 404, "not_found", added["id"])


def test_openapi_documents_the_library_routes(sample_settings: Settings, fake_embedder: Embedder) -> None:
    with client_for(sample_settings, fake_embedder) as c:
        schema = c.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/documents"]["get"]["responses"]) == {"200", "401", "422", "503"}
    assert set(paths["/documents"]["post"]["responses"]) == {"201", "401", "403", "413", "422", "503"}
    delete = paths["/documents/{doc_id}"]["delete"]["responses"]
    assert set(delete) == {"200", "401", "403", "404", "422", "503"}
    limit = next(p for p in paths["/documents"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # one error shape
