"""The small CLI commands: known answers through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.cli import app

runner = CliRunner()


def test_nik_shows_what_a_valid_nik_encodes() -> None:
    result = runner.invoke(app, ["nik", "3204 0552 0385 0002", "--as-of", "2025-06-30"])
    assert result.exit_code == 0, result.output
    assert "3204055203850002" in result.output
    assert "1985-03-12" in result.output
    assert "32.04.05" in result.output
    assert "│ sex " in result.output and " P " in result.output


def test_nik_names_excel_damage_and_exits_non_zero() -> None:
    result = runner.invoke(app, ["nik", "3.20405E+15", "--as-of", "2025-06-30"])
    assert result.exit_code == 1
    assert "nik_excel_damaged" in result.output


def test_region_lookup_by_name_and_code(refdata: Path) -> None:
    result = runner.invoke(app, ["region", "kab. bandung", "--regions", str(refdata / "regions.csv"), "--level", "regency"])
    assert result.exit_code == 0, result.output
    assert "32.04" in result.output and "Kabupaten Bandung" in result.output
    assert "32.73" not in result.output
    result = runner.invoke(app, ["region", "3204052001", "--regions", str(refdata / "regions.csv")])
    assert result.exit_code == 0, result.output
    assert "Cileunyi Kulon" in result.output and "Kabupaten Bandung" in result.output


def test_region_not_found_is_a_clean_error(refdata: Path) -> None:
    result = runner.invoke(app, ["region", "Atlantis", "--regions", str(refdata / "regions.csv")])
    assert result.exit_code == 2
    assert "no region matches 'Atlantis'" in result.output


# -- errors: masked, never a traceback ------------------------------------------------------------

def _regions(tmp_path: Path) -> Path:
    path = tmp_path / "regions.csv"
    path.write_text("code,name,level\n32,JAWA BARAT,province\n32.04,KABUPATEN BANDUNG,regency\n")
    return path


def test_a_nik_in_an_error_message_is_masked(tmp_path: Path) -> None:
    result = runner.invoke(app, ["region", "3204055203850002", "--regions", str(_regions(tmp_path))])
    assert result.exit_code == 2
    assert "no region matches '3204********0002'" in result.output
    assert "3204055203850002" not in result.output


def test_an_unexpected_exception_is_a_short_masked_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import dtsen.reference.nik as nik_module

    def broken(value: str, as_of: object) -> None:
        raise KeyError(f"lookup of {value} failed")

    monkeypatch.setattr(nik_module, "check_nik", broken)
    monkeypatch.delenv("DTSEN_DEBUG", raising=False)
    result = runner.invoke(app, ["nik", "3204055203850002", "--as-of", "2025-06-30"])
    assert result.exit_code == 3
    assert "Galat tak terduga / unexpected error" in result.output and "(KeyError)" in result.output
    assert "lookup of 3204********0002 failed" in result.output and "DTSEN_DEBUG=1" in result.output
    assert "Traceback" not in result.output and "3204055203850002" not in result.output
    monkeypatch.setenv("DTSEN_DEBUG", "1")
    result = runner.invoke(app, ["nik", "3204055203850002", "--as-of", "2025-06-30"])
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.output and "in broken" in result.output
    assert "3204055203850002" not in result.output


def test_the_cli_makes_its_files_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        result = runner.invoke(app, ["init", str(tmp_path / "proyek")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    made = [tmp_path / "proyek", *(tmp_path / "proyek").rglob("*")]
    assert len(made) >= 3
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
