"""The corpora the benchmarks index and the questions they ask of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.paths import ROOT

SHARED_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_SQUAD = SHARED_EVAL / "squad2-dev-5articles.json"
SAMPLE_QUESTIONS = ROOT / "tests" / "data" / "netflix_dev.jsonl"


@dataclass
class Corpus:
    """Documents to index and questions to ask of them."""

    name: str
    documents: list[Any]
    questions: list[str]
    answers: list[tuple[str, ...]]


def sample_corpus() -> Corpus:
    """The bundled article and the development questions shipped with the tests."""
    from qa.evaluate import load_dataset
    from qa.ingest import bundled_corpus, load_documents

    docs = load_documents([bundled_corpus()]).documents
    ds = load_dataset(SAMPLE_QUESTIONS)
    items = [conv[0] for conv in ds.items]
    return Corpus("sample", docs, [i.question for i in items], [i.answers for i in items])


def squad_corpus(path: Path | None) -> Corpus | None:
    """The SQuAD 2.0 slice (documents and questions), or None with a message when it is absent."""
    path = path or DEFAULT_SQUAD
    if not path.exists():
        print(f"[skip] no SQuAD file at {path}: the SQuAD part is skipped (pass --squad PATH)")
        return None
    from qa.evaluate import load_dataset

    ds = load_dataset(path)
    items = [conv[0] for conv in ds.items]
    return Corpus("squad", ds.documents, [i.question for i in items], [i.answers for i in items])


def build(corpus: Corpus, embedder: Any, index_dir: Path) -> Any:
    """Build a fresh index of the corpus (no reuse of an earlier one)."""
    from qa.build import BuildOptions, build_index

    return build_index(corpus.documents, embedder, index_dir, BuildOptions(incremental=False))
