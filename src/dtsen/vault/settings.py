"""The `[vault]` section of the project file: where the master key comes from.

No key material is ever a setting (the settings are hashed into every release manifest): the
file provider reads a key file, the environment provider reads `DTSEN_MASTER_KEY`, the command
provider runs a command, and a plugin talks to an HSM or a KMS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    provider: Literal["file", "env", "command", "plugin"] = Field(
        "file",
        description="Master key provider: 'file' (a key file from `dtsen keys init`), 'env' (DTSEN_MASTER_KEY), "
                    "'command' (key_command prints the key), 'plugin' (an HSM or KMS provider named in plugin).",
    )
    key_file: Path = Field(
        Path("keys/master.key"),
        description="The file provider's master key file (mode 0600; never inside the release store; keep a copy offline).",
    )
    key_command: list[str] = Field(
        default_factory=list,
        description="The command provider's command (no shell) printing 'key_id:version:base64key' lines, active first.",
    )
    plugin: str = Field("", description="The plugin provider's factory, 'package.module:function', called with the settings.")
    release: bool = Field(
        False,
        description="Seal every release: identifying values only in its encrypted vault, keyed tokens in the tables, "
                    "and the work directory emptied after publishing (needs `dtsen keys init`).",
    )
    workers: int = Field(
        2, ge=1, le=64, description="Processes that encrypt and decrypt large columns (1: in this process only)."
    )
