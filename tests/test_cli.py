"""The small CLI commands: known answers through the real command line."""

from __future__ import annotations

from pathlib import Path

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
