"""The corpus word statistics the answer stage reads: frequencies, known words, near spellings."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.index import Index
from qa.lexicon import within_edits
from qa.text import terms


def test_lexicon_document_frequencies_count_sentences(sample_index: Path) -> None:
    index = Index.open(sample_index)
    (sarandos,) = terms("Sarandos")
    df = index.lexicon.document_frequencies([sarandos, "zzzunknown"])
    assert index.lexicon.sentence_count() == index.n_sentences
    (doc_id,) = index.documents
    sentences = [s for _, s in index.sentences(doc_id, 0, 10_000)]
    assert df[sarandos] == sum(sarandos in terms(s.text) for s in sentences) == 3
    assert "zzzunknown" not in df


def test_lexicon_answers_again_from_its_cache(sample_index: Path) -> None:
    index = Index.open(sample_index)
    (sarandos,) = terms("Sarandos")
    first = index.lexicon.document_frequencies([sarandos])
    index.close()  # a second read would need the database, which is closed now
    assert index.lexicon.document_frequencies([sarandos]) == first


def test_lexicon_known_prefixes_accept_roots(sample_index: Path) -> None:
    lexicon = Index.open(sample_index).lexicon
    assert lexicon.known_prefixes(["netflix", "sarandos", "zyxwvut"]) == {"netflix", "sarandos"}


@pytest.mark.parametrize(
    ("word", "near"),
    [
        ("sarandso", True),  # two letters swapped
        ("sarando", True),  # one dropped
        ("saxandos", True),  # one changed
        ("zarandos", False),  # the first two letters must match
        ("soar", False),  # too short to guess at
    ],
)
def test_lexicon_near_misses(sample_index: Path, word: str, near: bool) -> None:
    assert (word in Index.open(sample_index).lexicon.near_misses([word])) is near


@pytest.mark.parametrize(
    ("a", "b", "limit", "expected"),
    [
        ("premier", "primer", 2, True),
        ("premier", "primer", 1, False),
        ("abcd", "abdc", 1, True),  # an adjacent swap is one edit
        ("abcdef", "ab", 2, False),
        ("", "", 0, True),
    ],
)
def test_within_edits(a: str, b: str, limit: int, expected: bool) -> None:
    assert within_edits(a, b, limit) is expected
