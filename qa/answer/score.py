"""The model's scoring: how well each candidate sentence answers, and one sentence or two.

Each candidate sentence gets a score from a few signals, each explainable in one sentence:
- meaning: cosine between the question and the sentence, both embedded by the trained answer
  model (`qa.model`), which reads a question and places it next to the sentence that answers it;
- words: the share of the question's informative (IDF-weighted) terms the sentence contains
  (a term counts when a word of the sentence shares its first five letters: "settled" is in
  "settlement");
- window: the same share over the sentence with its neighbours, section and title, because
  a sentence often answers a question whose subject was named just before it;
- rank share: how highly retrieval ranked the passage the sentence sits in;
- answer kind: who/when/where/how-many questions want a name, date, place or number that is
  not already in the question.

Then a choice between one sentence and two (adjacent, or two of the best three): every
character costs, and a second sentence pays its way when it scores close to the best one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.candidates import Scored, facts
from qa.question import Question
from qa.retriever import PassageStore
from qa.text import root

MAX_PAIR_CHARS = 400


@dataclass(frozen=True)
class Weights:
    """How much each signal counts, in two stages.

    All of them are fitted by `python -m qa.model.fit` on the training articles `qa train` held
    out (SQuAD 1.1 train, SQuADShifts, Natural Questions; 2,000 questions), asked through the
    /ask path with the trained answer model; none on NewsQA or the SQuAD 2.0 dev articles.
    They weigh general signals, never particular words.

    Sentence stage, in units of the cosine (meaning) signal: how well one sentence answers. A
    conditional logit over each question's sentences (which one holds the answer).
    """

    meaning: float = 1.0
    words: float = 0.323
    window: float = 0.615
    rank_share: float = 0.346
    answer_type: float = 0.151
    bigrams: float = 0.248
    log_length: float = -0.017
    # Below this cosine with the question, the best sentence is not taken as an answer: the
    # lowest of the cosines that 0.5% of each held-out source's answerable questions fall below
    # (news questions sit further from their answers than any training source's).
    abstain_below: float = 0.3
    # Choice stage, in units of 100 characters of answer: one sentence or two? A candidate
    # (a sentence, two adjacent ones, or two of the best three) pays for every character it
    # adds and for each sentence stage point its sentences fall below the best sentence; a
    # second sentence earns its place when the best ones are close. A conditional logit over
    # each question's candidates (which one holds the answer), characters costing `per_char`.
    gap: float = 6.848
    second_gap: float = 2.568
    second: float = 2.716
    apart: float = 0.076
    holds_best: float = 1.821
    # What each character of answer costs: the unit the choice stage's weights are in.
    per_char: float = 0.01


WEIGHTS = Weights()


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


@dataclass(frozen=True)
class TermStats:
    """A question's terms (and those carried from earlier turns) with their sentence counts and
    the kind of answer it asks for, worked out once per question and shared by every signal."""

    question: tuple[str, ...]
    earlier: tuple[str, ...]
    df: dict[str, int]
    sentences: int
    kind: str | None = None

    def idf(self, term: str) -> float:
        """Inverse document frequency over sentences, so rare words decide and common ones don't."""
        return math.log(1 + (self.sentences + 1) / (self.df.get(term, 0) + 0.5))


def term_stats(index: PassageStore, question: Question) -> TermStats:
    """The question's terms and their document frequencies, in one lookup."""
    df = index.lexicon.document_frequencies([*question.terms, *question.earlier_terms])
    n = index.lexicon.sentence_count()
    return TermStats(question.terms, question.earlier_terms, df, n, question.kind)


def idf_weights(stats: TermStats) -> dict[str, float]:
    """IDF weight of every term; terms carried over from earlier turns count half."""
    weights = {t: stats.idf(t) for t in stats.question}
    weights.update({t: 0.5 * stats.idf(t) for t in stats.earlier})
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


# The signals of each stage, in the order `sentence_signals` and `choice_signals` return them;
# each is also the name of its weight in `Weights`.
SENTENCE_SIGNALS = ("meaning", "words", "window", "rank_share", "bigrams", "log_length", "answer_type")
CHOICE_SIGNALS = ("gap", "second_gap", "second", "apart", "holds_best")


