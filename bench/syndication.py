"""The threshold of syndicated-copy folding (qa/dedupe.py), measured: the Jaccard similarity of
word 5-grams between a story and re-posts of it, against that between different stories.

Different stories: every pair of NewsQA's CNN stories (real news, many on shared subjects).
Re-posts: each story as another site would run it: its lead paragraph rewritten or dropped, a
wire byline and a copyright line added, a share of its words changed (deterministic edits).

    .venv/bin/python bench/syndication.py [--newsqa PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import SHARED_EVAL
from bench.results import finish, table
from bench.stats import percentile

EDITS = ("drop lead", "byline + copyright", "5% words changed", "10% words changed", "all of them")


def repost(text: str, edit: str, rng: random.Random) -> str:
    """The story as another site might publish it."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if edit in ("drop lead", "all of them") and len(paragraphs) > 2:
        paragraphs = paragraphs[1:]
    if edit in ("byline + copyright", "all of them"):
        paragraphs = [
            "LONDON (Wire) -- " + paragraphs[0],
            *paragraphs[1:],
            "Copyright 2024 Wire. All rights reserved.",
        ]
    share = {"5% words changed": 0.05, "10% words changed": 0.10, "all of them": 0.05}.get(edit, 0.0)
    if share:
        paragraphs = [
            " ".join(w if rng.random() > share else "changed" for w in p.split()) for p in paragraphs
        ]
    return "\n".join(paragraphs)


def measure(path: Path) -> dict[str, Any]:
    """Similarities of re-posts (per edit) and of different stories."""
    from qa.dedupe import COPY_THRESHOLD, jaccard
    from qa.evaluate import load_dataset

    stories = [d.text for d in load_dataset(path).documents]
    rng = random.Random(7)
    copies = {edit: [jaccard(s, repost(s, edit, rng)) for s in stories] for edit in EDITS}
    different = [jaccard(a, b) for a, b in combinations(stories, 2)]
    return {
        "stories": len(stories),
        "threshold": COPY_THRESHOLD,
        "reposts": {
            e: {"min": round(min(v), 3), "p5": round(percentile(v, 5), 3)} for e, v in copies.items()
        },
        "different": {
            "pairs": len(different),
            "max": round(max(different), 3),
            "p99": round(percentile(different, 99), 3),
        },
        "missed_reposts": sum(x < COPY_THRESHOLD for v in copies.values() for x in v),
        "false_copies": sum(x >= COPY_THRESHOLD for x in different),
    }


def report(result: dict[str, Any]) -> str:
    """The table of similarities."""
    rows = [[f"re-post: {e}", r["min"], r["p5"]] for e, r in result["reposts"].items()]
    d = result["different"]
    rows.append([f"different stories ({d['pairs']} pairs)", f"max {d['max']}", f"p99 {d['p99']}"])
    return (
        table(["pair", "min (or max)", "p5 (or p99)"], rows)
        + f"\nthreshold {result['threshold']}: {result['missed_reposts']} re-posts missed, "
        f"{result['false_copies']} different stories folded"
    )


def main() -> int:
    """Measure and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--newsqa", type=Path, default=SHARED_EVAL / "newsqa-dev-100.json")
    args = parser.parse_args()
    if not args.newsqa.exists():
        print(f"skipped: {args.newsqa} not found")
        return 0
    finish("syndication", measure(args.newsqa), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
