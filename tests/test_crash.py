"""Crash safety of `qa index`: SIGKILL at any moment leaves the previous index loadable and served;
the next build cleans up; concurrent builds take turns; readers survive deleted generations."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEncoder, build_sample

from qa import QA, Settings
from qa.build import BuildOptions, build_index, update_index
from qa.embed import Embedder
from qa.index import LOCK, Index, current_generation, writer_lock
from qa.ingest import bundled_corpus, load_documents

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "crash_child.py"
QA_BIN = Path(sys.executable).parent / "qa"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(extra)
    return env


FILLER = [
    "apple",
    "river",
    "stone",
    "cloud",
    "window",
    "garden",
    "market",
    "engine",
    "paper",
    "violin",
    "forest",
    "ladder",
    "mirror",
    "tunnel",
    "pepper",
    "castle",
    "rocket",
    "saddle",
    "candle",
    "harbor",
    "meadow",
    "pillow",
    "silver",
    "anchor",
    "basket",
    "cotton",
    "dragon",
    "feather",
    "lantern",
    "marble",
    "needle",
    "orange",
    "parrot",
    "quartz",
    "ribbon",
    "tomato",
    "velvet",
    "walnut",
    "yellow",
    "zipper",
]


def write_corpus(folder: Path, n: int, topic: str = "harbour") -> Path:
    """n small distinct articles, each a title and four sentences (the last one's words drawn at
    random per article, so no two are near-copies that a build would fold into one)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        words = random.Random(f"{topic}-{i}").sample(FILLER, 12)
        (folder / f"{topic}-{i:03d}.txt").write_text(
            f"The {topic.title()} Report {i}\n"
            f"In {2000 + i % 25}, the {topic} council of town {i} counted {100 + i} boats. "
            f"Mayor Elena Vos{i} said the {topic} would reopen after repairs costing {i + 3} million. "
            f"Residents of district {i} welcomed the news about the {topic}. "
            f"The list read {' '.join(words)}.\n"
        )
    return folder


def start_child(point: str, pause: float, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), point, str(pause), *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=TESTS,
    )  # fmt: skip


def wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> list[str]:
    """Read the child's stderr until a line starts with `marker`; returns the lines read."""
    lines: list[str] = []
    found = threading.Event()

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(marker):
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    if not found.wait(timeout):
        proc.kill()
        raise AssertionError(f"{marker!r} never appeared; stderr: {''.join(lines)[-2000:]}")
    return lines


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def assert_serves(index_dir: Path, question: str, expect: str) -> None:
    settings = Settings.from_env(env={}, index_dir=index_dir)
    answer = QA(settings, Embedder(FakeEncoder())).ask(question)
    assert not answer.abstained and expect in answer.answer, answer


POINTS = ["embedding", "sqlite", "faiss", "before-rename", "after-rename", "before-swap", "after-swap"]


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_any_point_leaves_a_whole_index(tmp_path: Path, point: str) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, Embedder(FakeEncoder()))
    before = current_generation(index_dir)
    corpus = write_corpus(tmp_path / "corpus", 200)

    child = start_child(point, 120, "index", str(corpus), "--index-dir", str(index_dir), "-q")
    wait_for(child, f"AT {point}")
    kill(child)

    # The index is whole: the previous generation, or the new one once CURRENT was swapped.
    index = Index(index_dir)
    if point == "after-swap":
        assert before is not None and index.generation != before.name
        assert len(index.documents) == 200
        assert_serves(index_dir, "How many boats did the harbour council of town 7 count?", "107 boats")
    else:
        assert current_generation(index_dir) == before
        assert len(index.documents) == 1
        assert_serves(index_dir, "How much was Netflix's quarterly revenue?", "$11.5 billion")
    temporaries = list(index_dir.glob(".tmp-gen-*"))
    generations = list(index_dir.glob("gen-*"))
    if point in ("sqlite", "faiss", "before-rename"):
        assert len(temporaries) == 1, "the half-written generation is left for the next build"
    if point in ("after-rename", "before-swap"):
        assert len(generations) == 2, "a complete generation that never went live"
    assert (index_dir / LOCK).exists()

    # The kernel released the dead build's lock: the next build neither waits nor fails, and
    # it removes the temporary folder and any generation that never went live.
    t0 = time.monotonic()
    report = build_index(load_documents([corpus]).documents, Embedder(FakeEncoder()), index_dir)
    assert time.monotonic() - t0 < 30
    assert report.documents == 200
    names = {p.name for p in index_dir.iterdir()}
    assert not [n for n in names if n.startswith(".tmp-gen-")]
    gens = sorted(n for n in names if n.startswith("gen-"))
    assert report.generation in gens and len(gens) <= 2
    assert_serves(index_dir, "How many boats did the harbour council of town 7 count?", "107 boats")


