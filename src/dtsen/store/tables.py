"""The tables of the operational store (SQLAlchemy Core).

This module describes the schema as the code uses it; the migrations under
`dtsen/store/migrations/versions/` create it step by step, and a test checks that the two agree on
SQLite and on PostgreSQL. A new table (cases, transitions, approvals, outbox, ...) is added here
and in a new migration, never by editing an old one.

Accounts and access
    users            people: argon2id password hash, TOTP seed (sealed with AES-GCM), status
    clients          machine accounts of ministries and agencies: client_id, hashed secret, status
    assignments      role grants of a user or a client: role, region prefix, purposes, programmes
    tokens           every issued access token (by its id), its expiry and its revocation
    login_attempts   every login and token request, for rate limits and lockout (no plain names)

Audit
    audit_log        append-only chain: each entry holds the hash of the previous one
    audit_records    which records an entry touched (keyed references), for the citizen tracker
    audit_checkpoints  Ed25519 signatures over the chain's hash at intervals
    audit_head       one row: the last entry's number and hash; locked by each append

Workflow (dtsen.workflow)
    cases            usul, sanggah, ground-check visits and village reports: state, deadline, the
                     proposal, the village meeting, the visit and the verified changes
    case_events      every transition of a case: who, which action, from and to, the reason
    case_evidence    uploaded minutes, photos and documents (the files live outside the store)
    approval_batches batches of verified cases, their canonical content and its Ed25519 signature
    batch_cases      which cases a batch holds
    approver_keys    the public keys approvals were signed with
    outbox           notifications waiting to be delivered, delivered or failed
    contacts         where a staff account is notified (sealed address)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on both databases (SQLite keeps it naive, as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps written to the store must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _when(name: str, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("totp_secret", sa.String(255), nullable=False),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    _when("password_changed_at"),
    _when("last_login_at", nullable=True),
    sa.CheckConstraint("status IN ('active', 'disabled')", name="status"),
)

clients = sa.Table(
    "clients", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    _when("secret_rotated_at"),
    _when("last_token_at", nullable=True),
    sa.CheckConstraint("status IN ('active', 'revoked')", name="status"),
)

assignments = sa.Table(
    "assignments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=True, index=True),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("region_prefix", sa.String(13), nullable=False),
    sa.Column("purposes", sa.JSON, nullable=True),
    sa.Column("programmes", sa.JSON, nullable=True),
    _when("granted_at"),
    sa.Column("granted_by", sa.String(100), nullable=False),
    _when("revoked_at", nullable=True),
    sa.Column("revoked_by", sa.String(100), nullable=True),
    sa.CheckConstraint("(user_id IS NULL) <> (client_id IS NULL)", name="one_holder"),
    sa.Index("ix_assignments_role_region", "role", "region_prefix"),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("jti", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=True, index=True),
    sa.Column("family_id", sa.BigInteger, nullable=True),
    _when("issued_at"),
    _when("expires_at"),
    _when("revoked_at", nullable=True),
    sa.Column("revoked_reason", sa.String(100), nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.CheckConstraint("kind IN ('client', 'session', 'citizen')", name="kind"),
    sa.Index("ix_tokens_expires_at", "expires_at"),
)

login_attempts = sa.Table(
    "login_attempts", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    _when("at"),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Index("ix_login_attempts_subject_at", "subject", "at"),
    sa.Index("ix_login_attempts_source_at", "source", "at"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("role", sa.String(200), nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("records", sa.Text, nullable=False),
    sa.Column("region_code", sa.String(13), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_actor_at", "actor", "at"),
    sa.Index("ix_audit_log_at", "at"),
)

audit_records = sa.Table(
    "audit_records", metadata,
    sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_log.seq"), primary_key=True),
    sa.Column("ref", sa.String(80), primary_key=True),
    sa.Index("ix_audit_records_ref", "ref"),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_log.seq"), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)

audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="one_row"),
)

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first audit entry (the chain's head before anything is written)."""


# -- workflow (dtsen.workflow) ------------------------------------------------------------------

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_type", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("state", sa.String(30), nullable=False),
    sa.Column("region_code", sa.String(13), nullable=False),
    sa.Column("family_id", sa.BigInteger, nullable=True),
    sa.Column("release_id", sa.String(16), nullable=True),
    sa.Column("dedupe_key", sa.String(80), nullable=True, unique=True),
    sa.Column("submitted_by", sa.String(100), nullable=False),
    sa.Column("submitter_family_id", sa.BigInteger, nullable=True),
    sa.Column("contact", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("proposal", sa.JSON, nullable=False),
    sa.Column("musdes", sa.JSON, nullable=True),
    sa.Column("officer_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("visit", sa.JSON, nullable=True),
    sa.Column("changes", sa.JSON, nullable=True),
    sa.Column("batch_id", sa.Integer, nullable=True),
    sa.Column("in_release", sa.String(16), nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("last_reason", sa.Text, nullable=True),
    _when("created_at"),
    _when("updated_at"),
    _when("state_since"),
    _when("deadline_at", nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_cases_region_code", "region_code"),
    sa.Index("ix_cases_state_deadline_at", "state", "deadline_at"),
    sa.Index("ix_cases_family_id", "family_id"),
    sa.Index("ix_cases_submitter_family_id_created_at", "submitter_family_id", "created_at"),
)

case_events = sa.Table(
    "case_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    _when("at"),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("role", sa.String(200), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("from_state", sa.String(30), nullable=True),
    sa.Column("to_state", sa.String(30), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("audit_seq", sa.BigInteger, nullable=True),
)

case_evidence = sa.Table(
    "case_evidence", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("media_type", sa.String(40), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("uploaded_by", sa.String(100), nullable=False),
    _when("uploaded_at"),
)

approval_batches = sa.Table(
    "approval_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("region_prefix", sa.String(13), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    _when("created_at"),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("canonical", sa.Text, nullable=False),
    sa.Column("signed_by", sa.String(100), nullable=True),
    sa.Column("signer_role", sa.String(200), nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Column("signature", sa.String(128), nullable=True),
    _when("signed_at", nullable=True),
    sa.Column("audit_seq", sa.BigInteger, nullable=True),
    sa.CheckConstraint("status IN ('draft', 'signed', 'void')", name="status"),
)

batch_cases = sa.Table(
    "batch_cases", metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("approval_batches.id"), primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), primary_key=True),
)

approver_keys = sa.Table(
    "approver_keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("public_key", sa.Text, nullable=False),
    _when("created_at"),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("idempotency_key", sa.String(80), nullable=False, unique=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    _when("created_at"),
    _when("next_attempt_at"),
    _when("claimed_at", nullable=True),
    _when("delivered_at", nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="status"),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True, autoincrement=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    _when("updated_at"),
)
