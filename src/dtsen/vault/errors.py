"""The vault's errors: each says which file or key is concerned and what to do.

A missing key file, a wrong master key, a damaged wrapped key and a tampered ciphertext are
all loud, distinct errors: AES-GCM's tag check fails, and that failure is never turned into
empty or garbage values.
"""

from __future__ import annotations

from dtsen.errors import DtsenError


class VaultError(DtsenError):
    """Root of the vault's errors: keys, wrapped keys, ciphertexts, tokens."""


class KeyFileMissingError(VaultError):
    """The master key file is not where the settings say (lost, or never created)."""


class KeyFileExistsError(VaultError):
    """`dtsen keys init` refuses to overwrite a master key file or existing wrapped keys."""


class KeyFileError(VaultError):
    """The master key file is unreadable, malformed, or readable by other users."""


class KeyProviderError(VaultError):
    """The key provider is misconfigured (environment variable, command, plugin)."""


class WrongMasterKeyError(VaultError):
    """A wrapped key was made under another master key (or version) than the provider holds."""


class WrappedKeyDamagedError(VaultError):
    """A wrapped key does not open under the master key it names: damaged or tampered with."""


class DataKeyMissingError(VaultError):
    """A release has no wrapped data key (never created, or deleted outside dtsen)."""


class KeyShreddedError(VaultError):
    """A release's data key was destroyed on purpose (crypto-shredding): its vault is unreadable."""


class DecryptionError(VaultError):
    """A ciphertext fails its AES-GCM tag: tampered, truncated, moved to another record, or the wrong key."""


class TokenError(VaultError):
    """A token or pseudonym is malformed, of an unknown key version, or of another agency."""
