"""Shared fixtures: a fast deterministic embedder, a sample index built with it, the real model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.build import BuildReport, index_paths
from qa.chunk import approx_tokens
from qa.config import Settings
from qa.ingest import bundled_corpus
from qa.text import terms

FAKE_MODEL = "fake-hashed-bow-64"
FAKE_DIM = 64


def _bucket(term: str, dimension: int) -> int:
    # hashlib, not hash(): Python salts str hashes per process, and indexes outlive processes.
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") % dimension


class FakeEmbedder:
    """Hashed bag of stemmed words, L2-normalised: texts sharing words get close vectors.

    Same interface as qa.embed.Embedder, deterministic across processes, and instant.
    """

    def __init__(self, name: str = FAKE_MODEL, dimension: int = FAKE_DIM, max_tokens: int = 256) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.calls: list[int] = []  # sizes of embed_documents calls, for tests that count work

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for t in terms(text):
            v[_bucket(t, self.dimension)] += 1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0  # a text without content words still gets a unit vector
            return v
        return v / norm

    def embed_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for b in range(0, len(texts), batch_size):
            for i in range(b, min(b + batch_size, len(texts))):
                out[i] = self._vector(texts[i])
            if progress:
                progress(min(batch_size, len(texts) - b))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def build_sample(index_dir: Path, embedder: FakeEmbedder) -> BuildReport:
    """Index the bundled article into `index_dir` with `embedder`."""
    return index_paths([bundled_corpus()], embedder, index_dir)


@pytest.fixture
def sample_index(tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    """An index directory holding the bundled article, built with the fake embedder."""
    index_dir = tmp_path / "index"
    build_sample(index_dir, fake_embedder)
    return index_dir


@pytest.fixture
def sample_settings(sample_index: Path) -> Settings:
    """Default settings pointing at the sample index (environment ignored)."""
    return Settings.from_env(env={}, index_dir=sample_index)


@pytest.fixture(scope="session")
def real_embedder():
    """The real sentence-transformers model, loaded once per session (about 7 s)."""
    from qa.embed import Embedder

    return Embedder()
