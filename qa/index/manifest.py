"""The typed manifest of an index generation (`manifest.json`), written and read in one place."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing
from qa.index.layout import current_generation

FORMAT_VERSION = 2  # 2: documents carry url, site, author and urls
MANIFEST = "manifest.json"


def rebuild_hint(index_dir: Path) -> str:
    """The command that replaces a missing, damaged or mismatched index."""
    return f"qa index [PATH ...] --index-dir {index_dir}"


@dataclass(frozen=True)
class Manifest:
    """What a generation holds and how it was made; a build compares it to decide what to reuse."""

    model: str
    dimension: int
    chunker: dict[str, int]
    documents: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash, in order
    counts: dict[str, int] = field(default_factory=dict)  # documents, chunks, sentences
    index_type: str = "flat"
    built_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """The manifest as the JSON text stored in a generation."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a stored manifest; ValueError when it is not one this program reads."""
        data: dict[str, Any] = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            # Older or newer formats may differ in every other field: report only the version.
            return cls(
                model="", dimension=0, chunker={}, format_version=version if isinstance(version, int) else -1
            )
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or bad field {exc}") from None

    def same_build(self, model: str, chunker: dict[str, int]) -> bool:
        """Were this generation's vectors made by this model and chunker (so they can be reused)?"""
        return self.model == model and self.chunker == chunker


def read_manifest(index_dir: Path) -> tuple[Path, Manifest]:
    """The live generation's folder and manifest; IndexMissing/IndexCorrupt/IndexMismatch say how
    to rebuild."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissing(f"no index in {index_dir}/. Build one with: {rebuild_hint(index_dir)}")
    try:
        manifest = Manifest.from_json((gen / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"the index in {index_dir}/ is unreadable ({exc}). Rebuild it with: {rebuild_hint(index_dir)}"
        ) from None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index in {index_dir}/ has format version {manifest.format_version}, this program "
            f"reads version {FORMAT_VERSION}. Rebuild it with: {rebuild_hint(index_dir)}"
        )
    return gen, manifest
