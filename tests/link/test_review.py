"""Clerical review: the file a data steward fills, and how the decisions come back."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import tempfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.worksheet import Worksheet

from dtsen.engine import Engine
from dtsen.link.review import DECISIONS_SCHEMA, ReviewFileError, apply_decisions, read_decisions, write_review

FIELDS = ["nik", "full_name", "birth_date", "rt"]
K1, K2, K3, K4, K5, K6 = (
    "1234567890123456",  # all digits: Excel would make it a number
    "12e4567890123456",  # Excel would read it as 1.2E+4567890123456
    "a1b2c3d4e5f60718",
    "0f0f0f0f0f0f0f0f",
    "ffffffffffffffff",
    "00000000000000aa",
)
KEYS = {K1, K2, K3, K4, K5, K6}


def _pairs() -> pa.Table:
    return pa.table(
        {
            "record_key_l": [K1, K3, K5],
            "record_key_r": [K2, K4, K6],
            "match_probability": [0.8125, 0.5, 0.25],
            "match_weight": [2.1154, 0.0, -1.585],
            "nik_l": ["3204051705900001", "3204054101850002", None],
            "nik_r": ["3204051705900001", "3204054101850003", "0204051705900001"],
            "full_name_l": ["SITI NUR AISYAH", '=HYPERLINK("http://x")', "Ni Luh Putu Ayu"],
            "full_name_r": ["NUR AISYAH", "BUDI", "-"],
            "birth_date_l": pa.array([dt.date(1990, 5, 17), dt.date(1985, 1, 1), None], pa.date32()),
            "birth_date_r": pa.array([dt.date(1990, 5, 17), dt.date(1985, 1, 2), dt.date(2001, 12, 31)], pa.date32()),
            "rt_l": ["003", "010", None],
            "rt_r": ["003", "011", "001"],
            "source_l": ["dukcapil", "dukcapil", "pln"],
            "source_r": ["bpjs", "pkh", "pkh"],
            "row_l": pa.array([2, 3, 4], pa.int64()),
            "row_r": pa.array([10, 11, 12], pa.int64()),
            "weight_name": [3.5, -2.0, 1.25],
            "weight_birth_date": [4.0, -1.5, float("nan")],
        }
    )


def _expected(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "record_key_l": [r[0] for r in rows],
            "record_key_r": [r[1] for r in rows],
            "decision": [r[2] for r in rows],
            "row": [r[3] for r in rows],
        },
        schema=DECISIONS_SCHEMA,
    )


def _header(ws: Worksheet) -> list[str]:
    return [str(c.value) for c in ws[1]]


def _col(header: list[str], key: str) -> int:
    return next(j for j, h in enumerate(header) if h.endswith(f"({key})"))


# --- XLSX ------------------------------------------------------------------------------------


def test_xlsx_layout_keeps_nik_as_text(tmp_path: Path) -> None:
    path = tmp_path / "tinjauan.xlsx"
    assert write_review(_pairs(), path, FIELDS) == 3
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tinjauan", "Petunjuk"]
    ws = book["Tinjauan"]
    header = _header(ws)
    assert header == [
        "No. (pair)",
        "Peluang cocok (match_probability)",
        "NIK A (nik_l)",
        "NIK B (nik_r)",
        "Nama lengkap A (full_name_l)",
        "Nama lengkap B (full_name_r)",
        "Tanggal lahir A (birth_date_l)",
        "Tanggal lahir B (birth_date_r)",
        "RT A (rt_l)",
        "RT B (rt_r)",
        "Keputusan: SAMA / BEDA (keputusan)",
        "Catatan (catatan)",
        "Bobot total (match_weight)",
        "Bobot: Nama baku (weight_name)",
        "Bobot: Tanggal lahir (weight_birth_date)",
        "Sumber A (source_l)",
        "Baris A (row_l)",
        "Sumber B (source_r)",
        "Baris B (row_r)",
        "Kunci A (record_key_l)",
        "Kunci B (record_key_r)",
    ]
    row2 = [c.value for c in ws[2]]
    assert row2 == [
        1, 0.8125, "3204051705900001", "3204051705900001", "SITI NUR AISYAH", "NUR AISYAH",
        "1990-05-17", "1990-05-17", "003", "003", None, None, 2.1154, 3.5, 4.0,
        "dukcapil", 2, "bpjs", 10, K1, K2,
    ]  # fmt: skip
    nik = ws.cell(row=2, column=_col(header, "nik_l") + 1)
    assert nik.data_type == "s" and nik.number_format == "@"
    key = ws.cell(row=2, column=_col(header, "record_key_l") + 1)
    assert key.value == K1 and key.data_type == "s"
    formula = ws.cell(row=3, column=_col(header, "full_name_l") + 1)
    assert formula.value == '\'=HYPERLINK("http://x")' and formula.data_type == "s"  # text, never run
    assert ws.cell(row=2, column=2).data_type == "n" and ws.cell(row=2, column=2).number_format == "0.000"
    assert ws.cell(row=4, column=_col(header, "weight_birth_date") + 1).value is None  # NaN -> empty
    assert ws.cell(row=4, column=_col(header, "nik_l") + 1).value is None
    assert ws.freeze_panes == "C2"
    (rule,) = ws.data_validations.dataValidation
    assert rule.type == "list" and rule.formula1 == '"SAMA,BEDA"'
    assert str(rule.sqref) == "K2:K4"
    assert ws.column_dimensions["C"].width == 18  # 16 digits + 2
    guide = [c.value for c in book["Petunjuk"]["A"] if c.value]
    assert any("SAMA" in line and "BEDA" in line for line in guide)


def test_xlsx_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "tinjauan.xlsx"
    write_review(_pairs(), path, FIELDS)
    book = openpyxl.load_workbook(path)
    ws = book["Tinjauan"]
    col = _col(_header(ws), "keputusan") + 1
    ws.cell(row=2, column=col, value="SAMA")
    ws.cell(row=3, column=col, value=" beda ")
    ws.cell(row=4, column=_col(_header(ws), "catatan") + 1, value="belum yakin")  # note, no decision
    book.move_sheet("Petunjuk", offset=-1)  # the review sheet is found by name, not position
    book.save(path)
    got = read_decisions(path, KEYS)
    assert got.equals(_expected([(K1, K2, "must_link", 2), (K3, K4, "cannot_link", 3)]))


def test_xlsx_numbers_typed_by_a_person(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["record_key_l", "record_key_r", "decision"])
    ws.append([K1, K2, 1])
    ws.append([K3, K4, 0.0])
    path = tmp_path / "d.xlsx"
    book.save(path)
    assert read_decisions(path).equals(_expected([(K1, K2, "must_link", 2), (K3, K4, "cannot_link", 3)]))


def test_empty_review_still_has_a_header(tmp_path: Path) -> None:
    empty = _pairs().slice(0, 0)
    assert write_review(empty, tmp_path / "e.xlsx", FIELDS) == 0
    assert write_review(empty, tmp_path / "e.csv", FIELDS) == 0
    assert read_decisions(tmp_path / "e.xlsx").num_rows == 0
    assert read_decisions(tmp_path / "e.csv").num_rows == 0


# --- CSV -------------------------------------------------------------------------------------


def test_csv_layout(tmp_path: Path) -> None:
    path = tmp_path / "tinjauan.csv"
    assert write_review(_pairs(), path, FIELDS) == 3
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfNo. (pair),Peluang cocok (match_probability),NIK A (nik_l),")
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert len(lines) == 5 and lines[4] == ""
    assert lines[1] == (
        '1,0.8125,"=""3204051705900001""","=""3204051705900001""",SITI NUR AISYAH,NUR AISYAH,'
        '"=""1990-05-17""","=""1990-05-17""","=""003""","=""003""",,,2.1154,3.5,4.0,'
        'dukcapil,2,bpjs,10,"=""1234567890123456""","=""12e4567890123456"""'
    )
    assert lines[2].split(",")[4] == '"=""=HYPERLINK(""""http://x"""")"""'  # a text literal: never run
    assert lines[3].split(",")[2:6] == ["", '"=""0204051705900001"""', "Ni Luh Putu Ayu", '"=""-"""']
    assert lines[3].endswith(",,-1.585,1.25,,pln,4,pkh,12,ffffffffffffffff,00000000000000aa")


