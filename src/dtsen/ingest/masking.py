"""Personal data kept out of messages: NIK-like numbers masked, as `3204********0002`.

Error messages, notes and the summaries of `dtsen sources check` name files, rows and columns,
never a person: a run of 8 or more digits (a NIK, a KK, a phone number; spaces, dots and dashes
between digits count as part of it) is shown with its first and last four digits only (or, when
shorter than 12 digits, its last two). Names and addresses are never printed at all; the code
that summarises values prints only coded fields, number shapes and masked identifiers.
"""

from __future__ import annotations

import re

_DIGIT_RUNS = {n: re.compile(rf"\d(?:[ .\-]?\d){{{n - 1},}}") for n in (8, 12)}


def mask_number(digits: str) -> str:
    """One identifier's digits masked: 16 digits -> `3204********0002`."""
    n = len(digits)
    if n >= 12:
        return digits[:4] + "*" * (n - 8) + digits[-4:]
    return "*" * (n - 2) + digits[-2:]


def mask_digits(text: str, min_digits: int = 8) -> str:
    """`text` with every run of `min_digits` (8 or 12) or more digits masked (`mask_number`)."""
    return _DIGIT_RUNS[min_digits].sub(lambda m: mask_number(re.sub(r"\D", "", m.group(0))), text)
