"""`qa index --ray` where no Ray cluster is needed: the setting, the option, the error without Ray, and
what is built where.

The builds on a real cluster are in test_ray.py (make test-ray)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

import qa.embed
from qa.cli import build_parser, index_builders, main, settings_from_args
from qa.config import Settings
from qa.distributed import RayEmbedder, RayIndexBuilder, require_ray
from qa.embed import Embedder
from qa.errors import DistributedUnavailable
from qa.index import current_generation, local_dense


def test_ray_address_comes_from_the_environment_and_the_option_overrides_it() -> None:
    assert Settings.from_env(env={}).ray_address is None
    assert Settings.from_env(env={"QA_RAY_ADDRESS": "auto"}).ray_address == "auto"
    args = build_parser().parse_args(["index", "--ray", "10.0.0.5:6379"])
    assert settings_from_args(args).ray_address == "10.0.0.5:6379"


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_with_ray_the_build_embeds_and_makes_its_dense_index_through_the_cluster(
    monkeypatch: pytest.MonkeyPatch, fake_embedder: Embedder
) -> None:
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *a, **k: fake_embedder)
    embedder, dense = index_builders(Settings.from_env(env={}, ray_address="10.0.0.5:6379"))
    assert isinstance(embedder, RayEmbedder) and isinstance(dense, RayIndexBuilder)
    assert dense.address == "10.0.0.5:6379"
    assert dense.seconds is None  # nothing ran: no job until a build needs the compressed index
    assert index_builders(Settings.from_env(env={})) == (fake_embedder, local_dense)


@pytest.fixture
def without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray and pyarrow look uninstalled, as without the ray extra."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] in ("ray", "pyarrow") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_the_extra_the_error_says_what_to_install(without_ray: None) -> None:
    with pytest.raises(DistributedUnavailable, match=r"pip install -e '\.\[ray\]'"):
        require_ray()


def test_cli_ray_without_the_extra_is_a_clear_error_and_builds_nothing(
    without_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QA_RAY_ADDRESS", raising=False)
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *a, **k: pytest.fail("no model needed"))
    index_dir = tmp_path / "index"
    assert main(["index", "--index-dir", str(index_dir), "--ray", "auto", "-q"]) == 1
    err = capsys.readouterr().err
    assert "qa: error: --ray needs Ray Data, which is not installed" in err
    assert "pip install -e '.[ray]'" in err
    assert current_generation(index_dir) is None


def test_a_local_build_prints_no_ray_summary(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_embedder: Embedder,
) -> None:
    monkeypatch.delenv("QA_RAY_ADDRESS", raising=False)
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *a, **k: fake_embedder)
    assert main(["index", "--index-dir", str(tmp_path / "index"), "-q"]) == 0
    assert "Ray" not in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_below_the_compressed_tier_a_ray_build_makes_its_dense_index_here(tmp_path: Path) -> None:
    dense = RayIndexBuilder("127.0.0.1:9")  # nothing listens there: it must not be asked
    index = dense(np.eye(8, dtype=np.float32), tmp_path / "chunk_vectors.npy")
    assert isinstance(index, faiss.IndexFlatIP) and index.ntotal == 8
    assert dense.seconds is None and dense.nodes == set()
