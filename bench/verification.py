"""Verification of generated answers (qa/llm/verify.py), measured: the share of supported claims it
keeps and of unsupported ones it drops, with the support threshold calibrated on other articles.

Claims are made from source sentences by fixed rules (bench/claims.py): a paraphrase of a sentence
against the passage around it (supported), and the same paraphrase with a number changed, a name
swapped, a negation added, or the paraphrase of the sentence just past the passage (unsupported).
Each is checked by the product's own `check` with the product's embedder, as /ask checks an LLM's
sentence against the passage it cites.

Calibration: SQuAD 1.1 training articles (../shared/train), never reported on: the threshold is
the one that gets most claims right there (kept + dropped shares). Reported: the SQuAD 2.0 dev
articles, the bundled Netflix article and NewsQA's dev stories (evaluation only), with the product's
score (cosine + half the claim's word share) and, for comparison, the cosine alone (each at the
threshold its own calibration gives).

    .venv/bin/python bench/verification.py [--newsqa-stories 40] [--calibration-articles 40]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.claims import KINDS, SUPPORTED, Case, cases
from bench.corpora import SHARED_EVAL
from bench.results import finish, table
from qa.chunk import split_sentences
from qa.llm.verify import SUPPORT_SCORE, WORDS_WEIGHT, Draft, Source, check
from qa.records import Sentence

TRAIN = SHARED_EVAL.parent / "train" / "squad-v1.1-train.jsonl.gz"
THRESHOLDS = [round(0.30 + 0.02 * i, 2) for i in range(51)]


def calibration_documents(articles: int) -> list[list[Sentence]]:
    """Paragraphs of the first `articles` SQuAD 1.1 training articles (8 paragraphs each)."""
    from qa.ingest.formats import make_document

    paragraphs: dict[str, list[str]] = defaultdict(list)
    with gzip.open(TRAIN, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            title, context = row["title"], row["context"]
            if title not in paragraphs and len(paragraphs) == articles:
                break
            if context not in paragraphs[title] and len(paragraphs[title]) < 8:
                paragraphs[title].append(context)
    docs = [make_document(f"train:{t}", t, "\n\n".join(ps)) for t, ps in paragraphs.items()]
    return [split_sentences(d) for d in docs]


def dev_documents(newsqa_stories: int) -> dict[str, list[list[Sentence]]]:
    """The reported sets: SQuAD 2.0 dev (5 articles), the Netflix sample, NewsQA dev stories."""
    from qa.evaluate import load_dataset
    from qa.ingest import bundled_corpus, load_documents

    squad = load_dataset(SHARED_EVAL / "squad2-dev-5articles.json").documents
    netflix = load_documents([bundled_corpus()]).documents
    newsqa = load_dataset(SHARED_EVAL / "newsqa-dev-100.json").documents[:newsqa_stories]
    return {
        "SQuAD 2.0 dev (5 articles)": [split_sentences(d) for d in squad],
        "Netflix sample": [split_sentences(d) for d in netflix],
        f"NewsQA dev ({newsqa_stories} stories)": [split_sentences(d) for d in newsqa],
    }


class Judge:
    """Embeds claims and passages with the product's embedder and checks each claim."""

    def __init__(self, embedder: Any, all_cases: Sequence[Case]) -> None:
        """Embed every sentence (as the index does) and every claim (as /ask does)."""
        texts = sorted({s.text for c in all_cases for s in c.passage})
        vectors = embedder.embed_documents(texts)
        self.sentence = dict(zip(texts, vectors, strict=True))
        claims = sorted({c.claim for c in all_cases})
        batches = [embedder.embed_queries(claims[i : i + 64]) for i in range(0, len(claims), 64)]
        self.claim = dict(zip(claims, np.concatenate(batches), strict=True))

    def supported(self, case: Case, threshold: float, words: float) -> bool:
        """Whether verification keeps the claim."""
        sources = [Source(1, s, self.sentence[s.text]) for s in case.passage]
        return check(Draft(case.claim, (1,)), self.claim[case.claim], sources, threshold, words).supported


