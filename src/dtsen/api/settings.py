"""The `[api]` section of the project file: limits, CORS and documentation of the service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 above it).")
    rate_per_minute: int = Field(
        600, ge=1, description="Requests per minute one client (token subject, or address without a token) may make."
    )
    rate_burst: int = Field(60, ge=1, description="Requests one client may make at once before the rate applies.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS); empty: none (closed)."
    )
    docs: bool = Field(True, description="Serve the OpenAPI description at /openapi.json and the docs at /docs.")
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is trusted for the client's address.",
    )
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, ge=1024,
        description="Largest list accepted for bulk matching (POST /api/match), in bytes; other requests keep "
                    "max_body_bytes.",
    )
    dci_registry_id: str = Field(
        "dtsen", min_length=1, max_length=99,
        description="This registry's id in DCI messages (the sender_id of its responses and callbacks; requests "
                    "addressed to another receiver_id are refused).",
    )
    dci_callback_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port) to which DCI callbacks and notifications may be POSTed; a request "
                    "whose sender_uri lies elsewhere is refused (err.sender_uri.invalid). Empty: asynchronous DCI "
                    "calls are refused and only the sync endpoints answer.",
    )
    dci_require_signatures: bool = Field(
        False, description="Refuse DCI requests without a valid Ed25519 signature (the senders' public keys are "
                           "read from <security.key_dir>/dci-senders/<sender_id>/<key_id>.pub.pem).",
    )
