"""`qa fit`: fit the answer stage's weights on held-out training articles, never on the dev sets.

The articles `qa train` holds out (one title in 25 of SQuAD 1.1 train, SQuADShifts and Natural
Questions) are indexed with the trained model and asked through the same path as /ask. Then:

1. the sentence stage: a conditional logit over each question's candidate sentences ("which one
   holds the answer"), scaled so that the meaning signal weighs 1;
2. the choice stage: a conditional logit over each question's candidates (a sentence or a pair),
   with every character costing `per_char`, the unit of that stage;
3. the abstention threshold: the best candidate's cosine below which at most `refuse` of any
   one source's answerable questions would be refused.

It prints the weights as `Weights(...)` fields, with answer hit and length before and after.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import WEIGHTS, Weights
from qa.answer.candidates import score_sentences
from qa.answer.render import render
from qa.answer.score import (
    CHOICE_SIGNALS,
    SENTENCE_SIGNALS,
    Candidate,
    candidate_shapes,
    choice_signals,
    combine,
    idf_weights,
    question_roots,
    rank_candidates,
    sentence_signals,
    term_stats,
    weight_vector,
)
from qa.build import build_index
from qa.config import Settings
from qa.embed import Embedder
from qa.evaluate import contains_any
from qa.index import Index
from qa.ingest import make_document
from qa.model.train import held_out_title, rows
from qa.question import Question, parse
from qa.records import Document
from qa.retrieve import retrieve

FIT_SOURCES = ("squad-v1.1-train.jsonl.gz", "squadshifts-new-wiki.jsonl.gz", "nq-qed-train.jsonl.gz")


@dataclass(frozen=True)
class Asked:
    """One held-out question, retrieved and split into scored sentences."""

    question: Question
    answers: tuple[str, ...]
    source: str
    scored: list[Any]
    stats: Any
    signals: np.ndarray  # (sentences, len(SENTENCE_SIGNALS))
    labels: np.ndarray  # (sentences,) bool: holds an answer


Questions = list[tuple[str, tuple[str, ...], str]]


def held_out(data: Path, limit: int, seed: int) -> tuple[list[Document], Questions]:
    """The held-out articles (paragraphs in order) and up to `limit` of their questions."""
    bodies: dict[str, dict[str, None]] = {}
    questions: Questions = []
    for name in FIT_SOURCES:
        path = data / name
        if not path.exists():
            continue
        for row in rows(path):
            if not held_out_title(row["title"]):
                continue
            key = f"{row['source']}:{row['title']}"
            bodies.setdefault(key, {})[row["context"].strip()] = None
            questions.append((row["question"], tuple(row["answers"]), row["source"]))
    docs = [make_document(k, k.split(":", 1)[1].replace("_", " "), "\n\n".join(p)) for k, p in bodies.items()]
    random.Random(seed).shuffle(questions)
    return docs, questions[:limit]


def ask_all(index: Index, embedder: Embedder, questions: Questions, top_k: int) -> list[Asked]:
    """Retrieve and score every question's sentences once; the fits reuse them."""
    out: list[Asked] = []
    vectors = embedder.embed_queries([q for q, _, _ in questions])
    for (text, answers, source), vector in zip(questions, vectors, strict=True):
        question = parse(text)
        hits = retrieve(index, question, vector, top_k)
        stats = term_stats(index, question)
        scored = score_sentences(index, question, vector, hits)
        if not scored:
            continue
        roots = question_roots(idf_weights(stats))
        typed = question.kind is not None
        signals = np.array([sentence_signals(s, roots, set(question.bigrams), typed) for s in scored])
        labels = np.array([contains_any(s.sentence.text, answers) for s in scored])
        out.append(Asked(question, answers, source, scored, stats, signals, labels))
    return out