def rates(
    judge: Judge, items: Sequence[Case], threshold: float, words: float = WORDS_WEIGHT
) -> dict[str, Any]:
    """Per kind: how many claims, and the share verification got right (kept or dropped)."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for c in items:
        kept = judge.supported(c, threshold, words)
        by_kind[c.kind].append(kept if c.kind in SUPPORTED else not kept)
    out = {k: _share(v) for k, v in by_kind.items()}
    out["supported"] = _share([x for k in SUPPORTED for x in by_kind.get(k, [])])
    out["unsupported"] = _share([x for k in KINDS for x in by_kind.get(k, [])])
    return out


def _share(right: Sequence[bool]) -> dict[str, Any]:
    return {"n": len(right), "right": round(sum(right) / max(1, len(right)), 4)}


def calibrate(judge: Judge, items: Sequence[Case], words: float) -> tuple[float, list[dict[str, Any]]]:
    """The threshold that gets most claims right, supported and unsupported weighed alike
    (kept + dropped shares; the lower threshold on a tie, since an LLM rewords more than these
    paraphrases do), and the sweep."""
    sweep = []
    for t in THRESHOLDS:
        r = rates(judge, items, t, words)
        sweep.append({"threshold": t, "kept": r["supported"]["right"], "dropped": r["unsupported"]["right"]})
    best = max(sweep, key=lambda row: (round(row["kept"] + row["dropped"], 3), -row["threshold"]))
    return float(best["threshold"]), sweep


def report_table(result: dict[str, Any]) -> str:
    """Kept and dropped shares per set and kind, with the product's score and the cosine alone."""
    rows = []
    for name, by_score in result["sets"].items():
        for score, r in by_score.items():
            rows.append(
                [name, score, *(_cell(r, k) for k in (*SUPPORTED, "supported", *KINDS, "unsupported"))]
            )
    head = ["set", "score", *(f"{k} kept" for k in (*SUPPORTED, "all supported"))]
    head += [*(f"{k} dropped" for k in (*KINDS, "all unsupported"))]
    p = result["product"]
    lines = [
        f"product: cosine + {p['words_weight']} x word share >= {p['threshold']} "
        f"(calibrated: {p['calibrated']}); cosine alone >= {result['cosine_alone']['calibrated']}; "
        f"paraphrases change {result['changed_share']:.0%} of a sentence's words on average",
        "",
        table(head, rows),
    ]
    return "\n".join(lines)


def _cell(rates_: dict[str, Any], kind: str) -> str:
    r = rates_.get(kind)
    return f"{r['right']:.3f} ({r['n']})" if r else "–"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the claims, calibrate on the training articles, report on the dev sets."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--newsqa-stories", type=int, default=40)
    parser.add_argument("--calibration-articles", type=int, default=40)
    args = parser.parse_args(argv)
    from qa.embed import Embedder

    calibration = [c for doc in calibration_documents(args.calibration_articles) for c in cases(doc)]
    dev = {
        name: [c for doc in docs for c in cases(doc)]
        for name, docs in dev_documents(args.newsqa_stories).items()
    }
    every = calibration + [c for items in dev.values() for c in items]
    judge = Judge(Embedder(), every)
    calibrated, sweep = calibrate(judge, calibration, WORDS_WEIGHT)
    alone, alone_sweep = calibrate(judge, calibration, 0.0)
    scores = {"product": (SUPPORT_SCORE, WORDS_WEIGHT), "cosine alone": (alone, 0.0)}
    para = [c.changed for items in dev.values() for c in items if c.kind in SUPPORTED]
    result = {
        "product": {"threshold": SUPPORT_SCORE, "words_weight": WORDS_WEIGHT, "calibrated": calibrated},
        "cosine_alone": {"calibrated": alone},
        "calibration": {
            "set": f"SQuAD 1.1 train, {args.calibration_articles} articles",
            "product": rates(judge, calibration, SUPPORT_SCORE),
            "sweep": sweep,
            "sweep_cosine_alone": alone_sweep,
        },
        "changed_share": round(float(np.mean(para)), 4) if para else 0.0,
        "sets": {
            name: {score: rates(judge, items, t, w) for score, (t, w) in scores.items()}
            for name, items in dev.items()
        },
    }
    finish("verification", result, report_table)
    if calibrated != SUPPORT_SCORE:
        print(f"\nnote: the calibration gives {calibrated}; qa/llm/verify.py has {SUPPORT_SCORE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