def test_csv_long_formula_like_text_gets_an_apostrophe(tmp_path: Path) -> None:
    long = "=" + "A" * 300  # beyond the 255 characters Excel allows in a ="..." literal
    pairs = _pairs().slice(0, 1).set_column(4, "nik_l", pa.array([long]))
    write_review(pairs, tmp_path / "r.csv", FIELDS)
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f))[1][2] == "'" + long


@pytest.mark.parametrize(
    ("delimiter", "encoding", "excel_saved"),
    [(",", "utf-8-sig", False), (";", "utf-8", True), ("\t", "utf-8-sig", True)],
)
def test_csv_roundtrip(tmp_path: Path, delimiter: str, encoding: str, excel_saved: bool) -> None:
    path = tmp_path / "tinjauan.csv"
    write_review(_pairs(), path, FIELDS)
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    j = _col(rows[0], "keputusan")
    rows[1][j], rows[2][j], rows[3][j] = "Ya", "", "TIDAK"
    if excel_saved:  # Excel shows ="003" as 003 and saves it so
        rows = [[v[2:-1] if v.startswith('="') else v for v in r] for r in rows]
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows([[], *rows])  # a blank line first
    got = read_decisions(path, KEYS)
    assert got.equals(_expected([(K1, K2, "must_link", 3), (K5, K6, "cannot_link", 5)]))


