"""Answer quality of the product next to a plain baseline, on the same questions in one run.

The product: `qa eval`'s path (the trained answer model, hybrid retrieval, the answer stage).
The baseline: a plain hybrid search over every sentence, with the plain base model and no answer
stage: the cosine ranking of all sentence vectors and a BM25 ranking of all sentences, fused by
reciprocal rank; its answer is the two best sentences, in document order.

    .venv/bin/python bench/answer_quality.py [--newsqa PATH] [--squad PATH] [--limit N]

NewsQA is research-only: it is read from ../shared/eval, never copied. The Netflix questions and
conversations (tests/data) run over the bundled article.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import DEFAULT_SQUAD, SHARED_EVAL
from bench.paths import ROOT, tmpdir
from bench.results import finish, table
from bench.stats import percentile

RRF_K = 60
METRICS = (
    "answer_hit", "citation_hit", "retrieval_hit_at_1", "retrieval_hit_at_5", "abstention",
    "false_abstention",
    "follow_up_hit", "answer_chars_median", "answer_chars_p95", "answer_chars_max",
)  # fmt: skip


class SentenceSearch:
    """The baseline: BM25 and cosine over every sentence of an index, fused by reciprocal rank."""

    def __init__(self, index: Any) -> None:
        from qa.text import terms

        rows = index.db.execute("SELECT id, doc_id, idx, text FROM sentences ORDER BY id").fetchall()
        self.rows = [(doc, idx, text) for _, doc, idx, text in rows]
        self.vectors = np.asarray(index.sentence_vectors, dtype=np.float32)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths = np.zeros(len(rows))
        for i, (_, _, text) in enumerate(self.rows):
            counts = Counter(terms(text))
            self.lengths[i] = sum(counts.values())
            for t, n in counts.items():
                self.postings[t].append((i, n))
        self.mean_length = float(self.lengths.mean()) if len(rows) else 1.0

    def bm25(self, question: str, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        """BM25 score of every sentence for the question's terms."""
        from qa.text import terms

        scores = np.zeros(len(self.rows))
        n = len(self.rows)
        for t in dict.fromkeys(terms(question)):
            posting = self.postings.get(t, [])
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for i, tf in posting:
                scores[i] += (
                    idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.lengths[i] / self.mean_length))
                )
        return scores

    def answer(self, question: str, vector: np.ndarray, depth: int = 50) -> str:
        """The two best sentences of the fused ranking, in document order."""
        fused: dict[int, float] = defaultdict(float)
        for scores in (self.vectors @ vector, self.bm25(question)):
            for rank, i in enumerate(np.argsort(-scores)[:depth], start=1):
                fused[int(i)] += 1.0 / (RRF_K + rank)
        best = sorted(sorted(fused, key=lambda i: -fused[i])[:2], key=lambda i: self.rows[i][:2])
        return " ".join(self.rows[i][2] for i in best)


def baseline(dataset: Path, index_dir: Path) -> dict[str, Any]:
    """Answer hit and length of the baseline over one dataset (first turns and follow-ups alike)."""
    from qa.embed import Embedder
    from qa.evaluate import contains_any, load_dataset
    from qa.index import Index

    data = load_dataset(dataset)
    embedder = Embedder(answer_model="none")
    index = Index(index_dir)
    search = SentenceSearch(index)
    items = [item for conv in data.items for item in conv if item.answerable]
    vectors = embedder.embed_queries([i.question for i in items])
    answers = [search.answer(i.question, v) for i, v in zip(items, vectors, strict=True)]
    index.close()
    lengths = [len(a) for a in answers]
    hits = sum(contains_any(a, i.answers) for a, i in zip(answers, items, strict=True))
    return {
        "answer_hit": round(hits / max(1, len(items)), 4),
        "answer_chars_median": percentile(lengths, 50) if lengths else 0,
        # the nearest observed length, as qa.evaluate reports the product's
        "answer_chars_p95": percentile(lengths, 95, observed=True) if lengths else 0,
        "answer_chars_max": max(lengths, default=0),
    }


def build_for(dataset: Path, answer_model: str) -> Path:
    """An index of the dataset's own articles (or of the bundled one), built with that model."""
    from qa.build import BuildOptions, build_index
    from qa.embed import Embedder
    from qa.evaluate import load_dataset
    from qa.ingest import bundled_corpus, load_documents

    docs = load_dataset(dataset).documents or load_documents([bundled_corpus()]).documents
    index_dir = tmpdir(f"quality-{answer_model}")
    build_index(docs, Embedder(answer_model=answer_model), index_dir, BuildOptions(incremental=False))
    return index_dir


def run(dataset: Path, limit: int | None) -> dict[str, Any]:
    """The product's metrics and the baseline's, over one dataset."""
    from qa.config import Settings
    from qa.evaluate import evaluate

    settings = Settings.from_env(env={})
    product = evaluate(dataset, replace(settings, index_dir=build_for(dataset, "auto")), limit=limit)
    plain = baseline(dataset, build_for(dataset, "none"))
    print(f"{dataset.name}: product {product['answer_hit']} / baseline {plain['answer_hit']}", flush=True)
    return {"dataset": dataset.name, "questions": product["questions"],
            "product": {k: product[k] for k in METRICS}, "baseline": plain}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    """One row per dataset and answerer."""
    rows = []
    for r in result["datasets"]:
        for who in ("product", "baseline"):
            m = r[who]
            rows.append([r["dataset"], who, *(m.get(k) for k in METRICS)])
    return table(["dataset", "answerer", *METRICS], rows)


def main() -> None:
    """Run every dataset found; print and write the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--newsqa", type=Path, default=SHARED_EVAL / "newsqa-dev-100.json")
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument("--limit", type=int, default=None, help="ask only the first N questions of each")
    args = p.parse_args()
    datasets = [
        args.newsqa,
        args.squad,
        ROOT / "tests/data/netflix_dev.jsonl",
        ROOT / "tests/data/netflix_dev_chat.jsonl",
    ]
    found = [d for d in datasets if d.exists()]
    for d in datasets:
        if not d.exists():
            print(f"[skip] no dataset at {d}")
    finish("answer_quality", {"datasets": [run(d, args.limit) for d in found]}, report)


if __name__ == "__main__":
    main()
