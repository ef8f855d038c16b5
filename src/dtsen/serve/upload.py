"""A ministry's list for bulk matching (*padan data*): read and standardized by ingest's own code.

The file (CSV, XLSX or Parquet) is staged by `dtsen.ingest.readers.stage_file` (encodings,
delimiters, numeric NIK cells, ragged rows) and checked and standardized by
`dtsen.ingest.validate.check_source` as a person source would be: the NIK parsed (a NIK damaged
by Excel or malformed is withheld and the reason kept), names without titles with their tokens
and phonetic key, dates in any of the accepted formats, sex codes translated. Every row of the
file comes back: the rows the reader could not split, with their reason, too.

Columns are found by name (case and spaces ignored): see `ALIASES`; or given explicitly.
NIK, name and birth date are required columns (their cells may be empty); sex and a village
code are used when present.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.config import DEFAULT_DATE_FORMATS, SourceMapping
from dtsen.engine import Engine
from dtsen.errors import DtsenError, Problem
from dtsen.ingest.check_tables import RegionTables
from dtsen.ingest.pipeline import StagedSource
from dtsen.ingest.readers import ReadOptions, stage_file
from dtsen.ingest.reasons import severities
from dtsen.ingest.validate import check_source
from dtsen.reference.regions import RegionMaster

SOURCE = "padan"
FIELDS = ("nik", "full_name", "birth_date", "sex", "region_code")
REQUIRED = ("nik", "full_name", "birth_date")
ALIASES: dict[str, tuple[str, ...]] = {
    "nik": ("nik", "no nik", "nomor nik", "nomor induk kependudukan", "nin", "national id"),
    "full_name": ("nama", "nama lengkap", "name", "full name", "nama penerima", "nama anggota"),
    "birth_date": ("tanggal lahir", "tgl lahir", "tanggal_lahir", "birth date", "date of birth", "dob", "tgl_lhr"),
    "sex": ("jenis kelamin", "jk", "sex", "gender", "kelamin"),
    "region_code": ("kode wilayah", "kode desa", "kode kelurahan", "region code", "kode_desa_kelurahan"),
}


class UploadError(DtsenError):
    """An uploaded list cannot be matched: missing columns, or an unreadable file."""


@dataclass
class Upload:
    """The checked rows (`rows`: row, sheet, the standardized fields, `reasons`), the rows the
    reader could not split (`unreadable`: row, sheet, reasons) and the count of rows read."""

    rows: ir.Table
    unreadable: ir.Table
    rows_read: int
    columns: dict[str, str]  # file column -> field


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", name.strip().lower())


def find_columns(columns: list[str], given: dict[str, str] | None = None) -> dict[str, str]:
    """file column -> field, by `given` (file column -> field) or by the aliases."""
    if given:
        unknown = [f for f in given.values() if f not in FIELDS]
        if unknown:
            raise UploadError(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
        absent = [c for c in given if c not in columns]
        if absent:
            raise UploadError(f"the file has no column {', '.join(absent)}; it has: {', '.join(columns)}")
        mapping = dict(given)
    else:
        mapping = {}
        keys = {_key(c): c for c in columns}
        for field, aliases in ALIASES.items():
            for alias in aliases:
                if _key(alias) in keys:
                    mapping[keys[_key(alias)]] = field
                    break
    missing = [f for f in REQUIRED if f not in mapping.values()]
    if missing:
        raise UploadError(
            f"kolom wajib tidak ditemukan / required column(s) not found: {', '.join(missing)}",
            [Problem(f"the file's columns are: {', '.join(columns)}",
                     hint="name them NIK, NAMA and TANGGAL_LAHIR, or give the mapping (file column -> field)")],
        )
    return mapping


def read_upload(
    engine: Engine,
    path: Path,
    work_dir: Path,
    *,
    columns: dict[str, str] | None = None,
    date_formats: list[str] | None = None,
    sheet: str | None = None,
    as_of: dt.date | None = None,
) -> Upload:
    """Stage, check and standardize an uploaded list (see the module docstring)."""
    path = Path(path)
    staged = stage_file(path, Path(work_dir) / "staged", ReadOptions(sheet=sheet))
    mapping = find_columns(staged.columns, columns)
    source = SourceMapping(
        level="person", files=[str(path)], as_of=as_of or dt.date.today(), columns=mapping,
        date_formats=list(date_formats or DEFAULT_DATE_FORMATS),
    )
    label = path.name
    staged_source = StagedSource(SOURCE, source, [(label, staged)])
    regions = RegionTables.build(engine, RegionMaster.empty())
    checked = check_source(engine, staged_source.raw(engine), SOURCE, source, regions, severity=severities({}),
                           max_age=120, excel_zero_share=0.5)
    reasons = ibis.literal(";").join([checked._reject, checked.flags]).nullif("")
    rows = checked.select(
        row=checked.row.cast("int64"), sheet=checked.sheet.cast("string"), nik=checked.nik, name=checked.name,
        name_tokens=checked.name_tokens, name_phonetic=checked.name_phonetic, birth_date=checked.birth_date,
        sex=checked.sex, region_code=checked.region_code, reasons=reasons,
    )
    rejects = engine.read_parquet(staged.rejects)
    unreadable = rejects.select(row=rejects._row.cast("int64"), sheet=rejects._sheet.cast("string"),
                                reasons=rejects._reason.cast("string"))
    return Upload(rows=engine.materialize(rows), unreadable=unreadable, rows_read=staged.rows_read, columns=mapping)
