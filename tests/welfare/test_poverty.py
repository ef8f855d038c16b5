"""Poverty lines as data: the table reader with line-exact errors, and the lines per family."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.welfare.poverty import PovertyLineError, PovertyLines, ProvinceLine, line_exprs, read_poverty_lines

NATIONAL = (595_000.0, 391_000.0)
HEADER = "province,area,poverty_line,extreme_line\n"


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "lines.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_no_table_gives_the_national_lines() -> None:
    assert read_poverty_lines(None, *NATIONAL) == PovertyLines(595_000.0, 391_000.0, ())


def test_a_table_with_semicolons_decimal_commas_indonesian_areas_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (
            b" Province ;AREA;Poverty_Line;Extreme_Line\r\n"
            b"32;Perkotaan;612345,5;391000\r\n"
            b"32;perdesaan;548000;\r\n"  # blank extreme line: the national one
            b"\r\n"
            b"91;Perkotaan + Perdesaan;780000;450000\r\n"
            b"11;urban;600000,25;400000,75\r\n"
            b"12;Semua;580000;\r\n"
            b"13;RURAL;560000;380000\r\n"
            b"14;ALL;590000;390000\r\n"
        )
    )
    assert read_poverty_lines(path, *NATIONAL) == PovertyLines(
        595_000.0,
        391_000.0,
        (
            ProvinceLine("32", "URBAN", 612_345.5, 391_000.0),
            ProvinceLine("32", "RURAL", 548_000.0, 391_000.0),
            ProvinceLine("91", "ALL", 780_000.0, 450_000.0),
            ProvinceLine("11", "URBAN", 600_000.25, 400_000.75),
            ProvinceLine("12", "ALL", 580_000.0, 391_000.0),
            ProvinceLine("13", "RURAL", 560_000.0, 380_000.0),
            ProvinceLine("14", "ALL", 590_000.0, 390_000.0),
        ),
    )


def test_a_windows_1252_table_without_the_extreme_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "province,area,poverty_line,catatan\r\n33,URBAN,601000.5,Jawa Tengah \xb1\r\n", "cp1252")
    assert read_poverty_lines(path, 500_000.0, 300_000.0) == PovertyLines(
        500_000.0, 300_000.0, (ProvinceLine("33", "URBAN", 601_000.5, 300_000.0),)
    )


def test_every_mistake_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "32,URBAN,612000,391000\n"  # 2: fine
        + "3,URBAN,612000,391000\n"  # 3: bad province code
        + "32.04,RURAL,612000,391000\n"  # 4: bad province code (a regency)
        + "33,KOTA,612000,391000\n"  # 5: unknown area
        + "34,URBAN,enam ratus ribu,391000\n"  # 6: non-numeric
        + "35,URBAN,0,\n"  # 7: non-positive
        + "36,URBAN,612000,-5\n"  # 8: non-positive extreme
        + "37,URBAN,400000,450000\n"  # 9: extreme above poverty
        + "38,RURAL,380000,\n"  # 10: the national extreme line (391000) above this poverty line
        + "32,perkotaan,613000,391000\n"  # 11: duplicate of line 2
        + "39,ALL,595.000,\n"  # 12: ambiguous thousands separator
        + "40,ALL,,\n"  # 13: blank line value
        + "41,ALL,1,2,3\n",  # 14: too many fields
    )
    with pytest.raises(PovertyLineError) as error:
        read_poverty_lines(path, *NATIONAL)
    at = f"{path} line"
    assert [(p.where, p.message) for p in error.value.problems] == [
        (f"{at} 3", "bad province code '3'"),
        (f"{at} 4", "bad province code '32.04'"),
        (f"{at} 5", "unknown area 'KOTA'"),
        (f"{at} 6", "poverty line 'enam ratus ribu' is not a number"),
        (f"{at} 7", "poverty line '0' is not positive"),
        (f"{at} 8", "extreme line '-5' is not positive"),
        (f"{at} 9", "the extreme line 450000 is above the poverty line 400000"),
        (
            f"{at} 10",
            "the extreme line 391000 (the national one, as the cell is blank) is above the poverty line 380000",
        ),
        (f"{at} 11", "duplicate row for province 32, area URBAN (first on line 2)"),
        (f"{at} 12", "poverty line '595.000' is ambiguous"),
        (f"{at} 13", "poverty line is blank"),
        (f"{at} 14", "5 fields but the header has 4"),
    ]
    hints = {p.where: p.hint for p in error.value.problems}
    assert hints[f"{at} 3"] == "two digits, e.g. 32; Excel may have dropped a leading zero"
    assert hints[f"{at} 5"] == "URBAN, RURAL or ALL (PERKOTAAN, PERDESAAN, SEMUA)"
    assert hints[f"{at} 12"] == "write 595000 without thousands separators"
    assert str(error.value).startswith(f"{path}: the poverty-line table has mistakes (12 problems)\n")
    assert isinstance(error.value, DtsenError)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("province,poverty_line\n32,600000\n", "line 1: the header lacks the column(s) area"),
        ('province,area,poverty_line\n32,"URBAN,600000\n', "line 2: cannot be parsed"),
    ],
)
def test_unreadable_tables(tmp_path: Path, content: str, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(PovertyLineError, match=re.escape(message)) as error:
        read_poverty_lines(path, *NATIONAL)
    assert str(path) in str(error.value)


def test_bad_national_lines_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PovertyLineError, match="extreme line"):
        read_poverty_lines(None, 300_000.0, 391_000.0)
    with pytest.raises(PovertyLineError, match="cannot read the poverty-line table"):
        read_poverty_lines(tmp_path / "nope.csv", *NATIONAL)


LINES = PovertyLines(
    500_000.0,
    300_000.0,
    (
        ProvinceLine("32", "ALL", 580_000.0, 350_000.0),
        ProvinceLine("32", "URBAN", 612_000.0, 391_000.0),
        ProvinceLine("32", "RURAL", 548_000.0, 300_000.0),
        ProvinceLine("91", "ALL", 780_000.0, 450_000.0),
        ProvinceLine("11", "URBAN", 600_000.0, 400_000.0),
    ),
)
# (id, province_code, urban) -> (poverty line, extreme line)
FAMILIES: list[tuple[int, str | None, bool | None, float, float]] = [
    (1, "32", True, 612_000.0, 391_000.0),  # province and area
    (2, "32", False, 548_000.0, 300_000.0),
    (3, "32", None, 580_000.0, 350_000.0),  # area unknown: the province's ALL row
    (4, "91", True, 780_000.0, 450_000.0),  # no URBAN row: ALL
    (5, "91", None, 780_000.0, 450_000.0),
    (6, "11", True, 600_000.0, 400_000.0),
    (7, "11", False, 500_000.0, 300_000.0),  # no RURAL and no ALL row: national
    (8, "11", None, 500_000.0, 300_000.0),
    (9, "35", True, 500_000.0, 300_000.0),  # province without lines: national
    (10, None, None, 500_000.0, 300_000.0),
    (11, None, True, 500_000.0, 300_000.0),
]


def test_the_most_specific_line_wins_on_every_engine(engine: Engine) -> None:
    table = pa.table(
        {
            "id": pa.array([f[0] for f in FAMILIES], pa.int64()),
            "province_code": pa.array([f[1] for f in FAMILIES], pa.string()),
            "urban": pa.array([f[2] for f in FAMILIES], pa.bool_()),
        }
    )
    t = engine.from_arrow(table)
    out = {}
    for name, lines in (("given", LINES), ("national", PovertyLines(500_000.0, 300_000.0))):
        poverty, extreme = line_exprs(lines, t)
        rows = t.select("id", poverty=poverty, extreme=extreme).order_by("id").to_pyarrow().to_pylist()
        out[name] = [(r["id"], r["poverty"], r["extreme"]) for r in rows]
    assert out["given"] == [(i, p, e) for i, _, _, p, e in FAMILIES]
    assert out["national"] == [(i, 500_000.0, 300_000.0) for i, *_ in FAMILIES]


def test_lines_for_one_family_agree_with_the_expressions() -> None:
    assert [LINES.lines_for(prov, urban) for _, prov, urban, _, _ in FAMILIES] == [(p, e) for *_, p, e in FAMILIES]


def test_to_dict_is_sorted_and_reads_back() -> None:
    data = LINES.to_dict()
    assert data == {
        "poverty_line": 500_000.0,
        "extreme_line": 300_000.0,
        "by_province": [
            {"province": "11", "area": "URBAN", "poverty_line": 600_000.0, "extreme_line": 400_000.0},
            {"province": "32", "area": "ALL", "poverty_line": 580_000.0, "extreme_line": 350_000.0},
            {"province": "32", "area": "RURAL", "poverty_line": 548_000.0, "extreme_line": 300_000.0},
            {"province": "32", "area": "URBAN", "poverty_line": 612_000.0, "extreme_line": 391_000.0},
            {"province": "91", "area": "ALL", "poverty_line": 780_000.0, "extreme_line": 450_000.0},
        ],
    }
    back = PovertyLines.from_dict(data)
    assert back.to_dict() == data
    assert sorted(back.by_province, key=repr) == sorted(LINES.by_province, key=repr)