def test_temporary_folder_names_the_builder(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, Embedder(FakeEncoder()))
    child = start_child("faiss", 120, "index", "--index-dir", str(index_dir), "--full", "-q")
    wait_for(child, "AT faiss")
    try:
        (tmp,) = index_dir.glob(".tmp-gen-*")
        assert tmp.name.startswith(f".tmp-gen-{child.pid}-")
        assert (index_dir / LOCK).read_text().strip() == str(child.pid)
    finally:
        kill(child)


def test_concurrent_build_waits_for_the_running_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, Embedder(FakeEncoder()))
    corpus_a = write_corpus(tmp_path / "a", 20, "harbour")
    corpus_b = write_corpus(tmp_path / "b", 5, "airport")
    child = start_child("embedding", 120, "index", str(corpus_a), "--index-dir", str(index_dir), "-q")
    wait_for(child, "AT embedding")

    done = threading.Event()
    result: dict[str, Any] = {}

    def second() -> None:
        result["report"] = build_index(
            load_documents([corpus_b]).documents, Embedder(FakeEncoder()), index_dir
        )
        done.set()

    with caplog.at_level("WARNING", logger="qa.index"):
        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(1.0), "the second build must wait while the first holds the lock"
        assert f"another build (pid {child.pid}) is writing" in caplog.text
        kill(child)  # the holder dies mid-build: the lock goes with it
        assert done.wait(30)
        thread.join()
    assert result["report"].documents == 5
    assert len(Index(index_dir).documents) == 5
    assert not list(index_dir.glob(".tmp-gen-*"))


def test_concurrent_adds_both_land(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, Embedder(FakeEncoder()))
    x = write_corpus(tmp_path / "x", 1, "harbour") / "harbour-000.txt"
    y = write_corpus(tmp_path / "y", 1, "airport") / "airport-000.txt"
    # The first `qa index --add` pauses half-way with the lock held; the second starts meanwhile.
    child = start_child("embedding", 1.5, "index", "--add", str(x), "--index-dir", str(index_dir), "-q")
    wait_for(child, "AT embedding")
    update_index(Embedder(FakeEncoder()), index_dir, add=[y])
    assert child.wait(timeout=30) == 0
    titles = sorted(d.title for d in Index(index_dir).documents.values())
    assert titles == [
        "Netflix and Generative AI: A Bold Move in Entertainment",
        "The Airport Report 0",
        "The Harbour Report 0",
    ], "neither update undid the other"


def test_writer_lock_is_reentrant_and_exclusive_across_threads(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    entered = threading.Event()
    with writer_lock(index_dir), writer_lock(index_dir):  # the same thread may nest it

        def other() -> None:
            with writer_lock(index_dir):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.3)
    assert entered.wait(5)
    thread.join()


