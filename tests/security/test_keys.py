"""Key files: created owner-only, reused, refused when others can read them; sealing and keyed
hashes; and identifiers masked in logs."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from dtsen.security.errors import KeyFileError
from dtsen.security.keys import AUDIT_KEY, AUDIT_PUBLIC, HASHING_KEY, TOKEN_KEY, KeyStore
from dtsen.security.masking import MaskingFilter, has_identifier, mask


def test_keys_are_created_owner_only_and_reused(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    token_key = keys.token_key()
    signer_id = keys.audit_key_id()
    keys.keyed_hash("x", "y")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for name in (TOKEN_KEY, HASHING_KEY, AUDIT_KEY):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600, name
    assert (tmp_path / "keys" / AUDIT_PUBLIC).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = KeyStore(tmp_path / "keys")
    assert again.token_key() == token_key and again.audit_key_id() == signer_id
    assert len(token_key) == 32 and KeyStore(tmp_path / "other").token_key() != token_key


def test_keys_readable_by_others_are_refused(tmp_path: Path) -> None:
    KeyStore(tmp_path / "keys").token_key()
    os.chmod(tmp_path / "keys" / TOKEN_KEY, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyStore(tmp_path / "keys").token_key()
    os.chmod(tmp_path / "keys" / TOKEN_KEY, 0o600)
    os.chmod(tmp_path / "keys", 0o755)
    with pytest.raises(KeyFileError, match="chmod 700"):
        KeyStore(tmp_path / "keys").token_key()


def test_sealing_and_keyed_hashes(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    sealed = keys.seal(b"JBSWY3DPEHPK3PXP", b"totp")
    assert b"JBSWY3DPEHPK3PXP" not in sealed.encode() and keys.unseal(sealed, b"totp") == b"JBSWY3DPEHPK3PXP"
    assert keys.seal(b"JBSWY3DPEHPK3PXP", b"totp") != sealed  # a fresh nonce every time
    with pytest.raises(KeyFileError):
        keys.unseal(sealed, b"other context")
    assert keys.keyed_hash("a", "v") == keys.keyed_hash("a", "v") != keys.keyed_hash("b", "v")


@pytest.mark.parametrize(("text", "masked"), [
    ("nik=3204055203850002&x=1", "nik=3204********0002&x=1"),
    ("KK 3204 0552 0385 0002 ada", "KK 3204********0002 ada"),
    ("3204-0552-0385-0002", "3204********0002"),
    ("12345678901234567 is 17 digits", "12345678901234567 is 17 digits"),
    ("region 32.04.05.2001", "region 32.04.05.2001"),
])
def test_identifiers_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked
    assert has_identifier(text) == (masked != text)


def test_the_masking_filter_masks_arguments_and_drops_exception_text(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("dtsen.test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="dtsen.test.masking"):
        logger.info("lookup %s", "3204055203850002")
        try:
            raise ValueError("bad nik 3204055203850002")
        except ValueError:
            logger.exception("failed")
    assert "3204055203850002" not in caplog.text
    assert "lookup 3204********0002" in caplog.text
