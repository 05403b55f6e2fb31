"""Word-level helpers: folding, the light stemmer, tokens and terms."""

from __future__ import annotations

import pytest

from qa.text import STOPWORDS, fold, root, stem, terms, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Netflix", "netflix"),
        ("Café Müller", "cafe muller"),
        ("Sarandos’ “quote”", 'sarandos\' "quote"'),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        ("studies", "study"),
        ("classes", "class"),
        ("creating", "creat"),
        ("stopped", "stop"),
        ("status", "status"),  # -us is not a plural
        ("analysis", "analysis"),  # nor is -is
        ("netflix's", "netflix"),
        ("2024", "2024"),
        ("ran", "ran"),  # short words stay
    ],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


def test_words_keep_stopwords_and_apostrophes() -> None:
    assert words("The CEO’s plan, in 2024!") == ["the", "ceo's", "plan", "in", "2024"]


def test_terms_drop_stopwords_and_single_letters_but_keep_digits() -> None:
    assert terms("What did Sarandos say about a 3 D model?") == [stem("sarandos"), "3", "model"]
    assert not set(terms(" ".join(sorted(STOPWORDS))))


def test_root_reads_derivations_as_one() -> None:
    assert root(stem("settled")) == root(stem("settlement"))
    assert root(stem("architecture")) == root(stem("architectural"))
