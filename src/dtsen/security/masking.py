"""Personal identifiers out of anything logged: a 16-digit NIK or KK number becomes
`3204********0002`, also when written in groups of four.

`MaskingFilter` is installed on the service's loggers (and uvicorn's) as a last line of defence;
the first is that the code never logs request paths, query strings or bodies.
"""

from __future__ import annotations

import logging
import re

_IDENTIFIER = re.compile(r"(?<![0-9])(\d{4})([ .-]?)(\d{4})\2(\d{4})\2(\d{4})(?![0-9])")


def mask(text: str) -> str:
    """`text` with every 16-digit identifier masked to its first and last four digits."""
    return _IDENTIFIER.sub(lambda m: f"{m.group(1)}********{m.group(5)}", text)


def has_identifier(text: str) -> bool:
    """Whether `text` holds something shaped like a NIK or KK number."""
    return _IDENTIFIER.search(text) is not None


class MaskingFilter(logging.Filter):
    """Masks identifiers in a record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and has_identifier(str(record.exc_info[1])):
            record.exc_info = None  # the exception's text would carry the identifier
            record.exc_text = None
        return True
