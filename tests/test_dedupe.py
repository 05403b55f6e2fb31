"""Syndicated copies are folded into one document that lists every url of the story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeEncoder

from qa.build import index_paths
from qa.config import Settings
from qa.dedupe import COPY_THRESHOLD, fold_copies, jaccard
from qa.embed import Embedder
from qa.index import Index
from qa.ingest import make_document
from qa.pipeline import QA

STORY = (
    "The harbour bridge reopened on Friday, months ahead of schedule, the council said.\n"
    "Engineers replaced the cables and the deck during two years of repairs.\n"
    "The repairs cost 12 million euros, twice the first estimate, according to the city.\n"
    "Traffic is expected to return to normal by the end of the month."
)
OTHER = (
    "The jazz festival moved indoors after a week of storms, the organisers said.\n"
    "Twelve thousand tickets were sold, and the concerts will go ahead in the old market hall."
)


def doc(url: str, text: str, published: str | None = None) -> object:
    return make_document(url, "Harbour bridge", text, published=published, url=url)


def test_fold_copies_keeps_the_earliest_and_lists_every_url() -> None:
    wire = doc("https://wire.example/bridge", STORY, "2024-03-15")
    repost = doc(
        "https://daily.example/bridge", "LONDON (Wire) -- " + STORY + "\nCopyright Wire.", "2024-03-16"
    )
    other = doc("https://daily.example/jazz", OTHER, "2024-03-16")
    kept, folded = fold_copies([repost, other, wire])  # type: ignore[list-item]
    assert folded == 1
    assert [d.url for d in kept] == ["https://wire.example/bridge", "https://daily.example/jazz"]
    assert kept[0].urls == ("https://daily.example/bridge", "https://wire.example/bridge")
    assert kept[0].content_hash != wire.content_hash  # its url list is part of what is stored


@pytest.mark.parametrize(
    ("a", "b", "copy"),
    [
        (STORY, STORY.replace("Friday", "Saturday"), True),
        (STORY, "\n".join(STORY.split("\n")[1:]), True),
        (STORY, OTHER, False),
        (STORY, STORY.replace("harbour bridge", "river tunnel").replace("cables", "lights"), True),
    ],
    ids=["one-word", "lead-dropped", "other-story", "two-edits"],
)
def test_jaccard_separates_copies_from_other_stories(a: str, b: str, copy: bool) -> None:
    assert (jaccard(a, b) >= COPY_THRESHOLD) is copy


def test_build_indexes_one_copy_and_never_cites_both(tmp_path: Path) -> None:
    lines = [
        {"title": "Bridge reopens", "url": "https://wire.example/bridge", "published": "2024-03-15",
         "text": STORY},
        {"title": "Bridge reopens", "url": "https://daily.example/bridge", "published": "2024-03-16",
         "text": "By Wire staff.\n" + STORY},
    ]  # fmt: skip
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    report = index_paths([corpus], Embedder(FakeEncoder()), tmp_path / "index")
    assert (report.documents, report.folded) == (1, 1)
    (info,) = Index.open(tmp_path / "index").documents.values()
    assert info.urls == ("https://wire.example/bridge", "https://daily.example/bridge")
    qa = QA(Settings.from_env(env={}, index_dir=tmp_path / "index"), Embedder(FakeEncoder()))
    answer = qa.ask("How much did the bridge repairs cost?", top_k=10)
    spans = [(c.url, c.start, c.end) for c in answer.citations]
    assert len(spans) == len(set(spans)) and {c.url for c in answer.citations} == {
        "https://wire.example/bridge"
    }


def test_templated_stories_with_other_numbers_are_not_copies() -> None:
    scores = (
        "Team Blue beat Team Red 3-1 on Saturday in the league match at the city stadium. "
        "The home side controlled the game from the first whistle and the coach praised the defence. "
        "The crowd of 12,000 fans sang until the end, and the club said the next match is in 2024."
    )
    other = scores.replace("3-1", "2-0").replace("12,000", "9,500").replace("2024", "2023")
    assert jaccard(scores, other) >= COPY_THRESHOLD  # the wording alone says copy
    kept, folded = fold_copies([doc("https://a.example/1", scores), doc("https://a.example/2", other)])  # type: ignore[list-item]
    assert folded == 0 and len(kept) == 2