def conditional_logit(
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]], l2: float = 1e-3
) -> np.ndarray:
    """Weights maximising each group's probability of its positive rows (softmax within a group).

    A group is (signals, offsets, positives); groups without a positive or a negative teach
    nothing and are left out."""
    from scipy.optimize import minimize

    usable = [g for g in groups if g[2].any() and not g[2].all()]
    dim = usable[0][0].shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(dim)
        for x, offset, pos in usable:
            s = x @ w + offset
            m = s.max()
            p = np.exp(s - m)
            z = p.sum()
            pp = p * pos
            zp = pp.sum()
            total -= math.log(zp) - math.log(z)
            grad -= (pp / zp) @ x - (p / z) @ x
        n = len(usable)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    return np.asarray(minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B").x)


def fit_weights(asked: list[Asked], base: Weights, refuse: float) -> Weights:
    """Both stages and the abstention threshold, fitted on `asked`."""
    sentence = conditional_logit([(a.signals, np.zeros(len(a.labels)), a.labels) for a in asked])
    sentence = sentence / sentence[0]  # in units of the meaning signal
    weights = replace(
        base, **dict(zip(SENTENCE_SIGNALS, (round(float(v), 3) for v in sentence), strict=True))
    )
    groups = []
    for a in asked:
        shapes, rows = _choices(a, weights)
        offsets = np.array(
            [-weights.per_char * (sum(len(p.sentence.text) + 1 for p in s) - 1) for s in shapes]
        )
        labels = np.array([contains_any(" ".join(p.sentence.text for p in s), a.answers) for s in shapes])
        groups.append((rows, offsets, labels))
    choice = conditional_logit(groups)
    weights = replace(weights, **dict(zip(CHOICE_SIGNALS, (round(float(v), 3) for v in choice), strict=True)))
    # Questions are worded differently in each source (search queries sit further from their
    # answers than crowd questions written beside the paragraph): refuse at most `refuse` of
    # any one source's answerable questions.
    by_source: dict[str, list[float]] = {}
    for a in asked:
        if a.labels.any():
            by_source.setdefault(a.source, []).append(_best(a, weights).meaning)
    thresholds = [sorted(c)[int(refuse * len(c))] for c in by_source.values()]
    threshold = min(thresholds, default=base.abstain_below)
    return replace(weights, abstain_below=round(float(threshold), 3))


def _singles(a: Asked, weights: Weights) -> list[Candidate]:
    w = weight_vector(weights, SENTENCE_SIGNALS)
    return sorted(
        (combine(s, tuple(x), w) for s, x in zip(a.scored, a.signals, strict=True)), key=lambda c: -c.score
    )


def _choices(a: Asked, weights: Weights) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    singles = _singles(a, weights)
    by_row = {c.parts[0].row: c for c in singles}
    shapes = candidate_shapes(a.scored, singles)
    return shapes, np.array([choice_signals(by_row, singles[0], s) for s in shapes])


def _best(a: Asked, weights: Weights) -> Candidate:
    return rank_candidates(a.scored, a.question, a.stats, weights)[0]


def answer_hit(asked: list[Asked], weights: Weights) -> tuple[float, float]:
    """Answer hit and median answer length of the best candidates (abstention aside)."""
    hits, lengths = 0, []
    for a in asked:
        text = render(_best(a, weights).parts, 0.0).answer
        hits += contains_any(text, a.answers)
        lengths.append(len(text))
    return hits / max(1, len(asked)), float(np.median(lengths)) if lengths else 0.0


def run(data: Path, limit: int, seed: int, refuse: float, log: Callable[[str], None] = print) -> Weights:
    """Index the held-out articles, fit, and report; returns the fitted weights."""
    docs, questions = held_out(data, limit, seed)
    log(f"held-out: {len(docs)} articles, {len(questions)} questions")
    embedder = Embedder.from_settings(Settings.from_env())
    log(f"model: {embedder.name}")
    with tempfile.TemporaryDirectory(prefix="qa-fit-") as tmp:
        build_index(docs, embedder, Path(tmp))
        index = Index(Path(tmp))
        asked = ask_all(index, embedder, questions, 10)
        index.close()
    log(f"asked {len(asked)}; before: answer hit {answer_hit(asked, WEIGHTS)}")
    fitted = fit_weights(asked, WEIGHTS, refuse)
    log(f"after: answer hit {answer_hit(asked, fitted)}")
    for f in fields(Weights):
        log(f"    {f.name}: float = {getattr(fitted, f.name)}")
    return fitted


def main() -> None:
    """`python -m qa.model.fit [DATA] [--limit N]`."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m qa.model.fit", description=__doc__)
    p.add_argument("data", nargs="?", default="../shared/train")
    p.add_argument("--limit", type=int, default=2000, help="held-out questions to fit on")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--refuse", type=float, default=0.005, help="share of any source's answerable questions refused"
    )
    args = p.parse_args()
    run(Path(args.data), args.limit, args.seed, args.refuse)


if __name__ == "__main__":
    main()
