"""ODK / Kobo submissions recorded on their cases: "family not found", "moved" and "members
deceased" become changes for approval (instead of staying ignored); names of the dead are matched
to one member each, or left for dinas sosial to settle; rows without an open case are named."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.cli import app as cli
from dtsen.verify.field_results import FORM_COLUMNS, column_name
from dtsen.verify.xlsform import WELFARE_FIELDS
from dtsen.workflow.cases import CaseDraft
from dtsen.workflow.errors import InvalidCaseInput
from dtsen.workflow.service import Workflow
from dtsen.workflow.visits import match_deaths
from tests.workflow.conftest import Staff, audit_actions

TODAY = dt.date.today().isoformat()


def _export(path: Path, rows: list[dict[str, str]], style: str) -> None:
    group = dict(FORM_COLUMNS)
    names = [name for name, _ in FORM_COLUMNS]
    header = [column_name(n, group[n], "odk" if style == "odk" else "plain") for n in names]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["SubmissionDate", *header, "KEY"])
        for row in rows:
            writer.writerow(["2026-01-01", *(row.get(n, "") for n in names), "uuid:1"])


def _open_case(wf: Workflow, staff: Staff, family_id: int, region: str) -> int:
    operator = staff.as_user(f"dinsos-{region.replace('.', '')}", "regency_operator", region)
    view = wf.create(operator, "case_work", CaseDraft(case_type="visit", kind="candidate", family_id=family_id,
                                                      reason="calon cek lapangan"))
    return wf.act(operator, "case_work", view.id, "forward", {}).id


@pytest.mark.parametrize("style", ["plain", "odk"])
def test_submissions_become_changes_awaiting_verification(wf: Workflow, staff: Staff, tmp_path: Path,
                                                          style: str) -> None:
    cases = {fid: _open_case(wf, staff, fid, "32.73" if fid == 90 else "32.04") for fid in (45, 46, 47, 90)}
    hasil = {f"{f.name}_hasil": "" for f in WELFARE_FIELDS}
    rows = [
        {"petugas": "P3204052001", "tanggal_kunjungan": TODAY, "keluarga": "45", "ditemukan": "ya", "pindah": "tidak",
         **hasil, "floor_type_hasil": "TANAH", "has_car_hasil": "ya", "jumlah_meninggal": "1",
         "nama_meninggal": "budi  santoso"},
        {"petugas": "P3204052001", "tanggal_kunjungan": TODAY, "keluarga": "46", "ditemukan": "tidak"},
        {"petugas": "P3204052002", "tanggal_kunjungan": TODAY, "keluarga": "47", "ditemukan": "ya", "pindah": "ya",
         "jumlah_meninggal": "0"},
        {"petugas": "P3273011001", "tanggal_kunjungan": TODAY, "keluarga": "90", "ditemukan": "ya", "pindah": "tidak",
         "jumlah_meninggal": "2", "nama_meninggal": "Orang Lain"},
        {"petugas": "P1", "tanggal_kunjungan": TODAY, "keluarga": "999", "ditemukan": "ya"},
        {"petugas": "P1", "tanggal_kunjungan": TODAY, "keluarga": "", "ditemukan": "ya"},
    ]
    path = tmp_path / "kunjungan.csv"
    _export(path, rows, style)
    result = CliRunner().invoke(cli, ["workflow", "import-visits", str(path), "--style", style,
                                      "--project", str(wf.settings.project.root)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 kunjungan dicatat / visits recorded, 2 dilewati / skipped" in text
    assert "baris / row 6: family_unknown" in text and "baris / row 7: family_ref_missing" in text
    assert f"K-{cases[90]:06d} perlu dilengkapi" in text
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    v45 = wf.get(operator, "case_work", cases[45])
    assert v45.visit is not None and v45.visit["form"] == "odk" and v45.visit["officer"] == "P3204052001"
    assert v45.changes is not None
    fields = v45.changes[0]["fields"]
    assert fields["floor_type"] == "TANAH" and fields["has_car"] is True and fields["family_status"] == "AKTIF"
    assert [(c["person_id"], c["fields"]) for c in v45.changes[1:]] == [(702, {"is_deceased": True})]
    for family_id, status in ((46, "TIDAK_DITEMUKAN"), (47, "PINDAH")):
        changes = wf.get(operator, "case_work", cases[family_id]).changes
        assert changes is not None and changes[0]["fields"] == {"family_status": status}
    # the unmatched death waits for a person: the case cannot be verified until the web form settles it
    kota = staff.as_user("dinsos-3273", "regency_operator", "32.73")
    assert wf.get(kota, "case_work", cases[90]).changes == []
    with pytest.raises(InvalidCaseInput, match="settles no change"):
        wf.act(kota, "case_work", cases[90], "verify", {})
    assert wf.act(operator, "case_work", cases[45], "verify", {}).state == "approval"
    assert ("case.visit", "ok", "system:import:kunjungan.csv") in audit_actions(wf)


def test_names_of_the_dead_match_one_member_each(wf: Workflow) -> None:
    family = wf.registry().family(45)
    assert family is not None
    found, unresolved = match_deaths("santoso budi; ANDI", 3, family)
    assert [m.person_id for m in found] == [702]
    assert len(unresolved) == 2  # "ANDI" is no member's whole name, and one of three has no name
