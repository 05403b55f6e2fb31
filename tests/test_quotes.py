"""Quotes: an answer about someone's words takes the quoted sentences that follow it."""

from __future__ import annotations

import pytest

from qa import QA, Settings
from qa.answer.candidates import Scored
from qa.answer.quotes import MAX_QUOTED_CHARS, attach_quotes, is_quote, reports_speech
from qa.chunk import split_sentences
from qa.embed import Embedder
from qa.ingest import make_document
from qa.question import parse
from qa.records import Hit


def _scored(body: str) -> dict[tuple[str, int], Scored]:
    doc = make_document("test", "Bridge", body)
    hit: Hit = None  # type: ignore[assignment]  # attach_quotes never reads the hit
    return {
        (s.doc_id, s.idx): Scored(s.idx, s, hit, 0, 0.5, frozenset(), frozenset(), False, 1.0)
        for s in split_sentences(doc)
    }


def _texts(parts: tuple[Scored, ...]) -> list[str]:
    return [p.sentence.text for p in parts]


ARTICLES = [
    # "…," he said — in the next paragraph.
    ("The mayor defended the cost of the bridge at a meeting on Monday.\n"
     "“Every dollar will come back to this city twice over,” he said.\n"
     "Construction starts in May.",
     "What did the mayor say about the cost?", 0,
     ["“Every dollar will come back to this city twice over,” he said."]),
    # She said: "…" — the colon sentence is answered with the quote it introduces, then its
    # continuation in the next paragraph (a quote split across paragraphs).
    ("Ana Ruiz spoke about the delay. She said: “We were not told about the cracks.\n"
     "“Nobody in the council knew until the inspectors came,” she added.\n"
     "The council meets again next week.",
     "What did Ana Ruiz say about the delay?", 1,
     ["“Nobody in the council knew until the inspectors came,” she added."]),
    # A quote attributed to someone else is not taken.
    ("The mayor defended the cost of the bridge on Monday.\n"
     "“It is far too expensive,” Councillor Okafor said.",
     "What did the mayor say about the cost?", 0, []),
    # Nothing was said: a plain fact takes no quote, even with a quote nearby.
    ("The bridge cost $40 million to build.\n"
     "“It is beautiful,” one resident said.",
     "How much did the bridge cost?", 0, []),
]  # fmt: skip


@pytest.mark.parametrize(("body", "question", "chosen", "attached"), ARTICLES)
def test_attach_quotes_takes_the_speakers_quoted_words(
    body: str, question: str, chosen: int, attached: list[str]
) -> None:
    by_position = _scored(body)
    part = next(p for p in by_position.values() if p.sentence.idx == chosen)
    got = attach_quotes((part,), parse(question), by_position)
    assert _texts(got) == [part.sentence.text, *attached]


def test_attach_quotes_stays_within_the_length_budget() -> None:
    long_quote = "“" + " ".join(["word"] * (MAX_QUOTED_CHARS // 5)) + ",” he said."
    by_position = _scored(f"The mayor spoke about the bridge.\n{long_quote}")
    part = by_position[(next(iter(by_position))[0], 0)]
    assert _texts(attach_quotes((part,), parse("What did the mayor say?"), by_position)) == [
        part.sentence.text
    ]


@pytest.mark.parametrize(
    ("text", "speech", "quote"),
    [
        ("Sarandos acknowledged the possibility of effects on content creators.", True, False),
        ("“We do not anticipate AI supplanting creativity,” he stated.", True, True),
        ("She said:", True, False),
        ("The bridge opened in 1932.", False, False),
    ],
)
def test_reports_speech_and_is_quote(text: str, speech: bool, quote: bool) -> None:
    assert reports_speech(text) is speech and is_quote(text) is quote


def test_ask_sarandos_includes_his_quoted_words(sample_settings: Settings, fake_embedder: Embedder) -> None:
    answer = QA(sample_settings, fake_embedder).ask("What did Sarandos say about Sora?")
    assert not answer.abstained
    assert "We do not anticipate AI supplanting creativity" in answer.answer
    assert "acknowledged the possibility of effects on content creators" in answer.answer


def test_ask_quote_citation_points_at_the_quoted_sentence(
    sample_settings: Settings, fake_embedder: Embedder
) -> None:
    answer = QA(sample_settings, fake_embedder).ask("What did Sarandos say about Sora?")
    spans = [c.text[c.start - c.passage_start : c.end - c.passage_start] for c in answer.citations]
    # The quote follows the reported sentence, so one citation covers both.
    assert any(s.endswith("“We do not anticipate AI supplanting creativity,” he stated.") for s in spans), (
        spans
    )