def _write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def test_any_file_with_the_key_columns(tmp_path: Path) -> None:
    rows = [
        ["Decision", "Record Key L", "record_key_r", "other"],
        ["must_link", "a", "b", "x"],
        ["No Match", "a", "c", ""],
        ["1", "d", "e", ""],
        ["", "", "", "undecided, blank"],
        ["match", "b", "a", ""],  # the same pair again, the same way: kept once
        ["0", "c", "d", ""],
    ]
    got = read_decisions(_write_csv(tmp_path / "d.csv", rows, ";"))
    assert got.equals(
        _expected([("a", "b", "must_link", 2), ("a", "c", "cannot_link", 3), ("d", "e", "must_link", 4),
                   ("c", "d", "cannot_link", 7)])
    )  # fmt: skip


# --- errors ----------------------------------------------------------------------------------


def _error(path: Path, known: set[str] | None = None) -> ReviewFileError:
    with pytest.raises(ReviewFileError) as info:
        read_decisions(path, known)
    return info.value


def test_missing_columns_named_with_what_was_found(tmp_path: Path) -> None:
    err = _error(_write_csv(tmp_path / "d.csv", [["kunci_a", "record_key_r", "catatan"], ["a", "b", ""]]))
    assert str(err) == (
        f"{tmp_path / 'd.csv'}: the review file lacks the column(s) record_key_l, keputusan (or decision); "
        "found 'kunci_a', 'record_key_r', 'catatan'"
    )


def test_every_problem_reported_with_its_row(tmp_path: Path) -> None:
    rows = [
        ["record_key_l", "record_key_r", "keputusan"],
        ["a", "b", "mungkin"],  # 2: unknown value
        ["a", "zz", "SAMA"],  # 3: unknown key
        ["c", "c", "BEDA"],  # 4: same record on both sides
        ["", "d", "SAMA"],  # 5: empty key
        ["d", "e", "SAMA"],  # 6
        ["e", "d", "BEDA"],  # 7: decided both ways
    ]
    err = _error(_write_csv(tmp_path / "d.csv", rows), {"a", "b", "c", "d", "e"})
    assert [str(p) for p in err.problems] == [
        "d.csv row 2: unknown decision 'mungkin' (accepted: SAMA, YA, MUST_LINK, MATCH, 1, BEDA, TIDAK, "
        "CANNOT_LINK, NO_MATCH, 0, or blank for undecided)",
        "d.csv row 3: record key 'zz' (record_key_r) is not a record of this run",
        "d.csv row 4: the same record 'c' is on both sides",
        "d.csv row 5: record_key_l is empty",
        "d.csv rows 6, 7: the pair d / e is decided both SAMA (row 6) and BEDA (row 7) (keep one decision)",
    ]
    assert str(err).startswith(f"{tmp_path / 'd.csv'}: the review decisions cannot be used (5 problems)\n  - ")


def test_contradictory_chain_names_its_rows(tmp_path: Path) -> None:
    rows = [
        ["record_key_l", "record_key_r", "keputusan"],
        ["a", "b", "SAMA"],  # 2
        ["x", "y", "SAMA"],  # 3: not on the chain
        ["c", "b", "SAMA"],  # 4
        ["c", "d", "SAMA"],  # 5
        ["d", "a", "BEDA"],  # 6: a = b = c = d
        ["x", "a", "BEDA"],  # 7: fine
    ]
    err = _error(_write_csv(tmp_path / "d.csv", rows))
    assert [str(p) for p in err.problems] == [
        "d.csv row 6: BEDA between d and a contradicts the SAMA decisions in rows 2, 4, 5, which join them: "
        "d = c = b = a (change one of these rows)"
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ReviewFileError, match=r"must end in \.csv or \.xlsx, not '\.ods'"):
        write_review(_pairs(), tmp_path / "r.ods", FIELDS)
    with pytest.raises(ReviewFileError, match=r"lack the columns full_name_l, full_name_r"):
        write_review(_pairs().drop_columns(["full_name_l", "full_name_r"]), tmp_path / "r.csv", FIELDS)
    with pytest.raises(ReviewFileError, match="review file not found"):
        read_decisions(tmp_path / "none.csv")
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(ReviewFileError, match="cannot be read as an XLSX workbook"):
        read_decisions(tmp_path / "bad.xlsx")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ReviewFileError, match=r"must be \.csv or \.xlsx, not '\.json'"):
        read_decisions(tmp_path / "d.json")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(ReviewFileError, match="empty"):
        read_decisions(tmp_path / "empty.csv")