def test_reader_survives_deletion_of_its_generation(tmp_path: Path) -> None:
    """A server still holding an old generation keeps answering after builds delete its folder,
    even from threads that never opened the database before the deletion."""
    index_dir = tmp_path / "index"
    embedder = Embedder(FakeEncoder())
    build_sample(index_dir, embedder)
    settings = Settings.from_env(env={}, index_dir=index_dir, reload_interval_s=3600)
    engine = QA(settings, embedder)
    old = engine.index
    corpus = write_corpus(tmp_path / "corpus", 3)
    for _ in range(2):  # the live one and the one before it stay; older ones go
        build_index(
            load_documents([corpus, bundled_corpus()]).documents,
            embedder,
            index_dir,
            BuildOptions(incremental=False),
        )
    assert not old.path.exists(), "the generation the engine holds was deleted"

    answers: list[Any] = []

    def ask() -> None:
        try:
            answers.append(engine.ask("How much was Netflix's quarterly revenue?"))
            answers.append(old.load_prepared(next(iter(old.documents))).document.title)
        except Exception as exc:  # recorded for the assertion below
            answers.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert all("$11.5 billion" in a.answer for a in answers[::2] if not isinstance(a, str))

    engine.maybe_reload(force=True)
    assert engine.index.generation == current_generation(index_dir).name  # type: ignore[union-attr]


def test_loading_follows_current_when_it_moves_mid_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two builds finishing while a reader loads can delete the generation it started on."""
    import qa.index.read

    index_dir = tmp_path / "index"
    embedder = Embedder(FakeEncoder())
    build_sample(index_dir, embedder)
    first = current_generation(index_dir)
    docs = load_documents([bundled_corpus()]).documents
    real_read = qa.index.read.faiss.read_index
    calls = {"n": 0}

    def read_after_two_builds(path: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            for _ in range(2):  # full builds: they don't read the previous generation
                build_index(docs, embedder, index_dir, BuildOptions(incremental=False))
            assert first is not None and not first.exists()
        return real_read(path)

    monkeypatch.setattr(qa.index.read.faiss, "read_index", read_after_two_builds)
    index = Index(index_dir)
    assert index.generation == current_generation(index_dir).name  # type: ignore[union-attr]
    assert calls["n"] == 2


# --- the real `qa index`, killed by timing -----------------------------------------------------


@pytest.mark.slow
def test_sigkill_of_real_qa_index_mid_embedding(
    tmp_path: Path, real_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.build import index_paths
    from qa.cli import main

    index_dir = tmp_path / "index"
    index_paths([bundled_corpus()], real_embedder, index_dir)
    before = current_generation(index_dir)
    corpus = write_corpus(tmp_path / "corpus", 200)

    proc = subprocess.Popen(
        [str(QA_BIN), "index", str(corpus), "--index-dir", str(index_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=clean_env(QA_EMBED_BATCH_SIZE="8"),
    )  # fmt: skip
    # tqdm redraws with "\r": wait until the bar shows some texts embedded, then kill.
    progress = read_progress(proc, at_least=40)
    kill(proc)
    assert 40 <= progress < 800, progress

    assert current_generation(index_dir) == before
    settings = Settings.from_env(env={}, index_dir=index_dir)
    answer = QA(settings, real_embedder).ask("How much was Netflix's quarterly revenue?")
    assert not answer.abstained and "$11.5 billion" in answer.answer

    # The next `qa index` (same code, model already loaded) completes and leaves no debris.
    monkeypatch.setattr("qa.embed.Embedder.from_settings", lambda *args, **kwargs: real_embedder)
    for name in [n for n in os.environ if n.startswith("QA_")]:
        monkeypatch.delenv(name)
    assert main(["index", str(corpus), "--index-dir", str(index_dir), "-q"]) == 0
    assert len(Index(index_dir).documents) == 200
    assert not list(index_dir.glob(".tmp-gen-*"))


def read_progress(proc: subprocess.Popen[str], at_least: int, timeout: float = 120) -> int:
    """Follow a tqdm bar on the child's stderr until it shows `at_least` texts done."""
    import re

    assert proc.stderr is not None
    seen = {"n": 0}
    reached = threading.Event()

    def reader() -> None:
        buf = ""
        assert proc.stderr is not None
        while True:
            ch = proc.stderr.read(1)
            if not ch:
                return
            buf = (buf + ch)[-200:]
            m = re.findall(r"(\d+)/(\d+) \[", buf)
            if m:
                seen["n"] = int(m[-1][0])
                if seen["n"] >= at_least:
                    reached.set()
                    return

    threading.Thread(target=reader, daemon=True).start()
    if not reached.wait(timeout):
        proc.kill()
        raise AssertionError(f"progress stayed at {seen['n']}")
    return seen["n"]
