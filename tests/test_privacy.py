"""Identifiers masked in any text dtsen prints; owner-only files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dtsen.privacy import mask_identifiers, mask_nik, owner_only


def test_mask_nik_keeps_the_first_and_last_four_digits() -> None:
    assert mask_nik("3204055203850002") == "3204********0002"
    assert mask_nik("3273010101900001") == "3273********0001"
    assert mask_nik("12345678") == "********"


@pytest.mark.parametrize(("text", "masked"), [
    ("NIK 3204055203850002 tidak valid", "NIK 3204********0002 tidak valid"),
    ("row 12: '3204055203850002' and kk=3204051203090007.", "row 12: '3204********0002' and kk=3204********0007."),
    ("3204055203850002.0 came through a float", "3204********0002.0 came through a float"),
    ("nik3204055203850002x", "nik3204********0002x"),
    ("a 17-digit run 32040552038500021", "a 17-digit run 3204*********0021"),
    ("grouped 3204 0552 0385 0002, dotted 3204.0552.0385.0002", "grouped 3204 **** **** 0002, dotted 3204.****.****.0002"),
    ("dashed 3204-0552-0385-0002", "dashed 3204-****-****-0002"),
    # not identifiers: shorter runs, codes, dates, mixed separators, Excel's float form
    ("row 123456789012345 of 15 digits", "row 123456789012345 of 15 digits"),
    ("village 32.04.05.2001 on 2025-06-30", "village 32.04.05.2001 on 2025-06-30"),
    ("3.20405E+15 and 3204 0552.0385-0002", "3.20405E+15 and 3204 0552.0385-0002"),
])  # fmt: skip
def test_mask_identifiers_known_answers(text: str, masked: str) -> None:
    assert mask_identifiers(text) == masked


def test_owner_only_makes_new_files_and_folders_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert owner_only() == 0o022
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "f.txt").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "d" / "f.txt").stat().st_mode) == 0o600
