"""Hits → the one or two source sentences that answer → Answer with [n] markers, or an abstention.

Each candidate sentence gets a score from a few signals, each explainable in one sentence:
- meaning: cosine between the question and the sentence (sentence vectors are built at index time);
- words: the share of the question's informative (IDF-weighted) terms the sentence contains;
- context: the same share over the sentence with its neighbours, section and title, because
  a sentence often answers a question whose subject was named just before it;
- passage: how highly retrieval ranked the passage the sentence sits in;
- answer type: who/when/where/how-many questions want a name, date, place or number that is
  not already in the question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.retrieve import Query, question_terms
from qa.store import Index
from qa.text import STOPWORDS, fold, terms
from qa.types import Answer, Citation, Hit, Sentence

MAX_ANSWER_CHARS = 300
ABSTAIN_TEXT = "The indexed articles don't cover this."

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\b|\b\d{{1,2}}(st|nd|rd|th) century\b|"
    r"\bcentur(y|ies)\b|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(today|yesterday|ago|decade|era|period|age)\b",
    re.I,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|"
    "dozens|half|quarter|once|twice|single|double|triple|several|few|many"
)
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b|%|\bper ?cent\b", re.I)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'\-]*(?:\s+(?:of|de|the|and|von|van)?\s*[A-Z][\w’'\-]*)*")

_TYPE_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(what|which) (year|date|day|month|century|decade|time|period|era)\b|^when\b|\bwhen\b", re.I), "date"),
    (re.compile(r"\bhow (many|much|long|old|far|large|big|tall|high|often|fast)\b|\b(what|which) (number|percentage|percent|amount|proportion|size)\b", re.I), "number"),
    (re.compile(r"^\s*(who|whom|whose)\b|\b(who|whom|whose)\b|\bwhat (person|company|organi[sz]ation|group|team)\b", re.I), "name"),
    (re.compile(r"^\s*where\b|\bwhere\b|\b(what|which) (country|city|state|place|region|location|area|continent|town|river)\b", re.I), "place"),
]  # fmt: skip


@dataclass(frozen=True)
class Weights:
    """How much each signal counts; one place, so every change to scoring is one diff."""

    meaning: float = 1.0
    words: float = 0.55
    context: float = 0.25
    passage: float = 0.12
    answer_type: float = 0.12
    pair: float = 0.05  # fixed cost of a second sentence
    length: float = 0.10  # cost per 100 characters of the answer beyond `free_chars`
    free_chars: int = 200
    abstain_below: float = 0.42


WEIGHTS = Weights()


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
    passage: float


@dataclass(frozen=True)
class Candidate:
    """One sentence, or two adjacent ones, that might answer; with its combined score."""

    parts: tuple[Scored, ...]
    score: float
    meaning: float
    words: float
    context: float

    @property
    def chars(self) -> int:
        """Length of the answer text this candidate would give."""
        return sum(len(p.sentence.text) + 1 for p in self.parts) - 1


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for: date, number, name, place, or None."""
    for pattern, kind in _TYPE_CUES:
        if pattern.search(question):
            return kind
    return None


def has_type(kind: str | None, sentence: str, question: str) -> bool:
    """Does the sentence hold an answer of that kind that the question does not already say?"""
    if kind is None:
        return False
    q = fold(question)
    if kind == "date":
        found = [m.group(0) for m in _DATE.finditer(sentence)]
    elif kind == "number":
        found = [m.group(0) for m in _NUMBER.finditer(sentence)]
    else:
        found = [m.group(0) for m in _CAPITALISED.finditer(sentence)]
    return any(fold(f) not in q for f in found)


def idf_weights(index: Index, q_terms: Sequence[str]) -> dict[str, float]:
    """Inverse document frequency over sentences, so rare words decide and common ones don't."""
    df = index.document_frequencies([*q_terms, "__sentences__"])
    n = df.get("__sentences__", 1)
    return {t: math.log(1 + (n + 1) / (df.get(t, 0) + 0.5)) for t in q_terms}


def _coverage(q_weights: dict[str, float], bag: set[str]) -> float:
    total = sum(q_weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in q_weights.items() if t in bag) / total


def score_sentences(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
) -> tuple[list[Scored], dict[str, float]]:
    """Signals for every sentence of the retrieved passages, plus the question's term weights."""
    q_terms = question_terms(query.question)
    ctx_terms = [t for t in question_terms(query.context) if t not in q_terms]
    q_weights = idf_weights(index, q_terms + ctx_terms)
    # Terms carried over from earlier turns count, but less than the question's own.
    for t in ctx_terms:
        q_weights[t] *= 0.5
    kind = expected_type(query.question)
    best_fused = max((h.score for h in hits), default=1.0) or 1.0
    out: list[Scored] = []
    seen: set[int] = set()
    for rank, hit in enumerate(hits):
        c = hit.chunk
        rows = index.sentences(c.doc_id, max(0, c.first - 1), c.last + 1)
        if not rows:
            continue
        around = set(terms(hit.title)) | set(terms(c.section or ""))
        bags = [frozenset(terms(s.text)) for _, s in rows]
        sims = index.sentence_vectors[[r for r, _ in rows]] @ query_vector
        for i, (row, sent) in enumerate(rows):
            if row in seen or not (c.first <= sent.idx <= c.last):
                continue
            seen.add(row)
            window = set(bags[i]) | around
            if i > 0:
                window |= bags[i - 1]
            if i + 1 < len(rows):
                window |= bags[i + 1]
            out.append(
                Scored(
                    row, sent, hit, rank, float(sims[i]), bags[i], frozenset(window),
                    has_type(kind, sent.text, query.question) if kind else False,
                    hit.score / best_fused,
                )
            )  # fmt: skip
    return out, q_weights


