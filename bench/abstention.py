"""What each abstention rule costs and earns: answerable questions it refuses, unanswerable ones
it refuses, alone and all together, on a SQuAD 2.0 file (and, with --sweep, the low-score
threshold that would refuse each share of answerable questions).

    .venv/bin/python bench/abstention.py [--squad PATH] [--sweep]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import DEFAULT_SQUAD
from bench.paths import tmpdir
from bench.results import finish, table
from bench.stats import percentile


def verdicts(path: Path) -> list[dict[str, Any]]:
    """For each question: answerable or not, the best candidate's cosine, and each rule's verdict."""
    from qa.answer import WEIGHTS
    from qa.answer.abstain import refusals
    from qa.answer.candidates import score_sentences
    from qa.answer.score import rank_candidates, term_stats
    from qa.build import BuildOptions, build_index
    from qa.config import Settings
    from qa.embed import Embedder
    from qa.evaluate import load_dataset
    from qa.index import Index
    from qa.question import parse
    from qa.retrieve import retrieve

    settings = Settings.from_env(env={})
    data = load_dataset(path)
    embedder = Embedder.from_settings(settings)
    index_dir = tmpdir("abstention")
    build_index(data.documents, embedder, index_dir, BuildOptions(incremental=False))
    index = Index(index_dir)
    items = [conv[0] for conv in data.items]
    vectors = embedder.embed_queries([i.question for i in items])
    out = []
    for item, vector in zip(items, vectors, strict=True):
        question = parse(item.question)
        hits = retrieve(index, question, vector, settings.top_k)
        stats = term_stats(index, question)
        candidates = rank_candidates(score_sentences(index, question, vector, hits), question, stats)
        if not candidates:
            continue
        rules = refusals(index, question, candidates, stats, WEIGHTS.abstain_below)
        out.append({"answerable": item.answerable, "cosine": candidates[0].meaning, **rules})
    index.close()
    return out


RULES = ("low score", "unknown names", "unknown words", "typed")  # refusals()' keys


def refused(row: dict[str, Any]) -> bool:
    """Does any rule refuse the question?"""
    return any(row[k] for k in RULES)


def summarise(rows: list[dict[str, Any]], sweep: bool) -> dict[str, Any]:
    """Per rule and for all rules: how many answerable and unanswerable questions are refused."""
    ans = [r for r in rows if r["answerable"]]
    unans = [r for r in rows if not r["answerable"]]

    def rate(group: list[dict[str, Any]], fires: Any) -> float:
        return round(sum(bool(fires(r)) for r in group) / max(1, len(group)), 4)

    result: dict[str, Any] = {"answerable": len(ans), "unanswerable": len(unans), "rules": {}}
    for rule in RULES:
        result["rules"][rule] = (rate(ans, lambda r, k=rule: r[k]), rate(unans, lambda r, k=rule: r[k]))
    result["rules"]["all"] = (
        rate(ans, refused),
        rate(unans, refused),
    )
    if sweep:
        cos = [r["cosine"] for r in ans]
        result["sweep"] = []
        for percent in (1, 2, 3, 5, 8):  # the share of answerable questions the threshold refuses
            t = float(percentile(cos, percent))
            rows_t = [replace_low(r, t) for r in rows]
            result["sweep"].append({
                "threshold": round(t, 3),
                "answerable refused": rate([r for r in rows_t if r["answerable"]], refused),
                "unanswerable refused": rate([r for r in rows_t if not r["answerable"]], refused),
            })  # fmt: skip
    return result


def replace_low(row: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The row with the low-score rule at another threshold."""
    return {**row, "low score": row["cosine"] < threshold}


def report(result: dict[str, Any]) -> str:
    """Rules as rows: the share of answerable and of unanswerable questions each refuses."""
    rows = [[rule, a, u] for rule, (a, u) in result["rules"].items()]
    text = table(["rule", "answerable refused", "unanswerable refused"], rows)
    if "sweep" in result:
        text += "\n\n" + table(
            ["low-score threshold", "answerable refused (all rules)", "unanswerable refused (all rules)"],
            [[s["threshold"], s["answerable refused"], s["unanswerable refused"]] for s in result["sweep"]],
        )
    return text


def main() -> None:
    """Measure and print."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument("--sweep", action="store_true", help="also try other low-score thresholds")
    args = p.parse_args()
    if not args.squad.exists():
        sys.exit(f"no SQuAD 2.0 file at {args.squad} (pass --squad PATH)")
    finish("abstention", summarise(verdicts(args.squad), args.sweep), report)


if __name__ == "__main__":
    main()
