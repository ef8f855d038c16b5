"""A minimal project with its keys set up (file provider), for the vault tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtsen.config import Settings, load_settings
from dtsen.vault.keyring import Keyring
from dtsen.vault.lifecycle import init_keys


def write_project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dtsen.toml").write_text(f'[project]\nname = "vault-test"\n{extra}', encoding="utf-8")
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(write_project(tmp_path / "proj"))
    init_keys(s)
    return s


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    return Keyring.from_settings(settings)
