"""`qa index --ray` on a real two-node Ray cluster on this machine (bench/ray_cluster.py), with the real
model: the same index and answers as a local build, incremental, a killed worker, a cluster that is
missing or goes away; and the compressed dense index trained and added on the cluster, the same file
as a local build's. Needs the ray extra (make test-ray)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="needs the ray extra: pip install -e '.[ray]' (make test-ray)")

from conftest import FakeEncoder

import qa.cli
import qa.embed
import qa.index.write
from bench.ray_cluster import LocalCluster
from qa import QA, Settings
from qa.build import BuildOptions, build_index
from qa.cli import main
from qa.distributed import RayEmbedder, RayIndexBuilder
from qa.embed import Embedder
from qa.errors import DistributedUnavailable
from qa.evaluate import load_dataset
from qa.index import Index, current_generation
from qa.ingest import load_documents

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
# The SQuAD dev articles of the issue (../shared/eval), else the two of them the tests ship.
SQUAD = next(
    p
    for p in (
        ROOT.parent / "shared" / "eval" / "squad2-dev-5articles.json",
        ROOT / "tests/data/squad2-dev-slice.json",
    )
    if p.exists()
)
ARTICLES = ("Sky_(United_Kingdom)", "Victoria_(Australia)")  # the two shortest: ~600 texts
QUESTIONS = 120  # of theirs, asked of both indexes
BATCH = 16  # texts per model call; a Ray block is 4 of them, so the job has blocks for both nodes


def squad_subset(folder: Path, titles: tuple[str, ...]) -> tuple[Path, list[str]]:
    """The articles as a .jsonl corpus for `qa index`, and their questions."""
    data = json.loads(SQUAD.read_text())
    subset = {
        "version": data.get("version", "v2.0"),
        "data": [a for a in data["data"] if a["title"] in titles],
    }
    (folder / "subset.json").write_text(json.dumps(subset))
    dataset = load_dataset(folder / "subset.json")
    lines = [json.dumps({"title": d.title, "text": d.text}) for d in dataset.documents]
    corpus = folder / "corpus" / "articles.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text("\n".join(lines) + "\n")
    return corpus, [conv[0].question for conv in dataset.items][:QUESTIONS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(nodes=2, cpus=1) as c:
        yield c


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder, tmp_path: Path) -> None:
    """Default settings but the batch size; the session's model for splitting and local builds."""
    for name in [n for n in os.environ if n.startswith("QA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QA_EMBED_BATCH_SIZE", str(BATCH))
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *a, **k: real_embedder)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a failed build leaves Ray's log


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    return squad_subset(tmp_path_factory.mktemp("squad"), ARTICLES)


@pytest.fixture(scope="module")
def local_index(corpus: tuple[Path, list[str]], real_embedder: Embedder, tmp_path_factory: Any) -> Path:
    """The corpus built here, without Ray: what every Ray build is compared with."""
    index_dir = tmp_path_factory.mktemp("local") / "index"
    build_index(
        load_documents([corpus[0]]).documents, real_embedder, index_dir, BuildOptions(batch_size=BATCH)
    )
    return index_dir


def index_contents(index_dir: Path) -> tuple[list[Any], np.ndarray]:
    """Every document's id, hash, sentences and chunks (with offsets), and all vectors in order."""
    index = Index.open(index_dir)
    try:
        parts = [index.load_prepared(doc_id) for doc_id in index.documents]
    finally:
        index.close()
    records = [(p.document.doc_id, p.document.content_hash, p.sentences, p.chunks) for p in parts]
    vectors = np.concatenate([np.concatenate([p.chunk_vectors, p.sentence_vectors]) for p in parts])
    return records, vectors


def assert_same_index(built: Path, reference: Path) -> None:
    """Same documents, sentences and chunks with their offsets; vectors equal within float tolerance."""
    records, vectors = index_contents(built)
    want_records, want_vectors = index_contents(reference)
    assert records == want_records
    assert vectors.shape == want_vectors.shape
    np.testing.assert_allclose(vectors, want_vectors, atol=2e-3)
    assert float((vectors * want_vectors).sum(axis=1).min()) > 0.9999


def answers(index_dir: Path, questions: list[str], embedder: Embedder) -> list[tuple[Any, ...]]:
    """Each question's answer and the spans it cites."""
    qa_ = QA(Settings.from_env(env={}, index_dir=index_dir), embedder)
    out = []
    for q in questions:
        a = qa_.ask(q)
        out.append((a.answer, a.abstained, [(c.source, c.start, c.end) for c in a.citations]))
    return out


