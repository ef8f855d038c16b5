"""Evidence is checked by its content: whole JPEG, PNG and PDF files pass; a PDF named .jpg, a
PDF with HTML or script in it, an SVG, an executable, a damaged image, a file too large are
refused. Accepted files are kept outside every served directory, owner-only, by SHA-256."""

from __future__ import annotations

import pytest

from dtsen.workflow.errors import EvidenceRefused, EvidenceTooLarge, TransitionRefused
from dtsen.workflow.evidence import EvidenceStore, inspect
from dtsen.workflow.service import Workflow
from tests.workflow.conftest import Staff, jpeg_bytes, pdf_bytes, png_bytes, set_state, verified_case

MAX = 1 << 20
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.cookie)</script></svg>')
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200


@pytest.mark.parametrize(("name", "data", "media"), [
    ("berita-acara.pdf", pdf_bytes(), "application/pdf"),
    ("foto.png", png_bytes(), "image/png"),
    ("foto.JPG", jpeg_bytes(), "image/jpeg"),
    ("", pdf_bytes(), "application/pdf"),  # no name: the content decides
])
def test_whole_images_and_pdfs_pass(name: str, data: bytes, media: str) -> None:
    found = inspect(name, data, MAX)
    assert found.media_type == media and found.size == len(data)


@pytest.mark.parametrize(("name", "data", "why"), [
    ("foto.jpg", pdf_bytes("<html><body><script>alert(1)</script></body></html>"), "content is PDF but it is named"),
    ("dokumen.pdf", pdf_bytes("<html><body><script>alert(1)</script></body></html>"), "markup or script"),
    ("gambar.svg", SVG, "named '.svg' are not accepted"),
    ("gambar.png", SVG, "not a JPEG, PNG or PDF"),
    ("program.exe", EXE, "named '.exe' are not accepted"),
    ("foto.jpg", EXE, "not a JPEG, PNG or PDF"),
    ("aksi.pdf", pdf_bytes().replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (x) >>"),
     "active content"),
    ("terpotong.png", png_bytes()[:-6], "PNG image"),
    ("ekor.png", png_bytes() + b"<?php system($_GET['c']); ?>", "data after its end"),
    ("terpotong.pdf", pdf_bytes()[:-7], "cut short"),
    ("kosong.jpg", b"", "empty"),
])
def test_everything_else_is_refused(name: str, data: bytes, why: str) -> None:
    with pytest.raises(EvidenceRefused, match=why):
        inspect(name, data, MAX)


def test_too_large_is_refused() -> None:
    with pytest.raises(EvidenceTooLarge):
        inspect("besar.pdf", pdf_bytes("x" * 2000), 1024)


def test_accepted_files_are_kept_owner_only_outside_served_places(wf: Workflow, staff: Staff) -> None:
    case_id = verified_case(wf, staff, 45)
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    info = wf.add_evidence(operator, "case_work", case_id, "photo", "rumah.png", png_bytes())
    assert info.media_type == "image/png"
    path = wf.evidence.directory / info.sha256[:2] / f"{info.sha256[2:]}.bin"
    assert path.read_bytes() == png_bytes() and path.stat().st_mode & 0o777 == 0o600
    assert wf.evidence.directory == wf.settings.project.root / "store" / "bukti"
    _, data = wf.evidence_file(operator, "case_work", case_id, info.id)
    assert data == png_bytes()
    with pytest.raises(EvidenceRefused):  # refused files are never stored
        wf.add_evidence(operator, "case_work", case_id, "photo", "x.jpg", pdf_bytes("<script>"))
    assert sorted(p.name for p in wf.evidence.directory.rglob("*.bin")) == [path.name]
    set_state(wf, case_id, "released")
    with pytest.raises(TransitionRefused, match="closed"):
        wf.add_evidence(operator, "case_work", case_id, "photo", "rumah.png", png_bytes())


def test_a_damaged_stored_file_is_not_handed_out(tmp_path: object) -> None:
    from pathlib import Path

    store = EvidenceStore(Path(str(tmp_path)) / "bukti")
    found = inspect("a.pdf", pdf_bytes(), MAX)
    store.put(pdf_bytes(), found.sha256)
    (store.directory / found.sha256[:2] / f"{found.sha256[2:]}.bin").write_bytes(b"%PDF-1.4 other")
    with pytest.raises(EvidenceRefused, match="does not match"):
        store.get(found.sha256)
