"""Every answer on the dev sets, written to a JSON file, and two such files compared: to show that
a change of code (a refactor) leaves the answers as they were.

    .venv/bin/python bench/answers.py dump OUT.json [--eval ../shared/eval]
    .venv/bin/python bench/answers.py compare BEFORE.json AFTER.json

Each answer is kept with its text and its citations' offsets. Run `dump` on the code before and
after the change (e.g. in a `git worktree` of the earlier commit, with PYTHONPATH set to it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpora import SHARED_EVAL
from bench.paths import tmpdir

DATASETS = ("squad2-dev-5articles.json", "netflix_dev.jsonl", "netflix_dev_chat.jsonl", "newsqa-dev-100.json")


def dump(eval_dir: Path) -> dict[str, list[Any]]:
    """[question, answer, citation spans] for every question of every dataset found."""
    from qa.build import build_index
    from qa.config import Settings
    from qa.embed import Embedder
    from qa.evaluate import load_dataset
    from qa.ingest import bundled_corpus, load_documents
    from qa.pipeline import QA
    from qa.records import Turn

    embedder = Embedder()
    out: dict[str, list[Any]] = {}
    for name in DATASETS:
        if not (eval_dir / name).exists():
            continue
        data = load_dataset(eval_dir / name)
        index_dir = tmpdir("answers")
        build_index(data.documents or load_documents([bundled_corpus()]).documents, embedder, index_dir)
        qa = QA(Settings.from_env(env={}, index_dir=index_dir), embedder)
        rows = out.setdefault(name, [])
        for conversation in data.items:
            history: list[Turn] = []
            for item in conversation:
                a = qa.ask(item.question, history)
                rows.append([item.question, a.answer, [[c.start, c.end] for c in a.citations]])
                history += [Turn("user", item.question), Turn("assistant", a.answer)]
    return out


def compare(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> int:
    """Print how many answers are the same per dataset, and the first few that differ."""
    changed = 0
    for name, rows in before.items():
        other = after.get(name, [])
        same = sum(x == y for x, y in zip(rows, other, strict=False))
        changed += len(rows) - same
        print(f"{name}: {same} of {len(rows)} answers the same")
        for x, y in [(x, y) for x, y in zip(rows, other, strict=False) if x != y][:3]:
            print(f"  {x[0]!r}\n    before: {x[1][:120]!r}\n    after:  {y[1][:120]!r}")
    return 1 if changed else 0


def main() -> int:
    """dump or compare."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="write every answer of the dev sets to OUT")
    d.add_argument("out", type=Path)
    d.add_argument("--eval", type=Path, default=SHARED_EVAL)
    c = sub.add_parser("compare", help="compare two dumps; exit 1 when any answer differs")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        args.out.write_text(json.dumps(dump(args.eval), ensure_ascii=False))
        print(f"wrote {args.out}")
        return 0
    return compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))


if __name__ == "__main__":
    sys.exit(main())
