"""The `[workflow]` section of the project file: the case workflow's files, limits and
notification channels."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    machine_file: str | None = Field(
        None, description="A project's own state machine (TOML, as dtsen/workflow/machine.toml) instead of the "
        "built-in one; checked at start-up against the policy.")
    evidence_dir: Path = Field(
        Path("store/bukti"), description="Where uploaded evidence and minutes are kept (outside every served "
        "directory; files named by their SHA-256, mode 0600).")
    max_evidence_bytes: int = Field(
        5 * 2**20, ge=1024, le=100 * 2**20, description="Largest evidence file accepted (images and PDF).")
    citizen_cases_per_day: int = Field(
        3, ge=1, description="Usul and sanggah one citizen's family may file per day.")
    citizen_session_minutes: int = Field(
        30, ge=1, le=240, description="Lifetime of a citizen's session after proving who they are.")
    export_dir: Path = Field(
        Path("workflow/sumber"), description="Where `dtsen workflow export` (and `dtsen build`) write the approved "
        "changes as the field-check sources.")
    export_on_build: bool = Field(
        True, description="`dtsen build` first writes the approved, signature-verified batches of the store as "
        "sources and afterwards marks the cases that entered the release.")
    notify_dir: Path | None = Field(
        None, description="File adapter: every notification is written as one JSON file here (tests, and sites "
        "whose own gateway picks the files up).")
    smtp_host: str | None = Field(None, description="E-mail adapter: the SMTP server (STARTTLS on port 587).")
    smtp_port: int = Field(587, ge=1, le=65535, description="E-mail adapter: the SMTP port.")
    smtp_sender: str = Field("dtsen@localhost", description="E-mail adapter: the From address.")
    smtp_user_env: str | None = Field(
        None, description="E-mail adapter: environment variable holding `user:password` for SMTP login.")
    sms_gateway_url: str | None = Field(
        None, description="SMS adapter: the HTTPS endpoint of an SMS gateway (JSON POST, see dtsen.workflow.adapters).")
    whatsapp_gateway_url: str | None = Field(
        None, description="WhatsApp adapter: the HTTPS endpoint of a WhatsApp Business gateway (JSON POST).")
    gateway_token_env: str | None = Field(
        None, description="Environment variable holding the bearer token sent to the SMS and WhatsApp gateways.")
    deliver_max_attempts: int = Field(
        8, ge=1, le=50, description="Attempts to deliver one notification before it is marked failed.")
    deliver_backoff_seconds: int = Field(
        60, ge=1, description="Wait after the first failed attempt; doubled after each further one (at most a day).")