def _contradicts(decisions: list[tuple[int, int, bool]]) -> bool:
    """Brute force: some cannot-link pair is joined by the transitive closure of must-links."""
    linked = {(i, i) for i in range(5)} | {(a, b) for a, b, must in decisions if must}
    linked |= {(b, a) for a, b in linked}
    changed = True
    while changed:
        extra = {(a, d) for (a, b), (c, d) in itertools.product(linked, linked) if b == c} - linked
        linked |= extra
        changed = bool(extra)
    return any((a, b) in linked for a, b, must in decisions if not must)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.booleans()), max_size=8))
def test_refused_exactly_when_decisions_contradict(decisions: list[tuple[int, int, bool]]) -> None:
    decisions = [d for d in decisions if d[0] != d[1]]
    rows = [["record_key_l", "record_key_r", "keputusan"]]
    rows += [[f"k{a}", f"k{b}", "SAMA" if must else "BEDA"] for a, b, must in decisions]
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_csv(Path(tmp) / "d.csv", rows)
        if _contradicts(decisions):
            with pytest.raises(ReviewFileError):
                read_decisions(path)
        else:
            pairs = {frozenset((a, b)) for a, b, _ in decisions}
            assert read_decisions(path).num_rows == len(pairs)


# --- honouring the decisions on the engine ---------------------------------------------------


def test_apply_decisions(engine: Engine) -> None:
    edges = engine.from_arrow(
        pa.table(
            {
                "record_key_l": ["a", "c", "d", "g"],
                "record_key_r": ["b", "b", "e", "h"],
                "match_probability": [0.6, 0.9, 0.3, 1.0],
                "gamma_name": pa.array([2, 3, 1, 4], pa.int64()),
                "method": ["splink", "splink", "splink", "nik"],
            }
        )
    )
    decisions = engine.from_arrow(
        _expected(
            [("b", "a", "must_link", 2), ("b", "c", "cannot_link", 3), ("f", "a", "must_link", 4),
             ("h", "g", "cannot_link", 5)]
        )
    )  # fmt: skip
    out = apply_decisions(edges, decisions)
    assert out.columns == ("record_key_l", "record_key_r", "match_probability", "gamma_name", "method")
    got = out.order_by(["record_key_l", "record_key_r"]).to_pyarrow().to_pylist()
    assert got == [
        {"record_key_l": "a", "record_key_r": "b", "match_probability": 1.0, "gamma_name": 2, "method": "review"},
        {"record_key_l": "a", "record_key_r": "f", "match_probability": 1.0, "gamma_name": None, "method": "review"},
        {"record_key_l": "c", "record_key_r": "b", "match_probability": 0.0, "gamma_name": 3, "method": "review"},
        {"record_key_l": "d", "record_key_r": "e", "match_probability": 0.3, "gamma_name": 1, "method": "splink"},
        {"record_key_l": "g", "record_key_r": "h", "match_probability": 0.0, "gamma_name": 4, "method": "review"},
    ]


def test_apply_decisions_adds_method_and_cannot_link_wins(duck: Engine) -> None:
    edges = duck.from_arrow(pa.table({"record_key_l": ["a"], "record_key_r": ["b"], "match_probability": [0.5]}))
    decisions = duck.from_arrow(
        _expected([("a", "b", "must_link", 2), ("b", "a", "cannot_link", 3), ("x", "y", "cannot_link", 4)])
    )
    got = apply_decisions(edges, decisions).to_pyarrow()
    assert got.to_pylist() == [{"record_key_l": "a", "record_key_r": "b", "match_probability": 0.0, "method": "review"}]
    plain = apply_decisions(edges, duck.from_arrow(_expected([]))).to_pyarrow()
    assert plain.to_pylist() == [
        {"record_key_l": "a", "record_key_r": "b", "match_probability": 0.5, "method": "splink"}
    ]
