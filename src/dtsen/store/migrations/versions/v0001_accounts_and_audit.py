"""Accounts (users, clients, role assignments, tokens, login attempts) and the audit chain.

The audit tables are append-only in the database itself: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL), so that only someone who drops the triggers can alter the chain, and
`dtsen audit verify` still finds what they did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dtsen.store.tables import GENESIS_HASH, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "audit_records", "audit_checkpoints")

_TRIGGERS: dict[str, tuple[list[str], list[str]]] = {
    # dialect: (statements that create, statements that drop)
    "sqlite": (
        [f"CREATE TRIGGER {t}_no_{verb.lower()} BEFORE {verb} ON {t} "
         f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
         for t in APPEND_ONLY for verb in ("UPDATE", "DELETE")],
        [f"DROP TRIGGER IF EXISTS {t}_no_{verb.lower()}" for t in APPEND_ONLY for verb in ("UPDATE", "DELETE")],
    ),
    "postgresql": (
        ["CREATE FUNCTION dtsen_append_only() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"]
        + [f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
           "FOR EACH ROW EXECUTE FUNCTION dtsen_append_only()" for t in APPEND_ONLY]
        + [f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
           "FOR EACH STATEMENT EXECUTE FUNCTION dtsen_append_only()" for t in APPEND_ONLY],
        [f"DROP TRIGGER IF EXISTS {t}_{name} ON {t}" for t in APPEND_ONLY for name in ("append_only", "no_truncate")]
        + ["DROP FUNCTION IF EXISTS dtsen_append_only()"],
    ),
}


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("totp_secret", sa.String(255), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _when("created_at"), _when("updated_at"), _when("password_changed_at"), _when("last_login_at", True),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_users_status"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _when("created_at"), _when("updated_at"), _when("secret_rotated_at"), _when("last_token_at", True),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_clients_status"),
        sa.UniqueConstraint("client_id", name="uq_clients_client_id"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_assignments_user_id_users"), nullable=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id", name="fk_assignments_client_id_clients"),
                  nullable=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("region_prefix", sa.String(13), nullable=False),
        sa.Column("purposes", sa.JSON, nullable=True),
        sa.Column("programmes", sa.JSON, nullable=True),
        _when("granted_at"),
        sa.Column("granted_by", sa.String(100), nullable=False),
        _when("revoked_at", True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.CheckConstraint("(user_id IS NULL) <> (client_id IS NULL)", name="ck_assignments_one_holder"),
    )
    op.create_index("ix_assignments_user_id", "assignments", ["user_id"])
    op.create_index("ix_assignments_client_id", "assignments", ["client_id"])
    op.create_index("ix_assignments_role_region", "assignments", ["role", "region_prefix"])
    op.create_table(
        "tokens",
        sa.Column("jti", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_tokens_user_id_users"), nullable=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id", name="fk_tokens_client_id_clients"),
                  nullable=True),
        sa.Column("family_id", sa.BigInteger, nullable=True),
        _when("issued_at"), _when("expires_at"), _when("revoked_at", True),
        sa.Column("revoked_reason", sa.String(100), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.CheckConstraint("kind IN ('client', 'session', 'citizen')", name="ck_tokens_kind"),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])
    op.create_index("ix_tokens_client_id", "tokens", ["client_id"])
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_login_attempts_user_id_users"),
                  nullable=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id", name="fk_login_attempts_client_id_clients"),
                  nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        _when("at"),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_login_attempts_subject_at", "login_attempts", ["subject", "at"])
    op.create_index("ix_login_attempts_source_at", "login_attempts", ["source", "at"])
    op.create_table(
        "audit_log",
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
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_log.seq", name="fk_audit_records_seq_audit_log"),
                  primary_key=True),
        sa.Column("ref", sa.String(80), primary_key=True),
    )
    op.create_index("ix_audit_records_ref", "audit_records", ["ref"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_log.seq", name="fk_audit_checkpoints_seq_audit_log"),
                  primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
    )
    assert head is not None
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    for statement in _TRIGGERS[op.get_bind().dialect.name][0]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _TRIGGERS[op.get_bind().dialect.name][1]:
        op.execute(statement)
    for table in ("audit_head", "audit_checkpoints", "audit_records", "audit_log", "login_attempts", "tokens",
                  "assignments", "clients", "users"):
        op.drop_table(table)
