"""Keeping personal data where it belongs: identifiers masked in any text dtsen prints, and
files that only their owner can read.

`mask_nik("3204055203850002")` gives `3204********0002`: the first four digits (province and
regency of first registration) and the last four are kept, so that a person can be told apart
in a message without the number being usable. `mask_identifiers(text)` does that to every run
of 16 or more digits in a text (NIK, KK), also when written in groups of four
(`3204 0552 0385 0002`, `3204.0552.0385.0002`, `3204-0552-0385-0002`): error messages, logs and
free text recorded in a release's history go through it.

`owner_only()` sets the process's umask to 077, so that every folder dtsen creates is 0700 and
every file 0600 (the CLI calls it once at start).
"""

from __future__ import annotations

import os
import re

# a run of 16 or more digits not inside a longer run of digits
_RUN = re.compile(r"(?<!\d)\d{16,}(?!\d)")
# four groups of four digits with one separator repeated (space, dot, hyphen)
_GROUPED = re.compile(r"(?<!\d)(\d{4})([ .\-])(\d{4})\2(\d{4})\2(\d{4})(?!\d)")

OWNER_ONLY_UMASK = 0o077


def mask_nik(value: str) -> str:
    """`3204055203850002` -> `3204********0002`: first and last four digits kept, the rest
    starred (length kept). Values of eight characters or fewer are starred whole."""
    text = str(value)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_identifiers(text: str) -> str:
    """Every NIK- or KK-like number in `text` masked (see the module docstring)."""
    masked = _GROUPED.sub(lambda m: f"{m[1]}{m[2]}****{m[2]}****{m[2]}{m[5]}", str(text))
    return _RUN.sub(lambda m: mask_nik(m[0]), masked)


def owner_only() -> int:
    """Make every file and folder this process creates its owner's only; returns the old umask."""
    return os.umask(OWNER_ONLY_UMASK)
