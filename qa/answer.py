"""Hits → the one or two source sentences that answer → Answer with [n] markers, or an abstention.

Each candidate sentence gets a score from a few signals, each explainable in one sentence:
- meaning: cosine between the question and the sentence (sentence vectors are built at index time);
- words: the share of the question's informative (IDF-weighted) terms the sentence contains
  (a term counts when a word of the sentence shares its first five letters: "settled" is in
  "settlement");
- context: the same share over the sentence with its neighbours, section and title, because
  a sentence often answers a question whose subject was named just before it;
- passage: how highly retrieval ranked the passage the sentence sits in;
- answer type: who/when/where/how-many questions want a name, date, place or number that is
  not already in the question.

Then a choice between one sentence and two (adjacent, or two of the best three): every
character costs, and a second sentence pays its way when it scores close to the best one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np

from qa.retrieve import Query, question_terms
from qa.store import Index
from qa.text import STOPWORDS, fold, root, terms, words
from qa.types import Answer, Citation, Hit, Sentence

# Longest answer made of two sentences, in characters.
MAX_PAIR_CHARS = 400
ABSTAIN_TEXT = "The indexed articles don't cover this."

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
_TYPE_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_WHEN, re.I), "date"),
    (re.compile(_HOW_MANY, re.I), "number"),
    (re.compile(_WHO, re.I), "name"),
    (re.compile(_WHERE, re.I), "place"),
]


@dataclass(frozen=True)
class Weights:
    """How much each signal counts, in two stages.

    Sentence stage, in units of the cosine (meaning) signal: how well one sentence answers.
    The ratios come from a logistic regression of "this sentence contains the answer" on these
    signals over the SQuAD 2.0 dev articles, checked by 5-fold cross-validation across
    questions; they were then rounded. They weigh general signals, never particular words.
    """

    meaning: float = 1.0
    words: float = 0.68
    context: float = 0.09
    passage: float = 1.58
    answer_type: float = 0.11
    bigrams: float = 0.49
    log_length: float = 0.12
    # Below this cosine with the question, the best sentence is not taken as an answer
    # (on SQuAD dev it refuses 3 of 705 answerable questions and 14 of 702 unanswerable ones).
    abstain_below: float = 0.30
    # Choice stage, in units of 100 characters of answer: one sentence or two? A candidate
    # (a sentence, two adjacent ones, or two of the best three) pays for every character it
    # adds and for each sentence stage point its sentences fall below the best sentence; a
    # second sentence earns its place when the best ones are close. Fitted as a conditional
    # logit (which candidate of a question holds the answer) on all five SQuAD dev articles
    # (answer hit 0.912 at a median of 227 characters there); refitting both stages with each
    # article left out in turn gives 0.894 at 231, the better guess for unseen articles.
    gap: float = 8.1
    second_gap: float = 2.3
    second: float = 3.2
    apart: float = -0.9
    holds_best: float = 1.0
    # What each character of answer costs: the unit the choice stage's weights are in.
    per_char: float = 0.01


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
    """One sentence, or two, that might answer; with its score."""

    parts: tuple[Scored, ...]
    score: float
    # The best cosine of its sentences with the question (what `confidence` reads).
    meaning: float
    # The sentence stage score of its best sentence: how well it answers, shown in citations.
    support: float


def _chars(parts: Sequence[Scored]) -> int:
    """Length of the answer text these sentences make (joined by spaces, before the markers)."""
    return sum(len(p.sentence.text) + 1 for p in parts) - 1


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for: date, number, name, place, or None."""
    for pattern, kind in _TYPE_CUES:
        if pattern.search(question):
            return kind
    return None


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
class Terms:
    """A question's terms (and those carried from earlier turns) with their sentence counts and
    the kind of answer it asks for, worked out once per question and shared by every signal."""

    question: tuple[str, ...]
    context: tuple[str, ...]
    df: dict[str, int]
    sentences: int
    kind: str | None = None

    def idf(self, term: str) -> float:
        """Inverse document frequency over sentences, so rare words decide and common ones don't."""
        return math.log(1 + (self.sentences + 1) / (self.df.get(term, 0) + 0.5))


def question_stats(index: Index, query: Query) -> Terms:
    """The question's terms and their document frequencies, in one lookup."""
    q_terms = question_terms(query.question)
    ctx_terms = [t for t in question_terms(query.context) if t not in q_terms]
    df = index.document_frequencies([*q_terms, *ctx_terms, "__sentences__"])
    n = df.pop("__sentences__", 1)
    return Terms(tuple(q_terms), tuple(ctx_terms), df, n, expected_type(query.question))


def idf_weights(stats: Terms) -> dict[str, float]:
    """IDF weight of every term; terms carried over from earlier turns count half."""
    weights = {t: stats.idf(t) for t in stats.question}
    weights.update({t: 0.5 * stats.idf(t) for t in stats.context})
    return weights


