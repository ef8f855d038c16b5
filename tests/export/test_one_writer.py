"""Every spreadsheet dtsen writes for people goes through `dtsen.export`: no other module writes
CSV or XLSX itself (read over the source tree, as a linter would)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "dtsen"
WRITER = SRC / "export"

# Files that may write CSV themselves, how often at most, and why: none of them is an export for
# people. A new write anywhere else, or one more in these files, fails the test.
ALLOWED: dict[str, tuple[int, str]] = {
    "ingest/csv_reader.py": (1, "re-joins rejected records into a string buffer for the reader; writes no file"),
    "welfare/training.py": (1, "pandas to_csv() without a path: the text of a frame, hashed; writes no file"),
    "verify/field_results.py": (2, "the synthetic ODK export and officer list of the demo and the tests"),
    "workflow/export.py": (1, "the approved changes as a build source (0600), read back by ingest byte for byte; "
                              "not a spreadsheet for people"),
}
SYNTHETIC = SRC / "synth"  # synthetic ministry files: raw on purpose, they test what ingest meets


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module or object it stands for (`pacsv` -> `pyarrow.csv`)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str:
    """The dotted name a call target spells, with its first part resolved through the imports."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    else:
        parts.append("?")
    return ".".join(reversed(parts))


FORBIDDEN_CALLS = (
    "csv.writer",
    "csv.DictWriter",
    "pyarrow.csv.write_csv",
    "pyarrow.csv.CSVWriter",
    "openpyxl.Workbook",
    "openpyxl.workbook.Workbook",
    "openpyxl.cell.WriteOnlyCell",
    "xlsxwriter.Workbook",
)
FORBIDDEN_IMPORTS = ("xlsxwriter", "openpyxl.Workbook", "openpyxl.workbook", "openpyxl.cell", "openpyxl.writer")


def writes(path: Path) -> list[str]:
    """The spreadsheet writes of one source file, as 'line: what'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            for a in node.names:
                full = f"{module}.{a.name}" if module else a.name
                if full.startswith(FORBIDDEN_IMPORTS):
                    found.append(f"{node.lineno}: imports {full}")
        if not isinstance(node, ast.Call):
            continue
        target = _dotted(node.func, aliases)
        if target in FORBIDDEN_CALLS:
            found.append(f"{node.lineno}: calls {target}")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("to_csv", "to_excel", "write_excel"):
            found.append(f"{node.lineno}: calls .{node.func.attr}()")
        elif target.endswith(".write_csv") and not target.startswith("dtsen.export"):
            found.append(f"{node.lineno}: calls {target}")  # polars and the like
    return found


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if WRITER not in p.parents and SYNTHETIC not in p.parents)


def test_no_module_but_the_writer_writes_csv_or_xlsx() -> None:
    offenders: dict[str, list[str]] = {}
    for path in _sources():
        rel = path.relative_to(SRC).as_posix()
        found = writes(path)
        allowed = ALLOWED.get(rel, (0, ""))[0]
        if len(found) > allowed:
            offenders[rel] = found
    assert not offenders, (
        "write spreadsheets through dtsen.export (write_csv, write_csv_batches, write_xlsx), not directly: "
        + "; ".join(f"{k} ({', '.join(v)})" for k, v in offenders.items())
    )


def test_the_check_finds_every_kind_of_direct_write(tmp_path: Path) -> None:
    # the detector itself, on a file that does each forbidden thing once
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import csv\n"
        "import pyarrow.csv as pacsv\n"
        "from pyarrow import csv as pa_csv\n"
        "from openpyxl import Workbook\n"
        "import openpyxl\n"
        "import xlsxwriter\n"
        "csv.writer(f)\n"
        "csv.DictWriter(f, [])\n"
        "pacsv.write_csv(t, p)\n"
        "pa_csv.CSVWriter(f, s)\n"
        "Workbook()\n"
        "openpyxl.Workbook()\n"
        "frame.to_csv(p)\n"
        "frame.to_excel(p)\n"
        "polars_frame.write_csv(p)\n"
        "from dtsen.export import write_csv\n"
        "write_csv(p, [], [])\n"  # the writer itself: allowed
        "openpyxl.load_workbook(p)\n",  # reading: allowed
        encoding="utf-8",
    )
    found = writes(sample)
    assert Counter(line.split(": ", 1)[1].split()[0] for line in found) == Counter({"calls": 9, "imports": 2})
    assert not any(f.startswith("17:") for f in found)  # dtsen.export's write_csv
    assert not any("load_workbook" in f for f in found)


def test_the_exceptions_are_still_needed() -> None:
    # an allowance that nothing uses any more is removed, so that it cannot hide a new write
    for rel, (count, why) in ALLOWED.items():
        path = SRC / rel
        if path.exists():
            assert len(writes(path)) <= count, f"{rel}: more writes than allowed ({why})"
