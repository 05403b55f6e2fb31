"""Passages → candidate sentences with their signals: what answering knows of each sentence.

A sentence's terms, word pairs and typed mentions (dates, numbers, names) are the same whatever the
question, so they are worked out once per text (`facts`) and once per passage (`passage`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.question import Question, bigrams
from qa.records import Hit, Sentence
from qa.retriever import PassageStore
from qa.text import fold, root, terms

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)


_DATE = re.compile(
    rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\b|\b\d{{1,4}} ?(AD|BC|BCE|CE)\b|"
    r"\b(in|since|until|from|by|before|after|around|AD) [1-9]\d{2}\b(?![.,]?\d)|"
    rf"\b\d{{1,2}}(st|nd|rd|th) century\b|"
    r"\bcentur(y|ies)\b|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(today|yesterday|tomorrow|tonight|ago|decade|era|period|age|weeks?|months?|years?|quarters?|"
    r"weekends?|morning|afternoon|evening|night|season|spring|summer|autumn|fall|winter)\b",
    re.I,
)


_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|"
    "dozens|half|quarter|once|twice|single|double|triple|several|few|many"
)


_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b|%|\bper ?cent\b", re.I)


_CAPITALISED = re.compile(
    r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'\-]*(?:\s+(?:of|de|the|and|von|van)?\s*[A-Z][\w’'\-]*)*"
)


@dataclass(frozen=True)
class Facts:
    """What answering needs to know of a sentence's text, whatever the question."""

    # The roots of its terms (see `root`).
    bag: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    # The dates, numbers and names (capitalised runs) it mentions, folded.
    typed: dict[str, tuple[str, ...]]


@lru_cache(maxsize=50_000)
def facts(text: str) -> Facts:
    """A sentence's terms, word pairs and typed mentions; cached, since the same passages come
    back question after question."""
    typed = {
        kind: tuple(fold(m.group(0)) for m in pattern.finditer(text))
        for kind, pattern in (("date", _DATE), ("number", _NUMBER), ("name", _CAPITALISED))
    }
    typed["place"] = typed["name"]
    return Facts(frozenset(root(t) for t in terms(text)), frozenset(bigrams(text)), typed)


def has_type(kind: str | None, sentence: str, folded_question: str) -> bool:
    """Does the sentence hold an answer of that kind that the (folded) question does not say?"""
    if kind is None:
        return False
    return any(f not in folded_question for f in facts(sentence).typed[kind])


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its signals."""

    row: int
    sentence: Sentence
    hit: Hit
    hit_rank: int
    meaning: float
    bag: frozenset[str]
    window: frozenset[str]
    typed: bool
    # How highly retrieval ranked its passage, as a share of the best passage's fused score.
    rank_share: float


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk's sentences with their roots and their neighbourhood's, which are the
    same whatever the question."""

    rows: tuple[tuple[int, Sentence], ...]
    ids: np.ndarray
    bags: tuple[frozenset[str], ...]
    windows: tuple[frozenset[str], ...]


def passage(index: PassageStore, hit: Hit) -> Passage:
    """The chunk's sentences, read once per index generation: the same passages come back
    question after question."""
    return index.derived(("passage", hit.chunk_id), lambda: _read_passage(index, hit))


def _read_passage(index: PassageStore, hit: Hit) -> Passage:
    c = hit.chunk
    rows = index.sentences(c.doc_id, max(0, c.first - 1), c.last + 1)
    around = facts(hit.title).bag | facts(c.section or "").bag
    bags = [facts(s.text).bag for _, s in rows]
    keep = [i for i, (_, s) in enumerate(rows) if c.first <= s.idx <= c.last]
    windows = tuple(
        frozenset(
            bags[i]
            | around
            | (bags[i - 1] if i > 0 else frozenset())
            | (bags[i + 1] if i + 1 < len(rows) else frozenset())
        )
        for i in keep
    )
    return Passage(
        tuple(rows[i] for i in keep),
        np.array([rows[i][0] for i in keep], dtype=np.int64),
        tuple(bags[i] for i in keep),
        windows,
    )


def score_sentences(
    index: PassageStore,
    question: Question,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
) -> list[Scored]:
    """Signals for every sentence of the retrieved passages."""
    kind = question.kind
    folded = question.folded
    best_fused = max((h.score for h in hits), default=1.0) or 1.0
    out: list[Scored] = []
    seen: set[int] = set()
    for rank, hit in enumerate(hits):
        p = passage(index, hit)
        if not p.rows:
            continue
        sims = index.sentence_vectors[p.ids] @ query_vector
        share = hit.score / best_fused
        for i, (row, sent) in enumerate(p.rows):
            if row in seen:
                continue
            seen.add(row)
            typed = has_type(kind, sent.text, folded) if kind else False
            out.append(Scored(row, sent, hit, rank, float(sims[i]), p.bags[i], p.windows[i], typed, share))
    return out
