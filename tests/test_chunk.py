"""Sentence splitting and chunking: boundaries, exact offsets, token budget, overlap, sections."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from qa import chunk
from qa.chunk import approx_tokens, chunk_document, split_sentences
from qa.ingest import bundled_corpus, load_documents, make_document
from qa.records import Document, Span


def sentences_of(text: str) -> list[str]:
    return [s.text for s in split_sentences(make_document("mem://t", "T", text))]


@pytest.fixture
def sample_doc() -> Document:
    (doc,) = load_documents([bundled_corpus()]).documents
    return doc


def synthetic_documents(tmp_path: Path) -> list[Document]:
    """A few documents from every reader, with headings, bullets, indentation and odd spacing."""
    files = {
        "a.txt": (
            "Synthetic Title\n\n"
            "  Indented first line.   Two spaces before this one.\n"
            "Background Facts\n"
            "Mr. Lee said the U.S. plan costs $3.5 billion. “It works,” he said.\n\n"
            "- Bullet one is here.\n"
            "* Bullet two is here.\n"
            "1. Numbered item.\n"
        ),
        "b.md": "# MD Title\n\n> A quoted line. Another one.\n\n## Part Two\n\nText **bold** here. End.\n",
        "c.html": (
            "<html><body><article><h1>H</h1><p>Para one is long enough to be an article. Para two!</p>"
            "<h2>Sub</h2><p>Para three is long enough to be a paragraph of text?</p></article></body></html>"
        ),
        "d.jsonl": '{"title": "J", "text": "Line one. Line two.\\nNext Heading\\nUnder heading."}\n',
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    result = load_documents([tmp_path])
    assert result.skipped == []
    return result.documents


# --- sentence boundaries ------------------------------------------------------------------

SPLITS = [
    (
        "quote-comma-attribution",
        "“Exceptional artistry remains fundamental,” stated Netflix CEO Ted Sarandos. “AI can help.”",
        ["“Exceptional artistry remains fundamental,” stated Netflix CEO Ted Sarandos.", "“AI can help.”"],
    ),
    (
        "quote-period-inside",
        "He said “stop.” Then he left.",
        ["He said “stop.”", "Then he left."],
    ),
    (
        "titles",
        "Mr. Smith went to Washington. He met Dr. Jones and Mrs. Brown at noon.",
        ["Mr. Smith went to Washington.", "He met Dr. Jones and Mrs. Brown at noon."],
    ),
    (
        "us-uk",
        "She works at the U.S. Department of State. The U.K. did not comment.",
        ["She works at the U.S. Department of State.", "The U.K. did not comment."],
    ),
    (
        "eg-ie",
        "Tools, e.g. Hammers, are useful. Nails, i.e. Fasteners, too.",
        ["Tools, e.g. Hammers, are useful.", "Nails, i.e. Fasteners, too."],
    ),
    (
        "decimals",
        "Revenue reached $11.5 billion. It rose 3.2% from 17.0 last year.",
        ["Revenue reached $11.5 billion.", "It rose 3.2% from 17.0 last year."],
    ),
    (
        "initials",
        "J. K. Rowling wrote it. George R. R. Martin did not.",
        ["J. K. Rowling wrote it.", "George R. R. Martin did not."],
    ),
    (
        "times",
        "The vote is at 5 p.m. Friday in Washington. Results follow.",
        ["The vote is at 5 p.m. Friday in Washington.", "Results follow."],
    ),
    (
        # An ellipsis before a capital is an omission, not an end (pySBD's golden rule 47).
        "question-exclaim-ellipsis",
        "Is it true? Yes! It is… Really.",
        ["Is it true?", "Yes!", "It is… Really."],
    ),
    (
        "parenthetical-inc",
        "The company (Acme Inc.) grew. Next sentence here.",
        ["The company (Acme Inc.) grew.", "Next sentence here."],
    ),
    (
        "lowercase-continuation",
        "Sales fell 5 percent. then rose.",
        ["Sales fell 5 percent. then rose."],
    ),
    (
        "abbreviation-ends-sentence",
        "I live in the U.S. How about you?",
        ["I live in the U.S.", "How about you?"],
    ),
    (
        "un-and-military-titles",
        "A U.N. Security Council resolution passed. Maj. Gen. Athar Abbas spoke.",
        ["A U.N. Security Council resolution passed.", "Maj. Gen. Athar Abbas spoke."],
    ),
    (
        "clock-then-time-zone",
        "It starts at 10 a.m. ET on Monday. It ends at 6 P.M. He left.",
        ["It starts at 10 a.m. ET on Monday.", "It ends at 6 P.M.", "He left."],
    ),
    (
        "sentences-inside-a-quote",
        '"There is no silver bullet. There is no substitute," he said. “We try. We fail.”',
        ['"There is no silver bullet.', 'There is no substitute," he said.', "“We try.", "We fail.”"],
    ),
    (
        "comma-before-closing-quotes",
        "\"He says, 'I want to be just like you,' \" Sohail said.",
        ["\"He says, 'I want to be just like you,' \" Sohail said."],
    ),
    (
        "wordless-piece-joins-the-sentence-before",
        '"It has a glowing heart. ... We will do all we can."',
        ['"It has a glowing heart. ...', 'We will do all we can."'],
    ),
    (
        "no-final-punctuation",
        "First sentence. And a trailing fragment",
        ["First sentence.", "And a trailing fragment"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [s[1:] for s in SPLITS], ids=[s[0] for s in SPLITS])
def test_split_sentences_boundaries(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


def test_split_sentences_never_crosses_a_line_break() -> None:
    assert sentences_of("First line without a stop\nSecond line. Third here.") == [
        "First line without a stop",
        "Second line.",
        "Third here.",
    ]


def test_split_sentences_bullet_markers_are_not_sentence_text() -> None:
    # A list number is content ("step 2"), kept as pySBD's golden rules keep it; a bullet is not.
    assert sentences_of("Intro here.\n- Bullet one.\n* Bullet two.\n12) Numbered item.") == [
        "Intro here.",
        "Bullet one.",
        "Bullet two.",
        "12) Numbered item.",
    ]


GOLDEN_RULES = json.loads((Path(__file__).parent / "data" / "golden_rules_en.json").read_text())["rules"]


def test_split_sentences_passes_pysbd_english_golden_rules() -> None:
    failures = []
    for rule in GOLDEN_RULES:
        got = sentences_of(rule["text"])
        if got != rule["expected"]:
            failures.append(f"{rule['id']}) {rule['name']}: {got} != {rule['expected']}")
    assert len(GOLDEN_RULES) == 48
    assert len(failures) <= 3, "\n".join(failures)


def test_lines_that_skip_pysbd_split_as_pysbd_would(
    sample_doc: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [*sample_doc.text.split("\n"), *(r["text"] for r in GOLDEN_RULES), *(s[1] for s in SPLITS)]
    fast = [sentences_of(line) for line in lines]
    monkeypatch.setattr(chunk, "_INNER_END", re.compile(""))  # every line goes through pySBD
    assert [sentences_of(line) for line in lines] == fast


def test_a_pysbd_crash_leaves_the_line_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(_: str) -> list[object]:
        raise IndexError("list index out of range")

    monkeypatch.setattr(chunk._segmenter(), "segment", crash)
    assert sentences_of("One here. Two here.\nThree.") == ["One here. Two here.", "Three."]


def test_split_sentences_indexes_and_paragraphs() -> None:
    sents = split_sentences(make_document("mem://p", "T", "One. Two.\n\nThree."))
    assert [s.idx for s in sents] == [0, 1, 2]
    assert [s.paragraph for s in sents] == [1, 1, 2]


def test_sample_quote_attribution_is_one_sentence(sample_doc: Document) -> None:
    texts = [s.text for s in split_sentences(sample_doc)]
    assert (
        "“Exceptional artistry remains fundamental to producing compelling content,” stated "
        "Netflix CEO Ted Sarandos during Tuesday’s earnings discussion."
    ) in texts
    assert (
        "Netflix’s quarterly revenue experienced a 17% year-over-year increase, reaching $11.5 billion."
        in (texts)
    )


# --- offsets --------------------------------------------------------------------------------


def test_sample_sentence_and_chunk_offsets_are_exact(sample_doc: Document) -> None:
    sents = split_sentences(sample_doc)
    chunks = chunk_document(sample_doc, sents, max_tokens=60)
    assert len(sents) > 20 and len(chunks) > 5
    for s in sents:
        assert sample_doc.text[s.start : s.end] == s.text
        assert s.text == s.text.strip() and s.text
    for c in chunks:
        assert sample_doc.text[c.start : c.end] == c.text
        assert (c.start, c.end) == (sents[c.first].start, sents[c.last].end)


def test_synthetic_sentence_and_chunk_offsets_are_exact(tmp_path: Path) -> None:
    docs = synthetic_documents(tmp_path)
    assert len(docs) == 4
    for doc in docs:
        sents = split_sentences(doc)
        assert sents, doc.source
        for s in sents:
            assert doc.text[s.start : s.end] == s.text
            assert "\n" not in s.text
        for budget in (5, 20, 256):
            for c in chunk_document(doc, sents, max_tokens=budget):
                assert doc.text[c.start : c.end] == c.text


def test_sentences_are_ordered_and_disjoint(sample_doc: Document) -> None:
    sents = split_sentences(sample_doc)
    for a, b in itertools.pairwise(sents):
        assert a.end <= b.start


# --- headings and sections ------------------------------------------------------------------


def test_headings_are_never_sentence_text_and_become_sections(sample_doc: Document) -> None:
    sents = split_sentences(sample_doc)
    for s in sents:
        for h in sample_doc.headings:
            assert s.end <= h.start or s.start >= h.end, (s.text, sample_doc.text[h.start : h.end])
    by_text = {s.text: s.section for s in sents}
    assert (
        by_text["“We do not anticipate AI supplanting creativity,” he stated."]
        == "Netflix’s Response to Sora"
    )
    assert all(s.section for s in sents)
    future = [s.text for s in sents if s.section == "Future Outlook"]
    assert len(future) == 2 and future[0].startswith("“We are confident")


def test_text_before_first_heading_has_no_section() -> None:
    text = "Lead sentence here.\nSection A\nBody of A."
    doc = make_document("mem://s", "T", text, headings=[Span(20, 29)])
    sents = split_sentences(doc)
    assert [(s.text, s.section) for s in sents] == [
        ("Lead sentence here.", None),
        ("Body of A.", "Section A"),
    ]


def test_synthetic_headings_become_sections(tmp_path: Path) -> None:
    docs = {d.title: d for d in synthetic_documents(tmp_path)}
    sections = {t: [(s.text, s.section) for s in split_sentences(d)] for t, d in docs.items()}
    assert ("“It works,” he said.", "Background Facts") in sections["Synthetic Title"]
    assert ("Text bold here.", "Part Two") in sections["MD Title"]
    assert ("Para three is long enough to be a paragraph of text?", "Sub") in sections["H"]
    assert ("Under heading.", "Next Heading") in sections["J"]
    for d in docs.values():
        headings = {d.text[h.start : h.end] for h in d.headings}
        assert not headings & {s.text for s in split_sentences(d)}


# --- chunks -------------------------------------------------------------------------------


def long_section_doc(n: int = 12) -> Document:
    body = "Long Section\n" + " ".join(f"Sentence number {i} has exactly seven words." for i in range(n))
    body += "\nOther Section\nShort tail sentence here."
    return make_document(
        "mem://long", "T", body, headings=[Span(0, 12), Span(body.index("Other"), body.index("Other") + 13)]
    )


def test_chunks_respect_token_budget() -> None:
    doc = long_section_doc()
    sents = split_sentences(doc)
    budget = 25
    chunks = chunk_document(doc, sents, max_tokens=budget, count_tokens=approx_tokens)
    assert len(chunks) > 3
    for c in chunks:
        used = sum(approx_tokens(sents[i].text) for i in range(c.first, c.last + 1))
        assert used <= budget or c.first == c.last


def test_chunks_never_cut_a_sentence(sample_doc: Document) -> None:
    sents = split_sentences(sample_doc)
    starts = {s.start for s in sents}
    ends = {s.end for s in sents}
    for budget in (1, 30, 60, 256):
        for c in chunk_document(sample_doc, sents, max_tokens=budget):
            assert c.start in starts and c.end in ends


def test_long_section_split_overlaps_by_one_sentence() -> None:
    doc = long_section_doc()
    sents = split_sentences(doc)
    chunks = chunk_document(doc, sents, max_tokens=25)
    long = [c for c in chunks if c.section == "Long Section"]
    assert len(long) >= 3
    for a, b in itertools.pairwise(long):
        assert b.first == a.last, "consecutive chunks of one section share exactly one sentence"
    assert long[0].first == 0 and long[-1].last == 11


def test_chunks_never_cross_a_section_and_do_not_overlap_across_sections() -> None:
    doc = long_section_doc()
    sents = split_sentences(doc)
    chunks = chunk_document(doc, sents, max_tokens=10_000)
    assert [(c.section, c.first, c.last) for c in chunks] == [
        ("Long Section", 0, 11),
        ("Other Section", 12, 12),
    ]
    for c in chunk_document(doc, sents, max_tokens=25):
        assert {sents[i].section for i in range(c.first, c.last + 1)} == {c.section}


def test_sample_chunks_cover_every_sentence_in_order(sample_doc: Document) -> None:
    sents = split_sentences(sample_doc)
    chunks = chunk_document(sample_doc, sents, max_tokens=60)
    covered = sorted({i for c in chunks for i in range(c.first, c.last + 1)})
    assert covered == list(range(len(sents)))
    assert [c.idx for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert {sents[i].section for i in range(c.first, c.last + 1)} == {c.section}


def test_oversized_sentence_is_its_own_chunk_and_terminates() -> None:
    doc = make_document("mem://big", "T", "Tiny one. Word " + "word " * 200 + "end. Tiny two.")
    sents = split_sentences(doc)
    assert len(sents) == 3
    chunks = chunk_document(doc, sents, max_tokens=20)
    assert [(c.first, c.last) for c in chunks] == [(0, 0), (1, 1), (2, 2)]


def test_chunk_document_uses_the_given_count_function() -> None:
    doc = make_document("mem://c", "T", "Aa. Bb. Cc. Dd.")
    sents = split_sentences(doc)
    one_each = chunk_document(doc, sents, max_tokens=2, count_tokens=lambda _: 1)
    assert [(c.first, c.last) for c in one_each] == [(0, 1), (1, 2), (2, 3)]
    assert [(c.first, c.last) for c in chunk_document(doc, sents, 100, lambda _: 1)] == [(0, 3)]


def test_empty_document_has_no_chunks() -> None:
    doc = make_document("mem://e", "T", "")
    assert split_sentences(doc) == []
    assert chunk_document(doc, [], max_tokens=10) == []


def test_no_chunk_is_contained_in_the_previous_one() -> None:
    doc = make_document("mem://o", "T", "Aa bb. Cc dd ee ff. Gg hh ii jj kk.")
    sents = split_sentences(doc)
    words = lambda text: len(text.split())  # noqa: E731
    chunks = chunk_document(doc, sents, max_tokens=6, count_tokens=words)
    # (0, 1) fills the budget; sentence 1 can't join sentence 2, so the next chunk is (2, 2).
    assert [(c.first, c.last) for c in chunks] == [(0, 1), (2, 2)]
