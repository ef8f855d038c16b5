"""The approval is a signature: a batch of verified cases signed with the approver's Ed25519 key
over its content hash, the signature in the audit chain; a batch changed after signing (its
content, a case's changes, its signature, its key) is refused by the export, by name."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from dtsen.cli import app as cli
from dtsen.config import load_settings
from dtsen.security.errors import AccessDenied
from dtsen.security.keys import key_id
from dtsen.store.tables import approval_batches, approver_keys, cases
from dtsen.workflow import approval
from dtsen.workflow.approval import ComposeBody, signed_message
from dtsen.workflow.errors import BatchRefused, InvalidCaseInput
from dtsen.workflow.export import FAMILY_SOURCE, PERSON_SOURCE, export_approved, sources_toml
from dtsen.workflow.service import Workflow
from tests.workflow.conftest import Staff, verified_case


def _signed(wf: Workflow, staff: Staff) -> tuple[int, list[int]]:
    ids = [verified_case(wf, staff, 45), verified_case(wf, staff, 46)]
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    batch = approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids))
    assert batch.status == "draft" and [c.id for c in batch.cases] == ids
    change = batch.cases[0].changes[0]
    assert {(f.field, f.before, f.after) for f in change.fields} >= {("floor_type", "KERAMIK", "TANAH"),
                                                                      ("has_car", False, True)}
    kepala = staff.as_user("bupati", "kepala_daerah", "32.04")
    signed = approval.sign(wf, kepala, "case_work", batch.id)
    assert signed.status == "signed" and signed.signed_by == "user:bupati"
    return batch.id, ids


def test_signing_signs_the_content_hash_records_it_and_approves_the_cases(wf: Workflow, staff: Staff) -> None:
    batch_id, ids = _signed(wf, staff)
    with wf.store.reading() as conn:
        row = dict(conn.execute(sa.select(approval_batches).where(approval_batches.c.id == batch_id)).mappings().one())
        states = conn.execute(sa.select(cases.c.state).where(cases.c.id.in_(ids))).scalars().all()
        entry = wf.security.audit.entries(conn, after=int(row["audit_seq"]) - 1, limit=1)[0]
        assert approval.verify(conn, wf.keys, row) == []
    assert states == ["approved", "approved"]
    # the signature is Ed25519 over the batch's id and the SHA-256 of its canonical content
    public = wf.keys.public_key("approver-bupati")
    assert public is not None and key_id(public) == row["key_id"]
    public.verify(bytes.fromhex(row["signature"]), signed_message(batch_id, row["content_hash"]))
    assert (wf.keys.directory / "approver-bupati.pem").stat().st_mode & 0o077 == 0
    # ... and the audit chain holds it
    assert entry["action"] == "batch.sign" and entry["actor"] == "user:bupati"
    assert base64.urlsafe_b64decode(entry["detail"]["signature"] + "==") == bytes.fromhex(row["signature"])
    assert wf.security.audit.verify(wf.store).ok


def test_who_may_sign(wf: Workflow, staff: Staff) -> None:
    ids = [verified_case(wf, staff, 45)]
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    batch = approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids))
    for access in (operator, staff.as_user("walikota", "kepala_daerah", "32.73")):
        with pytest.raises(AccessDenied):
            approval.sign(wf, access, "case_work", batch.id)
    with pytest.raises(AccessDenied):  # a kepala daerah composes no batch
        approval.compose(wf, staff.as_user("bupati", "kepala_daerah", "32.04"), "case_work",
                         ComposeBody(region="32.04", case_ids=ids))
    signed = approval.sign(wf, staff.as_user("wakil", "approval_delegate", "32.04"), "case_work", batch.id)
    assert signed.status == "signed" and signed.signed_by == "user:wakil"


def test_a_returned_case_voids_its_draft_batch(wf: Workflow, staff: Staff) -> None:
    ids = [verified_case(wf, staff, 45), verified_case(wf, staff, 46)]
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    kepala = staff.as_user("bupati", "kepala_daerah", "32.04")
    batch = approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids))
    with pytest.raises(InvalidCaseInput, match="already in"):
        approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids[:1]))
    wf.act(kepala, "case_work", ids[0], "return", {"reason": "foto rumah kurang jelas"})
    with pytest.raises(Exception, match=r"draft|changed"):
        approval.sign(wf, kepala, "case_work", batch.id)
    again = approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids[1:]))
    assert approval.sign(wf, kepala, "case_work", again.id).status == "signed"


def test_the_export_writes_the_verified_batches_as_sources(wf: Workflow, staff: Staff) -> None:
    batch_id, ids = _signed(wf, staff)
    result = export_approved(wf)
    assert result.refused == {} and result.batches == [batch_id] and result.cases == ids
    (family_file,) = result.files[FAMILY_SOURCE]
    assert PERSON_SOURCE not in result.files
    lines = family_file.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(","), strict=True))
    assert (first["kasus"], first["paket"], first["kk"], first["floor_type"], first["has_car"]) == \
        (f"K-{ids[0]:06d}", f"B-{batch_id:06d}", "3204050101090001", "TANAH", "true")
    assert first["family_status"] == "AKTIF" and first["observed_at"] == dt.date.today().isoformat()
    assert family_file.stat().st_mode & 0o077 == 0
    # the [sources] sections a project may list itself load as settings
    root = wf.settings.project.root
    text = (root / "dtsen.toml").read_text(encoding="utf-8")
    (root / "dtsen.toml").write_text(text + sources_toml(wf.settings, dt.date.today()), encoding="utf-8")
    loaded = load_settings(root)
    assert loaded.sources[FAMILY_SOURCE].level == "family" and loaded.sources[PERSON_SOURCE].level == "person"
    # a second export writes the same file, and nothing else
    assert export_approved(wf).files[FAMILY_SOURCE] == [family_file]


def _refused(wf: Workflow, batch_id: int) -> str:
    result = export_approved(wf)
    assert batch_id in result.refused and batch_id not in result.batches
    assert not any(p.name.startswith(f"B{batch_id:06d}") for p in result.directory.glob("*.csv"))
    return "; ".join(result.refused[batch_id])


def test_a_batch_changed_after_signing_cannot_enter(wf: Workflow, staff: Staff) -> None:
    batch_id, ids = _signed(wf, staff)
    assert export_approved(wf).batches == [batch_id]
    with wf.store.reading() as conn:
        row = conn.execute(sa.select(approval_batches).where(approval_batches.c.id == batch_id)).mappings().one()
        changes = conn.execute(sa.select(cases.c.changes).where(cases.c.id == ids[0])).scalar()

    def update_batch(**values: object) -> None:
        with wf.store.writing() as conn:
            conn.execute(sa.update(approval_batches).where(approval_batches.c.id == batch_id).values(**values))

    # 1. the signed content edited in the store
    update_batch(canonical=row["canonical"].replace("TANAH", "SEMEN"))
    assert "changed after signing" in _refused(wf, batch_id)
    # 2. ... and its hash recomputed to match: the signature no longer verifies
    from dtsen.workflow.changes import content_hash

    edited = row["canonical"].replace("TANAH", "SEMEN")
    update_batch(canonical=edited, content_hash=content_hash(edited))
    assert "signature does not verify" in _refused(wf, batch_id)
    update_batch(canonical=row["canonical"], content_hash=row["content_hash"])
    assert export_approved(wf).refused == {}
    # 3. a case's changes edited after signing
    with wf.store.writing() as conn:
        tampered = json.loads(json.dumps(changes).replace("TANAH", "SEMEN"))
        conn.execute(sa.update(cases).where(cases.c.id == ids[0]).values(changes=tampered))
    assert f"changes of K-{ids[0]:06d} were altered after signing" in _refused(wf, batch_id)
    with wf.store.writing() as conn:
        conn.execute(sa.update(cases).where(cases.c.id == ids[0]).values(changes=changes))
    # 4. re-signed with a key slipped into the store (not an approver's key file)
    forged = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    with wf.store.writing() as conn:
        user_id = conn.execute(sa.select(approver_keys.c.user_id)).scalar()
        pem = forged.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        conn.execute(sa.insert(approver_keys).values(key_id=key_id(forged.public_key()), user_id=user_id,
                                                     public_key=pem, created_at=dt.datetime.now(dt.UTC)))
    update_batch(canonical=edited, content_hash=content_hash(edited), key_id=key_id(forged.public_key()),
                 signature=forged.sign(signed_message(batch_id, content_hash(edited))).hex())
    text = _refused(wf, batch_id)
    assert "not an approver's key" in text and "audit chain does not hold this signature" in text


def test_the_export_command_names_a_refused_batch(wf: Workflow, staff: Staff, wf_settings: object) -> None:
    batch_id, _ = _signed(wf, staff)
    with wf.store.writing() as conn:
        conn.execute(sa.update(approval_batches).where(approval_batches.c.id == batch_id)
                     .values(signature="00" * 64))
    root: Path = wf.settings.project.root
    result = CliRunner().invoke(cli, ["workflow", "export", "--project", str(root)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"paket B-{batch_id:06d} DITOLAK / REFUSED" in text and "signature does not verify" in text


def test_signing_refuses_a_batch_whose_cases_changed_since_it_was_composed(wf: Workflow, staff: Staff) -> None:
    ids = [verified_case(wf, staff, 45)]
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    batch = approval.compose(wf, operator, "case_work", ComposeBody(region="32.04", case_ids=ids))
    with wf.store.writing() as conn:
        conn.execute(sa.update(cases).where(cases.c.id == ids[0]).values(
            changes=[{"entity": "family", "family_id": 45, "fields": {"has_car": False}}]))
    with pytest.raises(BatchRefused, match="changed since it was composed"):
        approval.sign(wf, staff.as_user("bupati", "kepala_daerah", "32.04"), "case_work", batch.id)


def test_the_build_step_adds_the_sources_first_and_names_a_refused_batch(wf: Workflow, staff: Staff) -> None:
    from dtsen.workflow.build_step import before_build

    good, _ = _signed(wf, staff)
    bad_ids = [verified_case(wf, staff, 47)]
    batch = approval.compose(wf, staff.as_user("dinsos-3204", "regency_operator", "32.04"), "case_work",
                             ComposeBody(region="32.04", case_ids=bad_ids))
    approval.sign(wf, staff.as_user("bupati", "kepala_daerah", "32.04"), "case_work", batch.id)
    with wf.store.writing() as conn:
        conn.execute(sa.update(cases).where(cases.c.id == bad_ids[0]).values(
            changes=[{"entity": "family", "family_id": 47, "kk": "3204050101090003", "fields": {"has_car": False}}]))
    settings = load_settings(wf.settings.project.root)
    assert settings.survivorship.above_all == ["cek_lapangan"]
    step = before_build(settings)
    assert step is not None
    assert settings.survivorship.above_all == [FAMILY_SOURCE, "cek_lapangan"]
    assert settings.sources[FAMILY_SOURCE].files == ["workflow/sumber/B*-keluarga.csv"]
    assert PERSON_SOURCE not in settings.sources  # no person rows in the verified batches
    assert step.export.batches == [good]
    assert len(step.notes) == 1 and f"B-{batch.id:06d}" in step.notes[0] and "altered after signing" in step.notes[0]
    # without a store, or with export_on_build off, a build is as before
    settings.workflow.export_on_build = False
    assert before_build(settings) is None
