"""The threshold of syndicated-copy folding (qa/dedupe.py), measured: the Jaccard similarity of
word 5-grams between a story and re-posts of it, against that between different stories.

Different stories: every pair of NewsQA's CNN stories (real news, many on shared subjects), and
each story as a template would produce another one: the same words with every number changed
(results, earnings, weather reports).
Re-posts: each story as another site would run it: its lead paragraph dropped, a wire byline and
a copyright line added, a share of its words changed (not its numbers; deterministic edits).

    .venv/bin/python bench/syndication.py [--newsqa PATH]
"""

from __future__ import annotations

import argparse
import random
import re
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
        paragraphs = [" ".join(_edit(w, share, rng) for w in p.split()) for p in paragraphs]
    return "\n".join(paragraphs)


def _edit(word: str, share: float, rng: random.Random) -> str:
    """The word, or (with probability `share`, numbers never) another one."""
    return word if any(c.isdigit() for c in word) or rng.random() > share else "changed"


def templated(text: str) -> str:
    """The same story with every number changed: another article from the same template."""
    return re.sub(r"\d+", lambda m: str(int(m.group(0)) + 1), text)


def measure(path: Path) -> dict[str, Any]:
    """Similarities of re-posts (per edit) and of different stories."""
    from qa.dedupe import COPY_THRESHOLD, jaccard, same_story
    from qa.evaluate import load_dataset

    stories = [d.text for d in load_dataset(path).documents]
    rng = random.Random(7)
    posts = {edit: [repost(s, edit, rng) for s in stories] for edit in EDITS}
    copies = {e: [jaccard(s, p) for s, p in zip(stories, v, strict=True)] for e, v in posts.items()}
    different = [jaccard(a, b) for a, b in combinations(stories, 2)]
    numbered = [s for s in stories if re.search(r"\d", s)]
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
        "missed_reposts": sum(
            not same_story(s, p) for v in posts.values() for s, p in zip(stories, v, strict=True)
        ),
        "false_copies": sum(same_story(a, b) for a, b in combinations(stories, 2)),
        "templated": {"stories": len(numbered), "folded": sum(same_story(s, templated(s)) for s in numbered)},
    }


def report(result: dict[str, Any]) -> str:
    """The table of similarities."""
    rows = [[f"re-post: {e}", r["min"], r["p5"]] for e, r in result["reposts"].items()]
    d = result["different"]
    rows.append([f"different stories ({d['pairs']} pairs)", f"max {d['max']}", f"p99 {d['p99']}"])
    t = result["templated"]
    return (
        table(["pair", "min (or max)", "p5 (or p99)"], rows)
        + f"\nthreshold {result['threshold']} and the same numbers: {result['missed_reposts']} re-posts "
        f"missed, {result['false_copies']} different stories folded, {t['folded']} of {t['stories']} "
        "templated stories (numbers changed) folded"
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
