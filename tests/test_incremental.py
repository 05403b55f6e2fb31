"""Incremental indexing: only changed documents are embedded, removed ones are dropped, and the
result answers exactly like a full build of the same corpus (with the real model)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FakeEncoder

import qa.embed
import qa.embed.load
from qa import QA, Settings
from qa.build import BuildOptions, build_index, split_document, update_index
from qa.cli import main
from qa.embed import Embedder
from qa.index import Index, current_generation
from qa.ingest import bundled_corpus, load_documents

REAL_FROM_SETTINGS = qa.embed.Embedder.from_settings


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


ARTICLES = {
    "otters.txt": "River Otter Census\nVolunteers counted 412 river otters along the Tamar estuary this "
    "spring. The census, run by the Devon Wildlife Trust, has grown every year since 2015. Officials "
    "credit cleaner water for the rise.\n",
    "bridge.txt": "Harbour Bridge Reopens\nThe Harbour Bridge in Portmere reopened on Tuesday after an "
    "18-month repair costing 42 million pounds. Engineers replaced 300 steel cables. Traffic is "
    "expected to return to normal by March.\n",
    "festival.txt": "Jazz Festival Moves Indoors\nOrganisers of the Lakeside Jazz Festival moved all 40 "
    "concerts indoors because of forecast storms. The festival sold 12,000 tickets this year.\n",
}
BRIDGE_CHANGED = (
    "Harbour Bridge Reopens\nThe Harbour Bridge in Portmere reopened on Wednesday after a 20-month "
    "repair costing 45 million pounds. Engineers replaced 320 steel cables and repainted the towers. "
    "Traffic is expected to return to normal by April.\n"
)
LIBRARY = (
    "City Library Extends Hours\nThe Portmere city library will open until 10 pm on weekdays from "
    "June. The council approved 1.2 million pounds for extra staff. Librarian Ada Moss said "
    "students had asked for longer hours.\n"
)


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "netflix.txt").write_text((bundled_corpus() / "netflix-generative-ai.txt").read_text())
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    return folder


def edit_corpus(folder: Path) -> None:
    """One changed, one deleted, one new, one (the Netflix article) untouched."""
    (folder / "bridge.txt").write_text(BRIDGE_CHANGED)
    (folder / "festival.txt").unlink()
    (folder / "library.txt").write_text(LIBRARY)


# --- with the fake embedder -------------------------------------------------------------------


def test_unchanged_corpus_embeds_nothing(
    tmp_path: Path, fake_embedder: Embedder, fake_encoder: FakeEncoder
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    first = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (first.embedded_documents, first.reused_documents) == (4, 0)
    fake_encoder.calls.clear()
    again = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (again.embedded_documents, again.reused_documents, again.removed_documents) == (0, 4, 0)
    assert fake_encoder.calls == [], "no text was embedded"
    old, new = (tmp_path / "index" / g for g in (first.generation, again.generation))
    for name in ("chunk_vectors.npy", "sentence_vectors.npy"):
        assert np.array_equal(np.load(old / name), np.load(new / name)), name


def test_changed_file_alone_is_embedded_and_deleted_file_dropped(
    tmp_path: Path, fake_embedder: Embedder, fake_encoder: FakeEncoder
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    edit_corpus(corpus)
    fake_encoder.calls.clear()
    report = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (report.embedded_documents, report.reused_documents, report.removed_documents) == (2, 2, 1)
    new_titles = ("Harbour Bridge Reopens", "City Library Extends Hours")
    changed = [d for d in load_documents([corpus]).documents if d.title in new_titles]

    splits = [split_document(d, 256, fake_embedder) for d in changed]
    expected = sum(len(s.chunk_texts) + len(s.sentence_texts) for s in splits)
    assert sum(fake_encoder.calls) == expected, "only the changed and the new article were embedded"
    titles = sorted(d.title for d in Index(index_dir).documents.values())
    assert "Jazz Festival Moves Indoors" not in titles and "City Library Extends Hours" in titles


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("QA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *args, **kwargs: Embedder(FakeEncoder()))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_add_replaces_a_changed_file_and_remove_drops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: None
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index_dir = str(tmp_path / "index")
    assert run(capsys, "index", str(corpus), "--index-dir", index_dir, "-q")[0] == 0
    (corpus / "bridge.txt").write_text(BRIDGE_CHANGED)
    code, out, _ = run(capsys, "index", "--add", str(corpus / "bridge.txt"), "--index-dir", index_dir, "-q")
    assert code == 0
    assert "Indexed 4 document(s)" in out and "(embedded 1, reused 3, removed 0)" in out
    code, out, _ = run(
        capsys, "index", "--remove", str(corpus / "festival.txt"), "--remove", str(corpus / "otters.txt"),
        "--index-dir", index_dir, "-q",
    )  # fmt: skip
    assert code == 0
    assert "Indexed 2 document(s)" in out and "(embedded 0, reused 2, removed 2)" in out
    code, out, _ = run(capsys, "index", "--remove", str(corpus), "--index-dir", index_dir, "-q")
    assert code == 1  # removing everything would leave nothing to serve
    assert len(Index(Path(index_dir)).documents) == 2


def test_cli_remove_unknown_source_fails_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: None
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    assert run(capsys, "index", str(corpus), "--index-dir", str(index_dir), "-q")[0] == 0
    gen = current_generation(index_dir)
    assert gen is not None
    before = tree_digest(gen)
    listing = sorted(p.name for p in index_dir.iterdir())
    code, out, err = run(
        capsys, "index", "--remove", str(corpus / "otters.txt"), "--remove", "no/such/article.txt",
        "--index-dir", str(index_dir), "-q",
    )  # fmt: skip
    assert code == 1
    assert out == ""
    assert err == (
        "qa: error: no indexed document has source 'no/such/article.txt'; nothing was changed "
        "(sources are listed by `qa ask --json` and in the index manifest)\n"
    )
    assert current_generation(index_dir) == gen and tree_digest(gen) == before
    assert sorted(p.name for p in index_dir.iterdir()) == listing
    assert len(Index(index_dir).documents) == 4  # otters.txt too: all or nothing


def test_cli_add_with_paths_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: None
) -> None:
    code, _, err = run(capsys, "index", "a.txt", "--add", "b.txt", "--index-dir", str(tmp_path / "i"))
    assert code == 1
    assert (
        "--add and --remove update the existing index; don't combine them with PATH, --feed or --full" in err
    )


def test_remove_a_jsonl_file_drops_its_articles(tmp_path: Path, fake_embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"title": "Alpha", "text": "The alpha river flooded the valley."}) + "\n"
        + json.dumps({"title": "Beta", "text": "The beta mountain was climbed."}) + "\n"
    )  # fmt: skip
    build_index(load_documents([feed, bundled_corpus()]).documents, fake_embedder, index_dir)
    assert len(Index(index_dir).documents) == 3
    report = update_index(fake_embedder, index_dir, remove=[str(feed)])
    assert report.removed_documents == 2
    assert [d.title for d in Index(index_dir).documents.values()] == [
        "Netflix and Generative AI: A Bold Move in Entertainment"
    ]


# --- with the real model: incremental == full --------------------------------------------------

QUESTIONS = [
    "How much was Netflix's quarterly revenue?",
    "What did Sarandos say about Sora?",
    "How much did the Harbour Bridge repair cost?",
    "How many steel cables did engineers replace?",
    "How many river otters did volunteers count?",
    "Until when will the city library open on weekdays?",
    "How many tickets did the jazz festival sell?",  # deleted article: must abstain in both
    "Who urged OpenAI to implement stronger protections?",
]


def answer_key(data: dict[str, Any]) -> dict[str, Any]:
    """Everything an answer says, with scores kept separately (see the test's docstring)."""
    return {
        "answer": data["answer"],
        "abstained": data["abstained"],
        "citations": [{k: v for k, v in c.items() if k != "score"} for c in data["citations"]],
    }


@pytest.mark.slow
def test_incremental_build_answers_exactly_like_a_full_build(tmp_path: Path, real_embedder: Any) -> None:
    """Reused documents keep their stored vectors bit for bit. Documents embedded in a batch of
    different composition can differ in the last float bit (about 1e-7: padding and batch size
    change the order of the sums), so answers, citations and offsets must be identical and
    citation scores (rounded to 4 places) equal within one unit of the last place. With bfloat16
    matrix products (the default on CPUs that have them) every layer rounds to 8 bits of mantissa,
    so those differences grow to about 1e-3, and the tolerances with them."""
    corpus = make_corpus(tmp_path / "corpus")
    inc_dir, full_dir = tmp_path / "incremental", tmp_path / "full"
    build_index(load_documents([corpus]).documents, real_embedder, inc_dir)
    edit_corpus(corpus)
    docs = load_documents([corpus]).documents
    inc = build_index(docs, real_embedder, inc_dir)
    full = build_index(docs, real_embedder, full_dir, BuildOptions(incremental=False))
    assert (inc.embedded_documents, inc.reused_documents, inc.removed_documents) == (2, 2, 1)
    assert (full.embedded_documents, full.reused_documents) == (4, 0)
    assert (inc.documents, inc.chunks, inc.sentences) == (full.documents, full.chunks, full.sentences)

    vector_tolerance, score_tolerance = (
        (1e-5, 1.5e-4) if real_embedder.precision == "float32" else (3e-3, 2e-3)
    )
    a, b = Index(inc_dir), Index(full_dir)
    assert list(a.documents) == list(b.documents)
    for name in ("chunk_vectors", "sentence_vectors"):
        va, vb = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert va.shape == vb.shape
        assert float(np.abs(va - vb).max()) < vector_tolerance, name

    qa_inc = QA(Settings.from_env(env={}, index_dir=inc_dir), real_embedder)
    qa_full = QA(Settings.from_env(env={}, index_dir=full_dir), real_embedder)
    answered = 0
    for question in QUESTIONS:
        x, y = qa_inc.ask(question).to_dict(), qa_full.ask(question).to_dict()
        assert answer_key(x) == answer_key(y), question
        for cx, cy in zip(x["citations"], y["citations"], strict=True):
            assert abs(cx["score"] - cy["score"]) <= score_tolerance, question
        assert abs(x["support"] - y["support"]) <= score_tolerance, question
        answered += not x["abstained"]
    assert answered >= 5
    festival = qa_inc.ask("How many tickets did the jazz festival sell?")
    assert "12,000" not in festival.answer


def test_cli_add_without_an_index_says_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: None
) -> None:
    index_dir = tmp_path / "never-built"
    code, _, err = run(capsys, "index", "--add", str(bundled_corpus()), "--index-dir", str(index_dir))
    assert code == 1
    assert err.startswith(f"qa: error: no index in {index_dir}/. Build one with: qa index")
    assert not index_dir.exists(), "nothing was created"


