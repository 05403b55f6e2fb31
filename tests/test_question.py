"""Parsing a question once: its answer kind, whether it leans on the conversation, and the
earlier turn (question and answer) a follow-up is read with."""

from __future__ import annotations

import pytest

from qa.question import earlier_turn, expected_type, leans_on_history, parse
from qa.records import ABSTAIN_TEXT, Turn


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was the duchy founded?", "date"),
        ("In what year did Netflix start streaming?", "date"),
        ("How many subscribers does Netflix have?", "number"),
        ("What percentage of viewers watch on phones?", "number"),
        ("Who runs Netflix?", "name"),
        ("Where is Netflix based?", "place"),
        ("What did Sarandos say about Sora?", None),
    ],
)
def test_expected_type_reads_the_question_cue(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("And who asked OpenAI for stronger protections?", True),
        ("In which part of the film?", True),
        ("What did he say about it?", True),
        ("Why?", True),
        ("And what did it cost?", True),
        ("What did Sarandos say about Sora?", False),
        ("Which Netflix series was the first to use generative AI in final footage?", False),
    ],
)
def test_leans_on_history_detects_follow_ups(question: str, leans: bool) -> None:
    assert leans_on_history(question) is leans


def test_parse_follow_up_reads_the_previous_question_and_answer() -> None:
    history = [
        Turn("user", "Which show used AI to de-age characters?"),
        Turn("assistant", "Happy Gilmore 2 used AI to de-age characters [1]."),
    ]
    q = parse("In which part of the film?", history)
    assert (
        q.earlier == "Which show used AI to de-age characters? Happy Gilmore 2 used AI to de-age characters."
    )
    assert q.search.startswith("In which part of the film?") and "Happy Gilmore 2" in q.search
    assert "gilmor" in q.earlier_terms and "film" in q.terms and "film" not in q.earlier_terms
    standalone = parse("What did Sarandos say about Sora?", history)
    assert standalone.search == "What did Sarandos say about Sora?" and standalone.earlier == ""


@pytest.mark.parametrize(
    ("history", "earlier"),
    [
        ([], ""),
        ([Turn("user", "Who built the bridge?"), Turn("assistant", ABSTAIN_TEXT)], "Who built the bridge?"),
        ([Turn("user", "Who built the bridge?")], "Who built the bridge?"),
        ([Turn("assistant", "Hello.")], ""),
    ],
)
def test_earlier_turn_leaves_out_refusals_and_markers(history: list[Turn], earlier: str) -> None:
    assert earlier_turn(history) == earlier


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("What did Sarandos say about Sora?", True),
        ("How did the union react?", True),
        ("Who built the bridge?", False),
    ],
)
def test_parse_knows_questions_about_someones_words(question: str, wants: bool) -> None:
    assert parse(question).wants_words is wants


@pytest.mark.parametrize(
    ("text", "recent"),
    [
        ("What is the latest on the bridge?", True),
        ("What happened this week in Lagos?", True),
        ("Who is the most recent winner?", True),
        ("Where does the case stand now?", True),
        ("What did Sarandos say about Sora?", False),
        ("When was the bridge built?", False),
        ("Who knows the lateral line of fish?", False),
    ],
)
def test_parse_recent_time_cues(text: str, recent: bool) -> None:
    assert parse(text).recent is recent