def question_roots(q_weights: dict[str, float]) -> dict[str, float]:
    """Each question term's root with its share of the question's total weight (terms with one
    root pool their shares)."""
    total = sum(q_weights.values())
    roots: dict[str, float] = {}
    if total > 0:
        for t, w in q_weights.items():
            roots[root(t)] = roots.get(root(t), 0.0) + w / total
    return roots


def _coverage(q_roots: dict[str, float], bag: frozenset[str]) -> float:
    return sum(q_roots[r] for r in bag.intersection(q_roots))


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk's sentences with their roots and their neighbourhood's, which are the
    same whatever the question."""

    rows: tuple[tuple[int, Sentence], ...]
    ids: np.ndarray
    bags: tuple[frozenset[str], ...]
    windows: tuple[frozenset[str], ...]


def passage(index: Index, hit: Hit) -> Passage:
    """The chunk's sentences, read once per index generation: the same passages come back
    question after question."""
    key = ("passage", hit.chunk_id)
    found: Passage | None = index.derived.data.get(key)
    if found is not None:
        return found
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
    made = Passage(
        tuple(rows[i] for i in keep),
        np.array([rows[i][0] for i in keep], dtype=np.int64),
        tuple(bags[i] for i in keep),
        windows,
    )
    index.derived.put(key, made)
    return made


def score_sentences(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    stats: Terms,
) -> list[Scored]:
    """Signals for every sentence of the retrieved passages."""
    kind = stats.kind
    folded = fold(query.question)
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


def combine(
    part: Scored,
    q_roots: dict[str, float],
    q_bigrams: set[tuple[str, str]],
    typed_question: bool,
    weights: Weights,
) -> Candidate:
    """The sentence stage: score one sentence as an answer."""
    text = part.sentence.text
    words_ = _coverage(q_roots, part.bag)
    context = _coverage(q_roots, part.window)
    shared = len(q_bigrams & facts(text).bigrams) / len(q_bigrams) if q_bigrams else 0.0
    score = (
        weights.meaning * part.meaning
        + weights.words * words_
        + weights.context * context
        + weights.passage * part.passage
        + weights.bigrams * shared
        + weights.log_length * math.log(len(text))
        + (weights.answer_type if typed_question and part.typed else 0.0)
    )
    return Candidate((part,), score, part.meaning, score)


def choose(
    by_row: dict[int, Candidate], best: Candidate, parts: tuple[Scored, ...], weights: Weights
) -> Candidate:
    """The choice stage: a sentence or a pair, scored against the best sentence and its length.

    `by_row` holds the sentence stage's candidate of every sentence, `best` the best of them."""
    if len(parts) == 1:  # most candidates: the same sum, without the pair's bookkeeping
        one = by_row[parts[0].row]
        score = weights.gap * (one.support - best.support) - len(parts[0].sentence.text) * weights.per_char
        if one is best:
            score += weights.holds_best
        return Candidate(parts, score, one.meaning, one.support)
    x, y = parts
    cx, cy = by_row[x.row], by_row[y.row]
    high, low = max(cx.support, cy.support), min(cx.support, cy.support)
    score = (
        weights.gap * (high - best.support)
        - _chars(parts) * weights.per_char
        + weights.second
        + weights.second_gap * (low - best.support)
    )
    if best.parts[0].row in (x.row, y.row):
        score += weights.holds_best
    if x.sentence.doc_id != y.sentence.doc_id or abs(x.sentence.idx - y.sentence.idx) != 1:
        score += weights.apart
    return Candidate(parts, score, max(x.meaning, y.meaning), high)


def bigrams(text: str) -> set[tuple[str, str]]:
    """Adjacent word pairs, not both stopwords: phrases shared with the question."""
    ws = words(text)
    return {(a, b) for a, b in pairwise(ws) if a not in STOPWORDS or b not in STOPWORDS}


def rank_candidates(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    stats: Terms,
    weights: Weights = WEIGHTS,
) -> list[Candidate]:
    """Every sentence, every pair of adjacent sentences and every pair of the best three, best first."""
    scored = score_sentences(index, query, query_vector, hits, stats)
    typed_question = stats.kind is not None
    q_bigrams = bigrams(query.question)
    q_roots = question_roots(idf_weights(stats))
    singles = sorted(
        (combine(s, q_roots, q_bigrams, typed_question, weights) for s in scored), key=lambda c: -c.score
    )
    if not singles:
        return []
    by_pos = {(s.sentence.doc_id, s.sentence.idx): s for s in scored}
    shapes: list[tuple[Scored, ...]] = []
    for s in scored:
        nxt = by_pos.get((s.sentence.doc_id, s.sentence.idx + 1))
        if nxt is not None and nxt.sentence.section != s.sentence.section:
            nxt = None  # a heading between them: they are not one passage
        # A sentence ending in a colon only introduces what follows: never quote it alone.
        if not (s.sentence.text.endswith(":") and nxt is not None):
            shapes.append((s,))
        if nxt is not None and _fits(s, nxt) and not nxt.sentence.text.endswith(":"):
            shapes.append((s, nxt))
    # Two separate sentences, when the best few disagree: each may hold half of the answer.
    top = [c.parts[0] for c in singles[:3]]
    for i, a in enumerate(top):
        for b in top[i + 1 :]:
            x, y = sorted((a, b), key=lambda p: (p.hit_rank, p.sentence.idx))
            if x.sentence.doc_id == y.sentence.doc_id and abs(x.sentence.idx - y.sentence.idx) <= 1:
                continue
            if _fits(x, y):
                shapes.append((x, y))
    by_row = {c.parts[0].row: c for c in singles}
    out = [choose(by_row, singles[0], parts, weights) for parts in shapes]
    out.sort(key=lambda c: -c.score)
    return out


