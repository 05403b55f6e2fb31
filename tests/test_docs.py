"""The README's settings table says what Settings says (as datasette's test_docs.py does)."""

from __future__ import annotations

import re
from pathlib import Path

from qa.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\| `(QA_[A-Z_]+)` \| (.+?) \| (.+) \|$")


def readme_settings() -> list[tuple[str, str]]:
    """(variable, default) of every row of the README's settings table, in order."""
    rows = []
    for line in README.read_text().splitlines():
        m = ROW.match(line)
        if m:
            default = m.group(2).strip()
            rows.append((m.group(1), "" if default == "(unset)" else default.strip("`")))
    return rows


def test_readme_settings_table_matches_settings() -> None:
    expected = [(name, default) for name, default, _ in Settings.help()]
    assert readme_settings() == expected


def test_every_setting_has_help() -> None:
    assert all(help_.strip() for _, _, help_ in Settings.help())
