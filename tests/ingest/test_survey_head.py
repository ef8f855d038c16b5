"""The head of a survey family as the survey states it (issue 12, item 7): `reported_head_sex`,
`reported_head_age` and `reported_head_education` map like other family fields, with the
built-in sex codes, a source's own code list, and the age's plausible range."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.ingest.pipeline import ingest

TOML = """\
[sources.survei]
level = "family"
role = "survey"
files = ["survei.csv"]
as_of = "2025-03-31"
[sources.survei.columns]
NO_KK = "kk"
KAPITA = "consumption_per_capita"
WEIND = "survey_weight"
JK_KRT = "reported_head_sex"
UMUR_KRT = "reported_head_age"
PENDIDIKAN_KRT = "reported_head_education"
[sources.survei.codes.reported_head_education]
1 = "TIDAK_SEKOLAH"
4 = "SD"
7 = "SMP"
10 = "SMA"
14 = "S1"
"""
CSV = """\
NO_KK;KAPITA;WEIND;JK_KRT;UMUR_KRT;PENDIDIKAN_KRT
3204050101100001;850000;120;2;47;10
3204050101100002;650000;80;1;7;4
3204050101100003;700000;95;P;130;14
3204050101100004;900000;60;9;33;99
3204050101100005;500000;70;;;
"""


def _records(tmp_path: Path, duck: Engine) -> dict[int, dict[str, object]]:
    (tmp_path / "survei.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(TOML, encoding="utf-8")
    settings = load_settings(tmp_path)
    report = ingest(settings, duck)
    assert (report.sources[0].accepted, report.sources[0].quarantined) == (5, 0)
    table: pa.Table = read_parquet_arrow(settings.work_dir / "ingest/records/survei")
    return {r["row"]: r for r in table.to_pylist()}


def _flags(record: dict[str, object]) -> set[str]:
    return set(str(record["flags"] or "").split(";")) - {""}


def test_the_head_fields_map_with_codes_and_ranges(tmp_path: Path, duck: Engine) -> None:
    rec = _records(tmp_path, duck)  # row 2 is the first data row (the header is row 1)
    head = {row: (r["reported_head_sex"], r["reported_head_age"], r["reported_head_education"])
            for row, r in rec.items()}
    assert head == {
        2: ("P", 47, "SMA"),  # 2 = perempuan (built in, as for `sex`); 10 = SMA by the source's list
        3: ("L", None, "SD"),  # 7 years old: no head, withheld
        4: ("P", None, "S1"),  # 130 years: withheld
        5: (None, 33, None),  # 9 and 99 are codes neither list knows
        6: (None, None, None),  # blanks are missing, not bad
    }
    assert _flags(rec[2]) == set() and _flags(rec[6]) == set()
    assert _flags(rec[3]) == {"value_out_of_range:reported_head_age"}
    assert _flags(rec[4]) == {"value_out_of_range:reported_head_age"}
    assert _flags(rec[5]) == {"code_unknown:reported_head_sex", "code_unknown:reported_head_education"}
    assert rec[2]["survey_weight"] == 120.0
