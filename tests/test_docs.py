"""Docs enforced by tests: every CLI command and every setting appears in the README."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from dtsen.cli import app
from dtsen.config import Settings, SourceMapping
from dtsen.welfare.settings import BoostedSettings, ProgrammeRule

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert len(names) >= 5
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        names += [f"{group.name} {c.name or (c.callback.__name__ if c.callback else '')}" for c in sub.registered_commands]
    missing = [n for n in names if f"dtsen {n}" not in README]
    assert not missing, f"commands not in README: {missing}"


def test_every_setting_is_in_the_readme() -> None:
    missing = []
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if section == "sources":
            missing += [f"sources.NAME.{f}" for f in SourceMapping.model_fields if f"`sources.NAME.{f}`" not in README]
            continue
        if section == "programmes":
            missing += [f"programmes.NAME.{f}" for f in ProgrammeRule.model_fields
                        if f"`programmes.NAME.{f}`" not in README]
            continue
        if section == "welfare":
            missing += [f"welfare.boosted.{f}" for f in BoostedSettings.model_fields
                        if f"`welfare.boosted.{f}`" not in README]
        assert isinstance(model, type) and issubclass(model, BaseModel)
        missing += [f"{section}.{f}" for f in model.model_fields if f"`{section}.{f}`" not in README]
    assert not missing, f"settings not in README: {missing}"


def test_every_setting_has_a_description() -> None:
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            assert all(f.description for f in model.model_fields.values()), section
    assert all(f.description for f in SourceMapping.model_fields.values())
    assert all(f.description for f in ProgrammeRule.model_fields.values())
    assert all(f.description for f in BoostedSettings.model_fields.values())
