"""Exports for people: the one spreadsheet writer (CSV and XLSX) and the rule its cells follow."""

from dtsen.export.cells import Kind, clean, csv_cell, is_formula_like, neutralise, xlsx_cell
from dtsen.export.spreadsheet import (
    BOM,
    Choices,
    Column,
    ExportError,
    Sheet,
    write_csv,
    write_csv_batches,
    write_xlsx,
)

__all__ = [
    "BOM",
    "Choices",
    "Column",
    "ExportError",
    "Kind",
    "Sheet",
    "clean",
    "csv_cell",
    "is_formula_like",
    "neutralise",
    "write_csv",
    "write_csv_batches",
    "write_xlsx",
    "xlsx_cell",
]
