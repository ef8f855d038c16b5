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
