"""A question, parsed once per request: what retrieval searches with and what answering reads.

A follow-up that leans on the conversation ("it", "the film", an elliptical "and revenue?") is
read with the previous question and the previous answer: the answer is often what "it" names
("And what did it cost?" after an answer about a new bridge).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from qa.records import ABSTAIN_TEXT, Turn
from qa.text import STOPWORDS, fold, terms, words

# Words that make a question lean on what was said before it.
_ANAPHORA = frozenset(
    {"he", "she", "it", "they", "them", "his", "her", "its", "their", "theirs", "this", "that",
     "these", "those", "there", "him"}
)  # fmt: skip
_DEFINITE = re.compile(
    r"\bthe (film|show|series|company|movie|article|story|book|team|group|firm|deal)\b", re.I
)
_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|why|and why)\b", re.I)
_MARKER = re.compile(r"\s*\[\d+\]")

_WHEN = r"\b(what|which) (year|date|day|month|century|decade|time|period|era)\b|^when\b|\bwhen\b"
_HOW_MANY = (
    r"\bhow (many|much|long|old|far|large|big|tall|high|often|fast)\b|"
    r"\b(what|which) (number|percentage|percent|amount|proportion|size)\b"
)
_WHO = r"\b(who|whom|whose)\b|\bwhat (person|company|organi[sz]ation|group|team)\b"
_WHERE = (
    r"\bwhere\b|"
    r"\b(what|which) (country|city|state|place|region|location|area|continent|town|river)\b"
)
_KIND_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_WHEN, re.I), "date"),
    (re.compile(_HOW_MANY, re.I), "number"),
    (re.compile(_WHO, re.I), "name"),
    (re.compile(_WHERE, re.I), "place"),
]
# Time cues of a question about what is happening now, rather than at some time in the past.
_RECENT = re.compile(
    r"\b(latest|newest|most recent(ly)?|recent(ly)?|this (week|month|year|morning|evening)|today|"
    r"tonight|yesterday|now|right now|currently|at the moment|so far|lately|up to date)\b",
    re.IGNORECASE,
)
# "What did X say…", "How did X react…": the answer is someone's words.
_ASKS_FOR_WORDS = re.compile(
    r"\b(say|said|says|saying|tell|told|state|stated|comment|commented|respond|responded|react|reacted|"
    r"describe|described|think|thinks|thought|believe|believes|claim|claimed|warn|warned|quote|"
    r"explain|explained|argue|argued|admit|admitted|add|added)\b",
    re.I,
)


@dataclass(frozen=True)
class Question:
    """What was asked, with everything both retrieval and answering read from it."""

    text: str
    # What retrieval searches with: the question, plus the earlier turn it leans on.
    search: str
    # The earlier turn (previous question and answer) a follow-up leans on; empty otherwise.
    earlier: str
    # The answer of that turn: a follow-up asks for something it did not say.
    previous_answer: str
    folded: str
    terms: tuple[str, ...]
    # Terms of the earlier turn that the question itself lacks.
    earlier_terms: tuple[str, ...]
    # The kind of answer asked for: date, number, name, place, or None.
    kind: str | None
    bigrams: frozenset[tuple[str, str]]
    # Whether it asks for someone's words ("What did Sarandos say about Sora?").
    wants_words: bool
    # Whether it asks about recent events ("the latest", "this week", "now"): newer articles first.
    recent: bool = False


def parse(text: str, history: Sequence[Turn] = ()) -> Question:
    """Read a question once; a follow-up takes the previous question and answer as context."""
    leans = leans_on_history(text)
    earlier = earlier_turn(history) if leans else ""
    own = question_terms(text)
    carried = [t for t in question_terms(earlier) if t not in own]
    return Question(
        text=text,
        search=f"{text} {earlier}" if earlier else text,
        earlier=earlier,
        previous_answer=previous_answer(history) if leans else "",
        folded=fold(text),
        terms=tuple(own),
        earlier_terms=tuple(carried),
        kind=expected_type(text),
        bigrams=frozenset(bigrams(text)),
        wants_words=_ASKS_FOR_WORDS.search(text) is not None,
        recent=_RECENT.search(text) is not None,
    )


def earlier_turn(history: Sequence[Turn]) -> str:
    """The previous question and the answer it got (citation markers and refusals left out)."""
    question = next((t.content for t in reversed(history) if t.role == "user"), "")
    if not question:
        return ""
    return f"{question} {previous_answer(history)}".strip()


def previous_answer(history: Sequence[Turn]) -> str:
    """The last turn's answer, when it is one: citation markers and refusals left out."""
    if not history or history[-1].role != "assistant" or history[-1].content.strip() == ABSTAIN_TEXT:
        return ""
    return _MARKER.sub("", history[-1].content).strip()


def leans_on_history(question: str) -> bool:
    """Pronouns, a leading 'and…', 'the film' without a name, or too few words to stand alone."""
    ws = words(question)
    if _FOLLOW_UP_START.match(question) or _ANAPHORA.intersection(ws):
        return True
    content = [w for w in ws if w not in STOPWORDS]
    named = any(w[:1].isupper() for w in question.split()[1:])
    # A question that names something stands alone; a short or "the film" one leans back.
    return not named and (len(content) <= 2 or _DEFINITE.search(question) is not None)


def question_terms(text: str) -> list[str]:
    """Stemmed content terms of a question, de-duplicated, order kept."""
    return list(dict.fromkeys(terms(text)))


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for: date, number, name, place, or None."""
    for pattern, kind in _KIND_CUES:
        if pattern.search(question):
            return kind
    return None


def bigrams(text: str) -> set[tuple[str, str]]:
    """Adjacent word pairs, not both stopwords: phrases shared with the question."""
    ws = words(text)
    return {(a, b) for a, b in pairwise(ws) if a not in STOPWORDS or b not in STOPWORDS}
