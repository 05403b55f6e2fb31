"""Shared fixtures: a fast deterministic encoder, a sample index built with it, the real model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.build import BuildReport, index_paths
from qa.chunk import approx_tokens
from qa.config import Settings
from qa.embed import Embedder
from qa.ingest import bundled_corpus
from qa.text import terms

FAKE_MODEL = "fake-hashed-bow-64"
FAKE_DIM = 64


def _bucket(term: str, dimension: int) -> int:
    # hashlib, not hash(): Python salts str hashes per process, and indexes outlive processes.
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") % dimension


class FakeEncoder:
    """Hashed bag of stemmed words, L2-normalised: texts sharing words get close vectors.

    Implements only qa.embed.Encoder (Embedder does the rest); deterministic across processes,
    and instant.
    """

    def __init__(self, name: str = FAKE_MODEL, dimension: int = FAKE_DIM, max_tokens: int = 256) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.calls: list[int] = []  # sizes of encode calls, for tests that count work

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vector(t) for t in texts])

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for t in terms(text):
            v[_bucket(t, self.dimension)] += 1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0  # a text without content words still gets a unit vector
            return v
        return v / norm


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def fake_embedder(fake_encoder: FakeEncoder) -> Embedder:
    """The real Embedder over the fake encoder: `fake_encoder.calls` counts what it embeds."""
    return Embedder(fake_encoder)


def build_sample(index_dir: Path, embedder: Embedder) -> BuildReport:
    """Index the bundled article into `index_dir` with `embedder`."""
    return index_paths([bundled_corpus()], embedder, index_dir)


@pytest.fixture
def sample_index(tmp_path: Path, fake_embedder: Embedder) -> Path:
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
    return Embedder()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser), once per test module."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
