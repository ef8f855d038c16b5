"""A damaged identifier hides the identifier, not the person: rows kept with the field withheld,
quarantined only when nothing that identifies a person is left."""

from __future__ import annotations

import json
from pathlib import Path

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.ingest.pipeline import ingest

from .test_pipeline import HEADER, TOML, by_row, project

ROWS = [
    # row 2: NIK in scientific notation, a name and a birth date: kept, the NIK withheld
    "3.20405E+15;;Dewi Lestari;2;04-11-1992;;",
    # row 3: NIK damaged, a name and only a village: kept
    "3204050411920001.0;;Budi;1;;32.04.05.2002;KP. SUKAMAJU",
    # row 4: NIK damaged, KK damaged, a name and nothing else: nothing identifies anyone
    "3.20405E+15;3.20405E+15;Cucu;1;;;",
    # row 5: KK with serial 0000 (Excel's rounding of serial 0001-0009): kept, the KK withheld
    "3204051507800003;3204050101100000;Ahmad;1;15-07-1980;32.04.05.2001;JL. MELATI",
    # row 6: a name with an impossible birth date and an unknown village, no NIK, no KK: nothing left
    ";;Joko;1;31-02-1990;32.04.05.2999;DUSUN KRAJAN",
    # row 7: a valid NIK and nothing else: the NIK identifies
    "3204051507800004;;;;;;",
]


def test_damaged_identifiers_are_withheld_and_only_unidentifiable_rows_quarantined(
    tmp_path: Path, duck: Engine
) -> None:
    settings = load_settings(project(tmp_path, ROWS))
    [src] = ingest(settings, duck).sources
    assert (src.rows_read, src.accepted, src.quarantined) == (6, 4, 2)
    records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/dinsos"))
    quarantine = by_row(read_parquet_arrow(settings.work_dir / "ingest/quarantine/dinsos"))
    assert sorted(records) == [2, 3, 5, 7] and sorted(quarantine) == [4, 6]

    def flags(row: int) -> set[str]:
        return set(str(records[row]["flags"]).split(";"))

    assert records[2]["nik"] is None and records[2]["nik_birth_date"] is None and "nik_excel_damaged" in flags(2)
    assert records[2]["name"] == "DEWI LESTARI" and str(records[2]["birth_date"]) == "1992-11-04"
    assert records[3]["nik"] is None and records[3]["region_code"] == "32.04.05.2002"
    assert records[5]["kk"] is None and "kk_bad_serial" in flags(5) and records[5]["nik"] == "3204051507800003"
    assert records[7]["nik"] == "3204051507800004"
    assert set(str(quarantine[4]["reasons"]).split(";")) == {"identity_missing"}
    assert {"nik_excel_damaged", "kk_excel_damaged"} <= set(str(quarantine[4]["flags"]).split(";"))
    assert set(str(quarantine[6]["reasons"]).split(";")) == {"identity_missing"}
    # the quarantined row is kept verbatim, with the file's own column names
    raw = json.loads(str(quarantine[4]["raw"]))
    assert raw["NIK"] == "3.20405E+15" and raw["NAMA"] == "Cucu"
    assert HEADER.split(";") == list(raw)


def test_a_project_may_still_reject_a_damaged_nik(tmp_path: Path, duck: Engine) -> None:
    toml = TOML.replace("[sources.dinsos]", '[ingest.severity]\nnik_excel_damaged = "reject"\n\n[sources.dinsos]')
    settings = load_settings(project(tmp_path, ROWS[:2], toml=toml))
    [src] = ingest(settings, duck).sources
    assert (src.accepted, src.quarantined) == (0, 2)
