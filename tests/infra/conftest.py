"""Fixtures of the infrastructure tests: the parsed templates of infra/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep_text import BicepFile, parse_file

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@pytest.fixture(scope="session")
def templates() -> dict[str, BicepFile]:
    """Every Bicep file under infra/, by path relative to infra/ (e.g. `modules/storage.bicep`)."""
    return {path.relative_to(INFRA).as_posix(): parse_file(path) for path in sorted(INFRA.rglob("*.bicep"))}


@pytest.fixture(scope="session")
def main(templates: dict[str, BicepFile]) -> BicepFile:
    return templates["main.bicep"]
