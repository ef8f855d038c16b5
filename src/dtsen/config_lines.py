"""Where a setting stands in the project file, so that errors can name its line.

`tomllib` gives values, not positions; this index re-reads the text for table headers and
`key = value` lines. It understands the plain TOML that `dtsen init` writes (tables, dotted and
quoted keys); for anything it cannot place it falls back to the nearest enclosing table.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")
_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+)""")


def _split(dotted: str) -> tuple[str, ...]:
    return tuple(m.group(1) or m.group(2) or m.group(3) or "" for m in _PART.finditer(dotted))


class LineIndex:
    """Maps key paths like ('sources', 'dtks', 'columns', 'NIK') to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = _split(header.group(1))
                self.lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self.lines.setdefault((*table, *_split(key.group(1))), number)

    def line(self, path: tuple[str, ...]) -> int | None:
        """The line of `path`, or of its nearest ancestor that is in the file."""
        for n in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:n]))
            if found is not None:
                return found
        return None

    def where(self, label: str, path: tuple[str, ...]) -> str:
        dotted = ".".join(path)
        number = self.line(path)
        return f"{label} line {number} ({dotted})" if number else f"{label} ({dotted})"