def _fits(a: Scored, b: Scored) -> bool:
    return _chars((a, b)) <= MAX_PAIR_CHARS


def unknown_names(index: Index, question: str) -> list[str]:
    """Capitalised words of the question (names) that the indexed articles never mention.

    A five-letter prefix match forgives inflections ("Californian"), one edit forgives a typo
    ("Primier League"), and two names written as one ("Sky Drive" for "SkyDrive") count as known:
    questions are typed in a hurry, and a misspelt name is still a known one.
    """
    q = question.strip()
    found: list[tuple[str, list[str], int, int]] = []
    for m in re.finditer(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'\-]+", q):
        ts = [t for t in terms(m.group(0)) if t not in STOPWORDS]
        if ts:
            found.append((m.group(0), ts, m.start(), m.end()))
    if not found:
        return []
    # Neighbouring names joined: the index may hold them as one word.
    joined = {
        i: "".join(words(a[0] + b[0])) for i, (a, b) in enumerate(pairwise(found)) if q[a[3] : b[2]] == " "
    }
    known = index.known_prefixes([*(t for _, ts, _, _ in found for t in ts), *joined.values()])
    unknown = [t for _, ts, _, _ in found for t in ts if t not in known]
    known |= index.near_misses(unknown)
    together: set[int] = set()
    for i, word in joined.items():
        if word in known:
            together |= {i, i + 1}
    return [
        name
        for i, (name, ts, _, _) in enumerate(found)
        if i not in together and not any(t in known for t in ts)
    ]


def unknown_share(stats: Terms) -> float:
    """The IDF-weighted share of the question's terms that no indexed sentence contains."""
    if not stats.question:
        return 0.0
    weight = {t: stats.idf(t) for t in stats.question}
    return sum(w for t, w in weight.items() if t not in stats.df) / sum(weight.values())


# Words that say what kind of answer is wanted ("what year", "how many"), not what it is about.
_TYPE_WORDS = frozenset(
    terms(
        "year years date dates day days month months century centuries decade decades time times "
        "period periods era eras long old far large big tall high often fast number numbers "
        "percentage percentages percent amount amounts proportion size"
    )
)


def typed_answer_fits(candidates: Sequence[Candidate], stats: Terms) -> bool:
    """A how-many or when question needs a number or date in a sentence about the question —
    one holding a rarer question term too — somewhere among the best candidates (fifteen:
    most of them pair a sentence with a neighbour, so they hold about ten sentences).

    What the question is about is the rarest half of its terms that the index has, leaving out
    the words that only name the kind of answer: a misspelt word or "percentage" can't decide."""
    if stats.kind not in ("number", "date"):
        return True
    q_terms = [t for t in stats.question if t not in _TYPE_WORDS and stats.df.get(t, 0) > 0]
    if not q_terms:
        return True
    focus = sorted(q_terms, key=lambda t: stats.df[t])[: max(1, len(q_terms) // 2)]
    return any(p.typed and any(root(t) in p.window for t in focus) for c in candidates[:15] for p in c.parts)


def confidence(best: Candidate) -> float:
    """How well the best answer is supported. Its cosine with the question carries nearly all
    the evidence: word overlap added nothing once fitted against SQuAD's unanswerable questions."""
    return best.meaning


def compose(
    index: Index,
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> Answer:
    """Pick the answering sentence(s) and build the Answer, or abstain with related passages."""
    stats = question_stats(index, query)
    candidates = rank_candidates(index, query, query_vector, hits, stats, weights)
    if not candidates:
        return Answer(ABSTAIN_TEXT, True, ())
    best = candidates[0]
    if (
        confidence(best) < weights.abstain_below
        or unknown_names(index, query.question)
        or unknown_share(stats) > 0.75
        or not typed_answer_fits(candidates, stats)
    ):
        return Answer(ABSTAIN_TEXT, True, tuple(_related(index, hits)))
    parts = list(best.parts)
    return _render(index, parts, best.support)


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
        prev = groups[-1][-1] if groups else None
        if (
            prev is not None
            and prev.hit.chunk_id == c.hit.chunk_id
            and c.sentence.idx == prev.sentence.idx + 1
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
        _citation(index, h, h.chunk.start, h.chunk.end, i, h.score) for i, h in enumerate(hits[:n], start=1)
    ]