def weight_vector(weights: Weights, names: Sequence[str]) -> tuple[float, ...]:
    """The weights of the named signals, in order."""
    return tuple(getattr(weights, n) for n in names)


def sentence_signals(
    part: Scored, q_roots: dict[str, float], q_bigrams: set[tuple[str, str]], typed_question: bool
) -> tuple[float, ...]:
    """The sentence stage's signals of one sentence, in SENTENCE_SIGNALS order."""
    text = part.sentence.text
    shared = len(q_bigrams & facts(text).bigrams) / len(q_bigrams) if q_bigrams else 0.0
    return (
        part.meaning,
        _coverage(q_roots, part.bag),
        _coverage(q_roots, part.window),
        part.rank_share,
        shared,
        math.log(len(text)),
        1.0 if typed_question and part.typed else 0.0,
    )


def combine(part: Scored, signals: tuple[float, ...], weights: tuple[float, ...]) -> Candidate:
    """The sentence stage: score one sentence as an answer."""
    score = sum(w * x for w, x in zip(weights, signals, strict=True))
    return Candidate((part,), score, part.meaning, score)


def choice_signals(
    by_row: dict[int, Candidate], best: Candidate, parts: tuple[Scored, ...]
) -> tuple[float, ...]:
    """The choice stage's signals of a sentence or a pair, in CHOICE_SIGNALS order."""
    holds_best = 1.0 if best.parts[0].row in (p.row for p in parts) else 0.0
    if len(parts) == 1:
        return (by_row[parts[0].row].support - best.support, 0.0, 0.0, 0.0, holds_best)
    x, y = parts
    cx, cy = by_row[x.row], by_row[y.row]
    high, low = max(cx.support, cy.support), min(cx.support, cy.support)
    apart = x.sentence.doc_id != y.sentence.doc_id or abs(x.sentence.idx - y.sentence.idx) != 1
    return (high - best.support, low - best.support, 1.0, 1.0 if apart else 0.0, holds_best)


def choose(
    by_row: dict[int, Candidate],
    best: Candidate,
    parts: tuple[Scored, ...],
    weights: tuple[float, ...],
    per_char: float,
) -> Candidate:
    """The choice stage: a sentence or a pair, scored against the best sentence and its length.

    `by_row` holds the sentence stage's candidate of every sentence, `best` the best of them."""
    signals = choice_signals(by_row, best, parts)
    score = sum(w * x for w, x in zip(weights, signals, strict=True)) - _chars(parts) * per_char
    meaning = max(by_row[p.row].meaning for p in parts)
    return Candidate(parts, score, meaning, max(by_row[p.row].support for p in parts))


def rank_candidates(
    scored: Sequence[Scored],
    question: Question,
    stats: TermStats,
    weights: Weights = WEIGHTS,
) -> list[Candidate]:
    """Every sentence, every pair of adjacent sentences and every pair of the best three, best first."""
    typed_question = question.kind is not None
    q_bigrams = set(question.bigrams)
    q_roots = question_roots(idf_weights(stats))
    sentence_weights = weight_vector(weights, SENTENCE_SIGNALS)
    singles = sorted(
        (
            combine(s, sentence_signals(s, q_roots, q_bigrams, typed_question), sentence_weights)
            for s in scored
        ),
        key=lambda c: -c.score,
    )
    if not singles:
        return []
    by_row = {c.parts[0].row: c for c in singles}
    choice_weights = weight_vector(weights, CHOICE_SIGNALS)
    out = [
        choose(by_row, singles[0], parts, choice_weights, weights.per_char)
        for parts in candidate_shapes(scored, singles)
    ]
    out.sort(key=lambda c: -c.score)
    return out


def candidate_shapes(scored: Sequence[Scored], singles: Sequence[Candidate]) -> list[tuple[Scored, ...]]:
    """What may answer: each sentence, each pair of neighbours, each pair of the best three
    (`singles`: the sentence stage's candidates, best first)."""
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
    return shapes


def _fits(a: Scored, b: Scored) -> bool:
    return _chars((a, b)) <= MAX_PAIR_CHARS