def combine(
    parts: tuple[Scored, ...], q_weights: dict[str, float], typed_question: bool, weights: Weights
) -> Candidate:
    """Score one sentence or an adjacent pair as a single answer."""
    bag: set[str] = set().union(*(p.bag for p in parts))
    window: set[str] = set().union(*(p.window for p in parts))
    meaning = max(p.meaning for p in parts)
    words = _coverage(q_weights, bag)
    context = _coverage(q_weights, window)
    chars = sum(len(p.sentence.text) + 1 for p in parts) - 1
    typed = any(p.typed for p in parts)
    score = (
        weights.meaning * meaning
        + weights.words * words
        + weights.context * context
        + weights.passage * max(p.passage for p in parts)
        + (weights.answer_type * (1 if typed else -1) if typed_question else 0.0)
        # Only a second sentence pays for length: a long single sentence is still one fact.
        - (weights.pair + weights.length * max(0, chars - weights.free_chars) / 100
           if len(parts) > 1 else 0.0)
    )
    return Candidate(parts, score, meaning, words, context)


def rank_candidates(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> list[Candidate]:
    """Every sentence and every pair of adjacent sentences, best first."""
    scored, q_weights = score_sentences(index, query, query_vector, hits)
    typed_question = expected_type(query.question) is not None
    by_pos = {(s.sentence.doc_id, s.sentence.idx): s for s in scored}
    out: list[Candidate] = []
    for s in scored:
        out.append(combine((s,), q_weights, typed_question, weights))
        nxt = by_pos.get((s.sentence.doc_id, s.sentence.idx + 1))
        if nxt is not None and len(s.sentence.text) + len(nxt.sentence.text) < MAX_ANSWER_CHARS:
            out.append(combine((s, nxt), q_weights, typed_question, weights))
    out.sort(key=lambda c: -c.score)
    return out


def missing_names(question: str, hits: Sequence[Hit]) -> list[str]:
    """Capitalised words of the question (names) that no retrieved passage or title mentions."""
    names = [m.group(0) for m in re.finditer(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'\-]+", question.strip())]
    if not names:
        return []
    haystack: set[str] = set()
    for h in hits:
        haystack |= set(terms(h.chunk.text)) | set(terms(h.title)) | set(terms(h.chunk.section or ""))
    missing = []
    for name in names:
        ts = [t for t in terms(name) if t not in STOPWORDS]
        if ts and not any(t in haystack for t in ts):
            missing.append(name)
    return missing


def confidence(best: Candidate) -> float:
    """How well the best answer is supported: meaning and word overlap with its context."""
    return 0.5 * best.meaning + 0.5 * max(best.context, best.words)


def compose(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> Answer:
    """Pick the answering sentence(s) and build the Answer, or abstain with related passages."""
    candidates = rank_candidates(index, query, query_vector, hits, weights)
    if not candidates:
        return Answer(ABSTAIN_TEXT, True, ())
    best = candidates[0]
    if confidence(best) < weights.abstain_below or missing_names(query.question, hits):
        return Answer(ABSTAIN_TEXT, True, tuple(_related(index, hits)))
    parts = list(best.parts)
    last = parts[-1]
    if len(parts) == 1 and last.sentence.text.rstrip().endswith(":"):
        # A sentence that ends in a colon only introduces what follows: take the first item too.
        follow = next(
            (c.parts[0] for c in candidates
             if len(c.parts) == 1 and c.parts[0].sentence.doc_id == last.sentence.doc_id
             and c.parts[0].sentence.idx == last.sentence.idx + 1),
            None,
        )  # fmt: skip
        if follow is not None:
            parts.append(follow)
    return _render(index, parts, best.score)


def _citation(index: Index, hit: Hit, start: int, end: int, cid: int, score: float) -> Citation:
    doc = index.documents[hit.chunk.doc_id]
    return Citation(
        id=cid,
        title=doc.title,
        source=doc.source,
        text=hit.chunk.text,
        start=start,
        end=end,
        score=round(score, 4),
        passage_start=hit.chunk.start,
        section=hit.chunk.section,
        published=doc.published,
    )


def _render(index: Index, chosen: list[Scored], score: float) -> Answer:
    """Join the sentences with [n] markers; adjacent sentences of one passage share a citation."""
    citations: list[Citation] = []
    parts: list[str] = []
    groups: list[list[Scored]] = []
    for c in chosen:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.hit.chunk_id == c.hit.chunk_id
            and c.sentence.idx == last.sentence.idx + 1
        ):
            groups[-1].append(c)
        else:
            groups.append([c])
    for group in groups:
        cid = len(citations) + 1
        first, last = group[0].sentence, group[-1].sentence
        citations.append(_citation(index, group[0].hit, first.start, last.end, cid, score))
        parts.append(" ".join(c.sentence.text for c in group) + f" [{cid}]")
    return Answer(" ".join(parts), False, tuple(citations))


def _related(index: Index, hits: Sequence[Hit], n: int = 3) -> list[Citation]:
    return [
        _citation(index, h, h.chunk.start, h.chunk.end, i, h.score)
        for i, h in enumerate(hits[:n], start=1)
    ]
