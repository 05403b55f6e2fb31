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
    adjacent_bonus: float = 0.04
    second_margin: float = 0.10
    abstain_below: float = 0.42


WEIGHTS = Weights()


@dataclass(frozen=True)
class Candidate:
    """A sentence that might answer, with the hit it came from and its signals."""

    row: int
    sentence: Sentence
    hit: Hit
    hit_rank: int
    score: float
    meaning: float
    words: float
    context: float
    typed: bool


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


def score_candidates(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> list[Candidate]:
    """Score every sentence of the retrieved passages, best first."""
    q_terms = question_terms(query.question)
    ctx_terms = [t for t in question_terms(query.context) if t not in q_terms]
    q_weights = idf_weights(index, q_terms + ctx_terms)
    # Terms carried over from earlier turns count, but less than the question's own.
    for t in ctx_terms:
        q_weights[t] *= 0.5
    kind = expected_type(query.question)
    best_fused = max((h.score for h in hits), default=1.0) or 1.0
    out: list[Candidate] = []
    seen: set[int] = set()
    for rank, hit in enumerate(hits):
        c = hit.chunk
        rows = index.sentences(c.doc_id, max(0, c.first - 1), c.last + 1)
        doc_title_terms = set(terms(hit.title))
        bags = [set(terms(s.text)) for _, s in rows]
        vecs = index.sentence_vectors[[r for r, _ in rows]] if rows else np.zeros((0, 1))
        sims = vecs @ query_vector if len(rows) else []
        for i, (row, sent) in enumerate(rows):
            if row in seen or not (c.first <= sent.idx <= c.last):
                continue
            seen.add(row)
            bag = bags[i]
            window = set(bag) | doc_title_terms | set(terms(sent.section or ""))
            if i > 0:
                window |= bags[i - 1]
            if i + 1 < len(rows):
                window |= bags[i + 1]
            w = _coverage(q_weights, bag)
            cx = _coverage(q_weights, window)
            typed = has_type(kind, sent.text, query.question)
            meaning = float(sims[i])
            passage = hit.score / best_fused
            score = (
                weights.meaning * meaning
                + weights.words * w
                + weights.context * cx
                + weights.passage * passage
                + (weights.answer_type * (1 if typed else -1) if kind else 0.0)
            )
            out.append(Candidate(row, sent, hit, rank, score, meaning, w, cx, typed))
    out.sort(key=lambda c: -c.score)
    return out


def missing_names(question: str, hits: Sequence[Hit]) -> list[str]:
    """Capitalised words of the question (names) that no retrieved passage or title mentions."""
    names = [m.group(0) for m in re.finditer(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'\-]+", question.strip())]
    if not names:
        return []
    haystack = set()
    for h in hits:
        haystack |= set(terms(h.chunk.text)) | set(terms(h.title)) | set(terms(h.chunk.section or ""))
    missing = []
    for name in names:
        ts = [t for t in terms(name) if t not in STOPWORDS]
        if ts and not any(t in haystack for t in ts):
            missing.append(name)
    return missing


def confidence(best: Candidate) -> float:
    """How well the best sentence is supported: meaning and word overlap with its context."""
    return 0.5 * best.meaning + 0.5 * max(best.context, best.words)


def compose(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> Answer:
    """Pick the answering sentence(s) and build the Answer, or abstain with related passages."""
    candidates = score_candidates(index, query, query_vector, hits, weights)
    if not candidates:
        return Answer(ABSTAIN_TEXT, True, ())
    best = candidates[0]
    if confidence(best) < weights.abstain_below or missing_names(query.question, hits):
        return Answer(ABSTAIN_TEXT, True, tuple(_related(index, hits)))
    chosen = [best]
    second = _second(best, candidates, weights)
    if second is not None:
        chosen.append(second)
        if second.sentence.doc_id == best.sentence.doc_id:
            chosen.sort(key=lambda c: c.sentence.idx)  # reading order within one article
    return _render(index, chosen)


def _second(best: Candidate, candidates: list[Candidate], weights: Weights) -> Candidate | None:
    """A second sentence when it is nearly as good, or when the first only introduces it."""
    budget = MAX_ANSWER_CHARS - len(best.sentence.text)
    nxt = [
        c for c in candidates[1:]
        if c.sentence.doc_id == best.sentence.doc_id and c.sentence.idx == best.sentence.idx + 1
    ]  # fmt: skip
    if best.sentence.text.rstrip().endswith(":") and nxt:
        return nxt[0]
    for c in candidates[1:4]:
        if len(c.sentence.text) > budget:
            continue
        adjacent = c.sentence.doc_id == best.sentence.doc_id and abs(c.sentence.idx - best.sentence.idx) == 1
        bonus = weights.adjacent_bonus if adjacent else 0.0
        if c.score + bonus >= best.score - weights.second_margin:
            return c
    return None


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


def _render(index: Index, chosen: list[Candidate]) -> Answer:
    """Join the sentences with [n] markers; adjacent sentences of one passage share a citation."""
    citations: list[Citation] = []
    parts: list[str] = []
    groups: list[list[Candidate]] = []
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
        citations.append(_citation(index, group[0].hit, first.start, last.end, cid, group[0].score))
        parts.append(" ".join(c.sentence.text for c in group) + f" [{cid}]")
    return Answer(" ".join(parts), False, tuple(citations))


def _related(index: Index, hits: Sequence[Hit], n: int = 3) -> list[Citation]:
    return [
        _citation(index, h, h.chunk.start, h.chunk.end, i, h.score)
        for i, h in enumerate(hits[:n], start=1)
    ]
