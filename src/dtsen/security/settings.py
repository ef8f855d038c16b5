"""The `[security]` section of the project file: keys, tokens, logins, passwords, the audit chain."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    key_dir: Path = Field(
        Path("keys"),
        description="Directory of the service's key files (created owner-only: token signing, audit signing, "
        "secret hashing, TOTP sealing), relative to the project.",
    )
    policy_file: Path | None = Field(
        None, description="A policy rule table (TOML) to use instead of the built-in one (dtsen/security/policy.toml)."
    )
    client_token_minutes: int = Field(15, ge=1, le=1440, description="Lifetime of a machine client's access token.")
    session_minutes: int = Field(480, ge=5, le=1440, description="Lifetime of a person's session token after login.")
    max_failed_logins: int = Field(
        5, ge=1, description="Failed logins in a row (per account name or client id) after which it is locked out."
    )
    lockout_minutes: int = Field(15, ge=1, description="How long a locked-out account name or client id waits.")
    max_failed_per_source: int = Field(
        50, ge=1, description="Failed logins from one address within lockout_minutes after which it is refused."
    )
    password_min_length: int = Field(12, ge=8, description="Shortest password accepted for a person's account.")
    argon2_time_cost: int = Field(3, ge=1, description="argon2id passes when hashing a password.")
    argon2_memory_kib: int = Field(65_536, ge=1024, description="argon2id memory per password hash, in KiB.")
    totp_issuer: str = Field("DTSEN", description="Issuer name shown by authenticator apps for the TOTP second factor.")
    audit_checkpoint_every: int = Field(
        1000, ge=1, description="A signed checkpoint of the audit chain is written every this many entries."
    )