def tree_digest(index_dir: Path) -> dict[str, str]:
    """Every file under the index directory and its content hash."""
    return {
        str(p.relative_to(index_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index_dir.rglob("*"))
        if p.is_file()
    }


def test_ray_build_equals_the_local_build_and_answers_the_same(
    cluster: LocalCluster, corpus: tuple[Path, list[str]], local_index: Path, real_embedder: Embedder,
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    index_dir = tmp_path / "index"
    code = main(["index", str(corpus[0]), "--index-dir", str(index_dir), "--ray", cluster.address, "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    texts = len(index_contents(local_index)[1])
    assert "(embedded 2, reused 0, removed 0)" in out
    assert f"; embedded {texts} texts on 2 Ray nodes in " in out
    assert_same_index(index_dir, local_index)
    assert answers(index_dir, corpus[1], real_embedder) == answers(local_index, corpus[1], real_embedder)


def test_incremental_ray_build_embeds_only_the_new_and_changed_documents(
    cluster: LocalCluster, corpus: tuple[Path, list[str]], local_index: Path, real_embedder: Embedder,
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    index_dir = tmp_path / "index"
    shutil.copytree(local_index, index_dir)  # a local build is as good a previous index as any
    reference = tmp_path / "reference"
    original = corpus[0].read_text()
    try:  # edited in place: a document's id is its source, which must stay the same
        lines = original.splitlines()
        first = json.loads(lines[0])
        lines[0] = json.dumps({**first, "text": first["text"] + "\n\nThe channel was renamed in 2030."})
        lines.append(json.dumps({"title": "River Otter Census", "text": "Volunteers counted 412 otters."}))
        corpus[0].write_text("\n".join(lines) + "\n")
        code = main(["index", str(corpus[0]), "--index-dir", str(index_dir), "--ray", cluster.address, "-q"])
        docs = load_documents([corpus[0]]).documents
    finally:
        corpus[0].write_text(original)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(embedded 2, reused 1, removed 0)" in out
    shutil.copytree(local_index, reference)  # locally, incrementally: as a full build (test_incremental)
    build_index(docs, real_embedder, reference, BuildOptions(batch_size=BATCH))
    assert f"; embedded {texts_of_new_documents(reference, local_index)} texts on " in out
    assert_same_index(index_dir, reference)


def texts_of_new_documents(index_dir: Path, previous: Path) -> int:
    """Chunks and sentences of the documents of `index_dir` that `previous` doesn't hold as they are."""
    old, new = Index.open(previous), Index.open(index_dir)
    try:
        known = {(d, info.content_hash) for d, info in old.documents.items()}
        fresh = [
            new.load_prepared(d) for d, info in new.documents.items() if (d, info.content_hash) not in known
        ]
    finally:
        old.close()
        new.close()
    return sum(len(p.chunks) + len(p.sentences) for p in fresh)


def actor_processes(cluster: LocalCluster) -> list[int]:
    """The pids of the cluster's embedding actors (Ray names their processes ray::MapWorker(...))."""
    found = []
    for pids in cluster.node_pids().values():
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"MapWorker" in cmdline and b"EncodeBlock" in cmdline:
                found.append(pid)
    return found


def test_a_worker_killed_mid_build_is_retried_and_the_build_completes(
    cluster: LocalCluster, corpus: tuple[Path, list[str]], local_index: Path, real_embedder: Embedder,
    env: None, tmp_path: Path,
) -> None:  # fmt: skip
    killed: list[int] = []

    def kill_one_actor(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and not killed and 0 < done < total:  # a block is back, more to come
            victims = actor_processes(cluster)
            assert victims, "no embedding actor found to kill"
            os.kill(victims[0], signal.SIGKILL)
            killed.append(victims[0])

    embedder = RayEmbedder(cluster.address, Settings.from_env())
    index_dir = tmp_path / "index"
    docs = load_documents([corpus[0]]).documents
    report = build_index(docs, embedder, index_dir, BuildOptions(batch_size=BATCH), kill_one_actor)
    assert killed, "the build ended before an actor could be killed"
    assert report.documents == 2
    assert_same_index(index_dir, local_index)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_cluster_fails_fast_with_a_message_and_the_index_is_untouched(
    corpus: tuple[Path, list[str]], local_index: Path, env: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    index_dir = tmp_path / "index"
    shutil.copytree(local_index, index_dir)
    before, live = tree_digest(index_dir), current_generation(index_dir)
    changed = tmp_path / "corpus"
    changed.mkdir()
    (changed / "otters.txt").write_text("River Otter Census\nVolunteers counted 412 river otters.\n")
    address = f"127.0.0.1:{unused_port()}"
    code = main(["index", str(changed), "--index-dir", str(index_dir), "--ray", address, "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"the Ray build on {address} failed: no Ray cluster at {address}" in err
    assert "Nothing was written" in err and "ray start --head" in err
    assert current_generation(index_dir) == live
    assert tree_digest(index_dir) == before


def test_cluster_going_away_mid_build_fails_the_build_and_the_index_is_untouched(
    corpus: tuple[Path, list[str]], local_index: Path, env: None, tmp_path: Path,
) -> None:  # fmt: skip
    index_dir = tmp_path / "index"
    shutil.copytree(local_index, index_dir)
    before, live = tree_digest(index_dir), current_generation(index_dir)
    docs = load_documents([corpus[0]]).documents
    with LocalCluster(nodes=2, cpus=1) as doomed:

        def stop_cluster(stage: str, done: int, total: int) -> None:
            if stage == "embedding" and 0 < done < total:
                doomed.stop()

        embedder = RayEmbedder(doomed.address, Settings.from_env(), stall_timeout_s=120)
        options = BuildOptions(batch_size=BATCH, incremental=False)
        with pytest.raises(DistributedUnavailable, match=f"the Ray build on {doomed.address} failed") as e:
            build_index(docs, embedder, index_dir, options, stop_cluster)
    print(e.value.message)
    assert "Nothing was written" in e.value.message
    assert current_generation(index_dir) == live
    assert tree_digest(index_dir) == before


@pytest.fixture
def compressed_tier(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The compressed tier from 1,000 chunks on, added in blocks of 200 (6 blocks: work for both
    nodes); one FAISS thread here, as on the cluster's one-CPU nodes."""
    for name in [n for n in os.environ if n.startswith("QA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(qa.index.write, "PQ_THRESHOLD", 1_000)
    monkeypatch.setattr(qa.index.write, "PQ_ADD_BLOCK", 200)  # sent to the driver with the job
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a failed build leaves Ray's log
    # Training rounds differently with another number of threads (OPQ's and k-means' sums): the
    # file is the same as a local build's when both train with as many, here one.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def synthetic_corpus(folder: Path, documents: int = 1_100) -> Path:
    """A .jsonl of short reports of 25 made-up words: one chunk each, indexed in a second or two."""
    rng = np.random.default_rng(0)
    words = [
        a + b + c for a in ("ka", "lo", "mi", "nu", "po") for b in ("ban", "dor", "fel", "gim") for c in "aeo"
    ]
    lines = [
        json.dumps({"title": f"Report {i}", "text": " ".join(rng.choice(words, 25)) + "."})
        for i in range(documents)
    ]
    corpus = folder / "reports.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    return corpus


def test_ray_build_trains_and_adds_the_compressed_index_into_the_local_builds_file(
    cluster: LocalCluster, compressed_tier: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    corpus = synthetic_corpus(tmp_path)
    embedder = Embedder(FakeEncoder())
    ray_index = RayIndexBuilder(cluster.address)
    monkeypatch.setattr(qa.cli, "index_builders", lambda settings: (embedder, ray_index))  # texts: here
    code = main(["index", str(corpus), "--index-dir", str(tmp_path / "ray"), "--ray", cluster.address, "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Indexed 1100 document(s), 1100 chunks" in out
    assert "; trained and added the compressed index on 2 Ray nodes in " in out
    assert " texts on " not in out  # the texts were embedded here, not on the cluster
    build_index(load_documents([corpus]).documents, embedder, tmp_path / "local")
    ray_gen, local_gen = current_generation(tmp_path / "ray"), current_generation(tmp_path / "local")
    assert ray_gen and local_gen
    assert json.loads((ray_gen / "manifest.json").read_text())["index_type"] == "ivfpq"
    assert (ray_gen / "chunks.faiss").read_bytes() == (local_gen / "chunks.faiss").read_bytes()
    vectors = np.load(local_gen / "chunk_vectors.npy")
    queries = vectors[::37] + 0.05 * np.random.default_rng(1).standard_normal(vectors[::37].shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    ray_dense, local_dense = (faiss.read_index(str(g / "chunks.faiss")) for g in (ray_gen, local_gen))
    for got, want in zip(ray_dense.search(queries, 20), local_dense.search(queries, 20), strict=True):
        assert np.array_equal(got, want)  # same ids, same distances
    opened = [Index.open(tmp_path / name) for name in ("ray", "local")]
    try:  # and the product's search (the codes' candidates, re-ranked exactly) finds the same
        found = [[index.search_dense(q, 10) for q in queries] for index in opened]
    finally:
        for index in opened:
            index.close()
    assert found[0] == found[1]


def test_a_cluster_missing_for_the_compressed_index_fails_the_build_and_the_index_is_untouched(
    compressed_tier: None, tmp_path: Path,
) -> None:  # fmt: skip
    docs = load_documents([synthetic_corpus(tmp_path)]).documents
    embedder = Embedder(FakeEncoder())
    index_dir = tmp_path / "index"
    build_index(docs[:100], embedder, index_dir)  # the live index, exact (below the threshold)
    before, live = tree_digest(index_dir), current_generation(index_dir)
    address = f"127.0.0.1:{unused_port()}"
    options = BuildOptions(incremental=False, dense=RayIndexBuilder(address))
    with pytest.raises(
        DistributedUnavailable, match=f"the Ray build on {address} failed: no Ray cluster"
    ) as e:
        build_index(docs, embedder, index_dir, options)
    assert "Nothing was written" in e.value.message
    assert current_generation(index_dir) == live
    assert tree_digest(index_dir) == before
