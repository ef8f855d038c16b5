"""`dtsen index build` and `dtsen index match`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from dtsen.cli import app
from tests.serve.fakes import write_project

runner = CliRunner()


def test_index_build_and_match(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", second=False)
    built = runner.invoke(app, ["index", "build", "--project", str(project)])
    assert built.exit_code == 0, built.output
    assert "R0001" in built.output and (project / "serving" / "R0001" / "index.sqlite").exists()
    upload = tmp_path / "daftar.csv"
    upload.write_text("NIK;NAMA;TANGGAL_LAHIR\n3204011705800001;AHMAD SUBAGJA;17-05-1980\n;ZZ QQ;01-01-1901\n",
                      encoding="utf-8")
    matched = runner.invoke(app, ["index", "match", str(upload), "--project", str(project), "--out", str(tmp_path / "o")])
    assert matched.exit_code == 0, matched.output
    assert "exact_nik" in matched.output
    rows = pq.read_table(tmp_path / "o" / "hasil_padan.parquet").to_pylist()
    assert [(r["status"], r["person_id"]) for r in rows] == [("exact_nik", 1), ("none", None)]


def test_index_build_without_a_release_says_so(tmp_path: Path) -> None:
    (tmp_path / "dtsen.toml").write_text('[project]\nname = "kosong"\n', encoding="utf-8")
    out = runner.invoke(app, ["index", "build", "--project", str(tmp_path)])
    assert out.exit_code == 2 and "dtsen build" in out.output and "Traceback" not in out.output
