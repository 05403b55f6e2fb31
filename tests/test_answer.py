"""The answer stage's rules: typed mentions, and when a question is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.answer.abstain import typed_answer_fits, unknown_names
from qa.answer.candidates import Scored, facts
from qa.answer.score import Candidate, TermStats
from qa.index import Index
from qa.question import expected_type
from qa.text import terms


@pytest.mark.parametrize(
    ("sentence", "is_date"),
    [
        ("The duchy began in 911 as a fiefdom.", True),  # a year before 1000 after "in"
        ("Rome fell in 476 AD.", True),
        ("It was built around 300 BC.", True),
        ("Netflix was founded in 1997.", True),
        ("The league had 911 members.", False),  # a number, not a date
        ("It grew by 911,000 subscribers.", False),
    ],
)
def test_facts_date_mentions_include_early_years(sentence: str, is_date: bool) -> None:
    assert bool(facts(sentence).typed["date"]) is is_date


def _candidate(text: str, typed: bool) -> Candidate:
    bag = facts(text).bag
    part = Scored(0, None, None, 0, 0.5, bag, bag, typed, 1.0)  # type: ignore[arg-type]
    return Candidate((part,), 1.0, 0.5, 1.0)


def _stats(question: str, df: dict[str, int]) -> TermStats:
    return TermStats(tuple(dict.fromkeys(terms(question))), (), df, 1000, expected_type(question))


@pytest.mark.parametrize(
    ("question", "df", "sentence", "typed", "fits"),
    [
        # The question is about the settling of Victoria; a dated sentence about it fits,
        # and "settled" finds "settlement".
        ("When was Victoria first settled?", {"victoria": 50, "first": 90, "settl": 3},
         "The first settlement in the area occurred in 1803.", True, True),
        # The same sentence with no date in it does not.
        ("When was Victoria first settled?", {"victoria": 50, "first": 90, "settl": 3},
         "The first settlement in the area occurred long ago.", False, False),
        # A dated sentence about something else does not either.
        ("When was Victoria first settled?", {"victoria": 50, "first": 90, "settl": 3},
         "The railway opened in 1854.", True, False),
        # "percentage" names the kind of answer, not the subject, and a misspelt word the index
        # never saw cannot be what the question is about.
        ("What percentage of Victorians are Christian?",
         {"percentag": 1, "victorian": 40, "christian": 9},
         "61.1% of Victorians are Christian.", True, True),
        ("How much did Sky bid for the pacakges?", {"sky": 30, "bid": 12},
         "Sky bid £1.3bn for four packages.", True, True),
        # Questions that want no number or date are not checked here.
        ("Who runs Netflix?", {"run": 10, "netflix": 5}, "Nothing typed here.", False, True),
    ],
)  # fmt: skip
def test_typed_answer_fits_wants_a_typed_sentence_about_the_question(
    question: str, df: dict[str, int], sentence: str, typed: bool, fits: bool
) -> None:
    assert typed_answer_fits([_candidate(sentence, typed)], _stats(question, df)) is fits


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("What did Net Flix say about Sora?", []),  # two names the article writes as one
        ("What did Flix say about Sora?", ["Flix"]),  # alone, half a name is not known
        ("What did Net Zorblax say about Sora?", ["Zorblax"]),
    ],
)
def test_unknown_names_joins_neighbouring_names(sample_index: Path, question: str, unknown: Any) -> None:
    assert unknown_names(Index(sample_index), question) == unknown
