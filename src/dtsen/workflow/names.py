"""Names compared as people write them: the same name once accents, case, punctuation and
spacing are set aside, or the same words in another order ("SITI AMINAH" and "Aminah, Siti")."""

from __future__ import annotations

import re
import unicodedata


def name_key(text: str) -> tuple[str, frozenset[str]]:
    """The name as comparable text, and its set of words."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    words = re.sub(r"[^A-Z ]+", " ", plain).split()
    return " ".join(words), frozenset(words)


def same_name(a: str, b: str) -> bool:
    fa, wa = name_key(a)
    fb, wb = name_key(b)
    return bool(fa) and (fa == fb or wa == wb)
