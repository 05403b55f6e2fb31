"""LiveIndex: the newest loadable generation, swapped in when a build moves CURRENT."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import FAKE_DIM, FAKE_MODEL, FakeEncoder, build_sample

from qa.embed import Embedder
from qa.errors import IndexMismatch, IndexMissing
from qa.index import CURRENT
from qa.live import LiveIndex


def live(index_dir: Path, require: bool = True, model: str = FAKE_MODEL) -> LiveIndex:
    return LiveIndex(index_dir, model, FAKE_DIM, interval_s=0.0, require=require)


def test_live_index_requires_an_index_unless_told_to_wait(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        live(tmp_path / "index")
    waiting = live(tmp_path / "index", require=False)
    assert not waiting.ready and isinstance(waiting.error, IndexMissing)
    with pytest.raises(IndexMissing):
        waiting.current()


def test_live_index_picks_up_the_first_build(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    waiting = live(index_dir, require=False)
    report = build_sample(index_dir, Embedder(FakeEncoder()))
    assert waiting.current().generation == report.generation
    assert waiting.ready and waiting.error is None


def test_live_index_swaps_in_a_rebuild_and_old_readers_keep_theirs(
    sample_index: Path, tmp_path: Path
) -> None:
    engine = live(sample_index)
    old = engine.current()
    other = tmp_path / "other.txt"
    other.write_text("Harbour News\nThe harbour bridge reopened on Monday after repairs.\n")
    from qa.build import BuildOptions, index_paths
    from qa.ingest import bundled_corpus

    report = index_paths([bundled_corpus(), other], Embedder(FakeEncoder()), sample_index, BuildOptions())
    assert engine.maybe_reload() is True
    assert engine.current().generation == report.generation != old.generation
    assert len(old.documents) == 1 and old.chunks([0])  # the old one still reads


def test_live_index_keeps_the_loaded_one_when_the_new_is_refused(
    sample_index: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = live(sample_index)
    loaded = engine.current().generation
    build_sample(sample_index, Embedder(FakeEncoder(name="other-model")))
    with caplog.at_level(logging.WARNING, logger="qa.live"):
        assert engine.maybe_reload() is False
        assert engine.maybe_reload(force=True) is False
    assert engine.current().generation == loaded
    assert isinstance(engine.error, IndexMismatch)
    assert len([r for r in caplog.records if "kept the loaded index" in r.message]) == 1  # once


def test_live_index_checks_at_most_every_interval(sample_index: Path) -> None:
    engine = LiveIndex(sample_index, FAKE_MODEL, FAKE_DIM, interval_s=3600.0)
    (sample_index / CURRENT).write_text("gen-that-does-not-exist\n")
    assert engine.maybe_reload() is False  # not due yet: nothing was read
    assert engine.error is None
