"""Personal data at rest: master keys and their providers, the keyring of wrapped keys, a
release's encrypted vault, keyed tokens and per-agency pseudonyms, crypto-shredding.

    master      the KeyProvider interface (HSM and KMS extension points), AES-GCM key wrap
    providers   file (default), env, command and plugin providers; `provider_for(settings)`
    keyring     wrapped token and release data keys beside the releases; rotation; shredding
    cipher      AES-256-GCM per value over Arrow columns, bound to record and place
    vault       `ReleaseVault`: a release's vault files, written and read by record id
    tokens      HMAC-SHA-256 tokens of NIK, KK, names, ...; token-key migration
    pseudonyms  per-agency pseudonyms of person and family ids, and their translation back
"""

from dtsen.vault.errors import (
    DataKeyMissingError,
    DecryptionError,
    KeyFileError,
    KeyFileExistsError,
    KeyFileMissingError,
    KeyProviderError,
    KeyShreddedError,
    TokenError,
    VaultError,
    WrappedKeyDamagedError,
    WrongMasterKeyError,
)
from dtsen.vault.keyring import Keyring, KeyStatus, RewrapReport, ShredEvent, TokenKeys
from dtsen.vault.master import KeyProvider, LocalMasterKeys, MasterKeyRef, WrappedKey
from dtsen.vault.providers import create_key_file, provider_for, read_key_file
from dtsen.vault.pseudonyms import pseudonyms, translate
from dtsen.vault.tokens import normalise, token_map, token_udf, token_versions, tokenize, tokenized_schema, tokens
from dtsen.vault.vault import ReleaseVault, VaultWrite

__all__ = [
    "DataKeyMissingError",
    "DecryptionError",
    "KeyFileError",
    "KeyFileExistsError",
    "KeyFileMissingError",
    "KeyProvider",
    "KeyProviderError",
    "KeyShreddedError",
    "KeyStatus",
    "Keyring",
    "LocalMasterKeys",
    "MasterKeyRef",
    "ReleaseVault",
    "RewrapReport",
    "ShredEvent",
    "TokenError",
    "TokenKeys",
    "VaultError",
    "VaultWrite",
    "WrappedKey",
    "WrappedKeyDamagedError",
    "WrongMasterKeyError",
    "create_key_file",
    "normalise",
    "provider_for",
    "pseudonyms",
    "read_key_file",
    "token_map",
    "token_udf",
    "token_versions",
    "tokenize",
    "tokenized_schema",
    "tokens",
    "translate",
]
