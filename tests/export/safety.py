"""What a spreadsheet program would run as a formula, checked the way it reads a file back."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import openpyxl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# ="..." with every inner quote doubled: one string constant, which runs nothing
_LITERAL = re.compile(r'^="(?:[^"]|"")*"$', re.DOTALL)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$")  # a number: never a formula


def formula_like(text: str) -> bool:
    return text.lstrip(" \u00a0").startswith(TRIGGERS)


def csv_cell_is_safe(text: str) -> bool:
    """A CSV cell that Excel or LibreOffice opens without running anything: not formula-like,
    or a plain number, or neutralised (a leading ') or a ="..." text literal; no control
    characters but tab, line feed and carriage return."""
    if _CONTROL.search(text):
        return False
    if not formula_like(text):
        return True
    return text.startswith("'") or bool(_LITERAL.match(text)) or bool(_NUMBER.match(text))


def xlsx_cell_is_safe(value: Any, data_type: str) -> bool:
    """An XLSX cell that is no formula and no formula-like text."""
    if data_type == "f":
        return False
    if isinstance(value, str):
        return not _CONTROL.search(value) and (not formula_like(value) or bool(_NUMBER.match(value)))
    return True


def csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path}: no UTF-8 byte-order mark"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def unsafe_csv_cells(path: Path) -> list[str]:
    return [v for row in csv_rows(path) for v in row if not csv_cell_is_safe(v)]


def unsafe_xlsx_cells(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    bad = [
        f"{ws.title}!{c.coordinate}={c.value!r}"
        for ws in book.worksheets
        for row in ws.iter_rows()
        for c in row
        if not xlsx_cell_is_safe(c.value, c.data_type)
    ]
    book.close()
    return bad
