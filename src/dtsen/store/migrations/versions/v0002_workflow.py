"""The workflow: cases and their events and evidence, approval batches with their signatures, the
approvers' public keys, the notification outbox and staff contacts (dtsen.workflow)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dtsen.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_type", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=False),
        sa.Column("family_id", sa.BigInteger, nullable=True),
        sa.Column("release_id", sa.String(16), nullable=True),
        sa.Column("dedupe_key", sa.String(80), nullable=True),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("submitter_family_id", sa.BigInteger, nullable=True),
        sa.Column("contact", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("proposal", sa.JSON, nullable=False),
        sa.Column("musdes", sa.JSON, nullable=True),
        sa.Column("officer_id", sa.Integer, _fk("cases", "officer_id", "users"), nullable=True),
        sa.Column("visit", sa.JSON, nullable=True),
        sa.Column("changes", sa.JSON, nullable=True),
        sa.Column("batch_id", sa.Integer, nullable=True),
        sa.Column("in_release", sa.String(16), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("last_reason", sa.Text, nullable=True),
        _when("created_at"), _when("updated_at"), _when("state_since"), _when("deadline_at", True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_cases_dedupe_key"),
    )
    op.create_index("ix_cases_officer_id", "cases", ["officer_id"])
    op.create_index("ix_cases_region_code", "cases", ["region_code"])
    op.create_index("ix_cases_state_deadline_at", "cases", ["state", "deadline_at"])
    op.create_index("ix_cases_family_id", "cases", ["family_id"])
    op.create_index("ix_cases_submitter_family_id_created_at", "cases", ["submitter_family_id", "created_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, _fk("case_events", "case_id", "cases"), nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_state", sa.String(30), nullable=True),
        sa.Column("to_state", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("audit_seq", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, _fk("case_evidence", "case_id", "cases"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        _when("uploaded_at"),
    )
    op.create_index("ix_case_evidence_case_id", "case_evidence", ["case_id"])
    op.create_table(
        "approval_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("region_prefix", sa.String(13), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("created_at"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("canonical", sa.Text, nullable=False),
        sa.Column("signed_by", sa.String(100), nullable=True),
        sa.Column("signer_role", sa.String(200), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        _when("signed_at", True),
        sa.Column("audit_seq", sa.BigInteger, nullable=True),
        sa.CheckConstraint("status IN ('draft', 'signed', 'void')", name="ck_approval_batches_status"),
    )
    op.create_index("ix_approval_batches_region_prefix", "approval_batches", ["region_prefix"])
    op.create_table(
        "batch_cases",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("approval_batches.id",
                  name="fk_batch_cases_batch_id_approval_batches"), primary_key=True),
        sa.Column("case_id", sa.Integer, _fk("batch_cases", "case_id", "cases"), primary_key=True),
    )
    op.create_table(
        "approver_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, _fk("approver_keys", "user_id", "users"), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_approver_keys_user_id", "approver_keys", ["user_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("case_id", sa.Integer, _fk("outbox", "case_id", "cases"), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _when("created_at"), _when("next_attempt_at"), _when("claimed_at", True), _when("delivered_at", True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="ck_outbox_status"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "contacts",
        sa.Column("user_id", sa.Integer, _fk("contacts", "user_id", "users"), primary_key=True,
                  autoincrement=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        _when("updated_at"),
    )


def downgrade() -> None:
    for table in ("contacts", "outbox", "approver_keys", "batch_cases", "approval_batches", "case_evidence",
                  "case_events", "cases"):
        op.drop_table(table)
