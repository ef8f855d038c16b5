"""The starter project that `dtsen init DIR` writes: a commented dtsen.toml and a tiny source.

It runs as written: `dtsen init proyek && dtsen ingest --project proyek` ingests the example
file, quarantines its two bad rows with their reasons and prints the accounting table.
"""

from __future__ import annotations

from pathlib import Path

from dtsen.errors import DtsenError

STARTER_TOML = """\
# dtsen project file. Every setting is documented in the README ("Settings").
# Environment variables override it: DTSEN_ENGINE__KIND=spark, DTSEN_ENGINE__MEMORY_LIMIT=8GB, ...

[project]
name = "contoh"

[engine]
kind = "duckdb"            # "duckdb" (embedded, the default) or "spark"
memory_limit = "4GB"       # DuckDB spills to disk past this

[reference]
# The official Kemendagri region list (code,name,level). Without it dtsen checks code format only.
# regions = "referensi/regions.csv"
# regions_edition = "Kepmendagri 300.2.2-2430/2025"

[ingest]
work_dir = "work"          # staged records, quarantine and the report go here

# One table per source. `columns` maps the file's column -> the canonical field.
[sources.dinsos]
level = "person"                     # one row is a person ("person") or a family ("family")
files = ["data/dinsos_*.csv"]        # paths or glob patterns, relative to this file
delimiter = ";"                      # omit to detect , ; | or tab
as_of = "2025-06-30"                 # the date the data describes
description = "Daftar contoh dari Dinas Sosial"
date_formats = ["DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "EXCEL_SERIAL"]

[sources.dinsos.columns]
NIK = "nik"
NO_KK = "kk"
NAMA = "full_name"
JENIS_KELAMIN = "sex"
TGL_LAHIR = "birth_date"
HUBUNGAN = "relationship"
KODE_DESA = "region_code"
ALAMAT = "address"

[sources.dinsos.codes.sex]          # the source's own codes -> L / P
"1" = "L"
"2" = "P"

[sources.dinsos.trust]              # how far each field is trusted, 0..1
nik = 0.8
address = 0.5
"""

STARTER_CSV = """\
NIK;NO_KK;NAMA;JENIS_KELAMIN;TGL_LAHIR;HUBUNGAN;KODE_DESA;ALAMAT
3204051507800003;3204050101100001;H. Ahmad Suparman, S.Pd;1;15-07-1980;KEPALA KELUARGA;32.04.05.2001;JL. MELATI NO. 3 RT 003/RW 005
3204055203850002;3204050101100001;Siti Nur'aini;2;12-03-1985;ISTRI;32.04.05.2001;JL. MELATI NO. 3 RT 003/RW 005
3204050109100001;3204050101100001;MOCH. DJUNAEDI;1;01-09-2010;ANAK;32.04.05.2001;JL. MELATI NO. 3 RT.3 RW.5
3.20405E+15;3204050101100002;Dewi Lestari;2;04-11-1992;KEPALA KELUARGA;32.04.05.2002;KP. SUKAMAJU RT 01 RW 02
3204 0520 0390 0004;3204050101100003;Budi Santoso;1;31-02-1990;KEPALA KELUARGA;32.04.05.2003;DUSUN KRAJAN RT 2 RW 1
"""


def write_starter(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the starter project into `directory`; refuse to overwrite unless `force`."""
    toml = directory / "dtsen.toml"
    data = directory / "data" / "dinsos_contoh.csv"
    if toml.exists() and not force:
        raise DtsenError(f"{toml} already exists; use --force to overwrite it")
    data.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(STARTER_TOML, encoding="utf-8")
    data.write_text(STARTER_CSV, encoding="utf-8")
    return [toml, data]