def test_cli_unchanged_corpus_skips_the_model_and_keeps_the_generation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_EMBED_MODEL", Embedder(FakeEncoder()).name)  # the model the index is built with
    corpus = make_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    assert run(capsys, "index", str(corpus), "--index-dir", str(index_dir), "-q")[0] == 0
    gen = current_generation(index_dir)

    def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model was loaded")

    # The real embedder of the settings, whose model would load on first use: it never does.
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", REAL_FROM_SETTINGS)
    monkeypatch.setattr(qa.embed.load, "load_encoder", no_model)
    code, out, _ = run(capsys, "index", str(corpus), "--index-dir", str(index_dir), "-q")
    assert code == 0
    assert out.startswith("Indexed 4 document(s)") and "(embedded 0, reused 4, removed 0)" in out
    assert current_generation(index_dir) == gen, "no identical generation was written"

    # Anything else goes through a real build: an edit, another order, --full, a damaged index.
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *args, **kwargs: Embedder(FakeEncoder()))
    files = [str(f) for f in sorted(corpus.iterdir(), reverse=True)]
    code, out, _ = run(capsys, "index", *files, "--index-dir", str(index_dir), "-q")
    assert "(embedded 0, reused 4, removed 0)" in out and current_generation(index_dir) != gen
    code, out, _ = run(
        capsys, "index", *map(str, reversed(files)), "--full", "--index-dir", str(index_dir), "-q"
    )
    assert "(embedded 4, reused 0, removed 0)" in out
    live = current_generation(index_dir)
    assert live is not None
    (live / "chunks.faiss").write_bytes(b"garbage")
    code, out, _ = run(capsys, "index", *files, "--index-dir", str(index_dir), "-q")
    assert code == 0 and "(embedded 4, reused 0, removed 0)" in out
    assert len(Index(index_dir).documents) == 4
