"""`qa eval`: ask every question of a dataset through the /ask code path and measure the answers."""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.build import BuildOptions, build_index
from qa.config import Settings
from qa.errors import BadInput
from qa.ingest import make_document
from qa.pipeline import QA
from qa.records import Answer, Document, Hit, Turn


@dataclass(frozen=True)
class Item:
    """One question to ask: expected answers (empty when unanswerable) and earlier turns."""

    question: str
    answers: tuple[str, ...]
    answerable: bool = True
    conversation: int | None = None
    turn: int = 0


@dataclass
class Dataset:
    """Questions, and the documents to index when the dataset brings its own articles."""

    items: list[list[Item]]  # conversations; a single question is a conversation of one turn
    documents: list[Document] = field(default_factory=list)


def normalise(text: str) -> str:
    """Case, Unicode quotes and whitespace folded, so matching ignores typography."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-")):
        text = text.replace(a, b)
    return " ".join(text.lower().split())


def contains_any(haystack: str, needles: tuple[str, ...]) -> bool:
    """Does any expected string occur inside the text (after normalisation)?"""
    h = normalise(haystack)
    return any(normalise(n) in h for n in needles if n.strip())


def load_dataset(path: Path) -> Dataset:
    """Read a SQuAD 2.0 JSON or a JSONL of questions and conversations."""
    if not path.exists():
        raise BadInput(f"no dataset at {path}")
    try:
        if path.suffix.lower() == ".json":
            return _load_squad(json.loads(path.read_text(encoding="utf-8")), path)
        return _load_jsonl(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path} is not a SQuAD 2.0 JSON or a questions JSONL: {exc}") from None


def _load_squad(data: dict[str, Any], path: Path) -> Dataset:
    docs: list[Document] = []
    convs: list[list[Item]] = []
    for article in data["data"]:
        title = article["title"].replace("_", " ")
        body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        docs.append(make_document(f"squad:{article['title']}", title, body))
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                convs.append([Item(qa["question"], answers, not impossible and bool(answers))])
    return Dataset(convs, docs)


def _load_jsonl(path: Path) -> Dataset:
    convs: list[list[Item]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        turns = row.get("turns", [row])
        conv = []
        for t, turn in enumerate(turns):
            answerable = turn.get("answerable", True) is not False
            answers = tuple(turn.get("answers", ()))
            if answerable and not answers:
                raise ValueError(f"line {n}: an answerable question needs 'answers'")
            conv.append(Item(turn["question"], answers, answerable, n if "turns" in row else None, t))
        convs.append(conv)
    return Dataset(convs)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def evaluate(
    dataset_path: Path,
    settings: Settings,
    index_dir: Path | None = None,
    limit: int | None = None,
    progress: bool = False,
    qa: QA | None = None,
) -> dict[str, Any]:
    """Run the dataset and return the metrics (see `format_report`)."""
    data = load_dataset(dataset_path)
    convs = data.items[:limit] if limit else data.items
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        if qa is None:
            if data.documents and index_dir is None:
                from qa.embed import Embedder

                embedder = Embedder.from_settings(settings)
                build_index(data.documents, embedder, Path(tmp), BuildOptions.from_settings(settings))
                qa = QA(replace(settings, index_dir=Path(tmp)), embedder)
            else:
                qa = QA(replace(settings, index_dir=index_dir or settings.index_dir))
        rows = _run(qa, convs, progress)
    return _metrics(dataset_path, rows)


def _run(qa: QA, convs: list[list[Item]], progress: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    total = sum(len(c) for c in convs)
    for conv in convs:
        history: list[Turn] = []
        for item in conv:
            answer, hits = qa.run(item.question, history, None)
            rows.append(_score(item, answer, hits))
            history += [Turn("user", item.question), Turn("assistant", answer.answer)]
            if progress and len(rows) % 50 == 0:
                print(f"  {len(rows)}/{total} questions", file=sys.stderr)
    return rows


def _score(item: Item, answer: Answer, hits: list[Hit]) -> dict[str, Any]:
    text = re.sub(r"\s*\[\d+\]", "", answer.answer)
    row: dict[str, Any] = {
        "question": item.question,
        "answerable": item.answerable,
        "turn": item.turn,
        "abstained": answer.abstained,
        "answer": answer.answer,
        "chars": len(text),
        "ms": answer.timings_ms.get("total", 0.0),
    }
    if item.answerable:
        row["expected"] = list(item.answers)
        row["answer_hit"] = not answer.abstained and contains_any(text, item.answers)
        row["citation_hit"] = not answer.abstained and any(
            contains_any(c.text, item.answers) for c in answer.citations
        )
        row["hit_at_1"] = any(contains_any(h.chunk.text, item.answers) for h in hits[:1])
        row["hit_at_5"] = any(contains_any(h.chunk.text, item.answers) for h in hits[:5])
    return row


def _metrics(path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    unans = [r for r in rows if not r["answerable"]]
    follow = [r for r in ans if r["turn"] > 0]
    lengths = [float(r["chars"]) for r in rows if not r["abstained"]]
    ms = [float(r["ms"]) for r in rows]
    return {
        "dataset": str(path),
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(unans),
        "answer_hit": _rate(sum(r["answer_hit"] for r in ans), len(ans)),
        "citation_hit": _rate(sum(r["citation_hit"] for r in ans), len(ans)),
        "retrieval_hit_at_1": _rate(sum(r["hit_at_1"] for r in ans), len(ans)),
        "retrieval_hit_at_5": _rate(sum(r["hit_at_5"] for r in ans), len(ans)),
        "abstention": _rate(sum(r["abstained"] for r in unans), len(unans)),
        "false_abstention": _rate(sum(r["abstained"] for r in ans), len(ans)),
        "follow_up_hit": _rate(sum(r["answer_hit"] for r in follow), len(follow)),
        "answer_chars_median": statistics.median(lengths) if lengths else 0,
        "answer_chars_p95": _pct(lengths, 0.95),
        "answer_chars_max": max(lengths, default=0),
        "latency_ms_p50": round(_pct(ms, 0.5), 2),
        "latency_ms_p95": round(_pct(ms, 0.95), 2),
        "failures": [
            {k: r[k] for k in ("question", "expected", "answer", "abstained")}
            for r in ans
            if not r["answer_hit"]
        ]
        + [{"question": r["question"], "answer": r["answer"]} for r in unans if not r["abstained"]],
    }


def format_report(m: dict[str, Any]) -> str:
    """The metrics as a table for people."""

    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.3f}" if isinstance(v, float) and v <= 1 else str(v)

    lines = [
        f"Dataset: {m['dataset']}",
        f"Questions: {m['questions']} ({m['answerable']} answerable, {m['unanswerable']} unanswerable)",
        "",
        f"{'metric':<28}{'value':>10}",
        f"{'-' * 28}{'-' * 10}",
    ]
    rows = [
        ("answer hit", m["answer_hit"]),
        ("citation hit", m["citation_hit"]),
        ("retrieval hit@1", m["retrieval_hit_at_1"]),
        ("retrieval hit@5", m["retrieval_hit_at_5"]),
        ("abstention (unanswerable)", m["abstention"]),
        ("false abstention", m["false_abstention"]),
        ("follow-up hit", m["follow_up_hit"]),
        ("answer chars median", m["answer_chars_median"]),
        ("answer chars p95", m["answer_chars_p95"]),
        ("answer chars max", m["answer_chars_max"]),
        ("latency ms p50", m["latency_ms_p50"]),
        ("latency ms p95", m["latency_ms_p95"]),
    ]
    for name, value in rows:
        if value is not None:
            lines.append(f"{name:<28}{f(value):>10}")
    return "\n".join(lines)
