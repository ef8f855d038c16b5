"""The synthetic population: reproducible, internally consistent, and honest about its errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from dtsen.config import load_settings
from dtsen.synth import EXTREME_LINE, POVERTY_LINE, generate

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate(out, persons=6000, seed=11)
    return out


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, refdata: Path) -> Path:
    out = tmp_path_factory.mktemp("synth") / "real"
    generate(out, persons=8000, seed=5, regions=refdata / "regions.csv", names=refdata / "names.csv", region_scope="12")
    return out


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _project(out: Path) -> dict:
    return tomllib.loads((out / "dtsen.toml").read_text(encoding="utf-8"))


def _read_rows(out: Path, src: dict, rel: str) -> dict[tuple[str | None, int], list[Any]]:
    """Every record of a file by (sheet, row number): cells as read (text; XLSX numbers as floats)."""
    path = out / rel
    rows: dict[tuple[str | None, int], list[Any]] = {}
    if src["format"] == "csv":
        text = path.read_bytes().decode(src["encoding"])
        for i, fields in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=src["delimiter"]), start=1):
            rows[(None, i)] = list(fields)
    elif src["format"] == "parquet":
        table = pq.read_table(path)
        rows[(None, 1)] = table.column_names
        for i, record in enumerate(table.to_pylist(), start=2):
            rows[(None, i)] = list(record.values())
    else:
        book = CalamineWorkbook.from_path(str(path))
        for sheet in book.sheet_names:
            for i, cells in enumerate(book.get_sheet_by_name(sheet).to_python(), start=1):
                rows[(sheet, i)] = list(cells)
    return rows


def test_same_seed_same_bytes_other_seed_other_bytes(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    generate(again, persons=6000, seed=11)
    first, second = _files(small), _files(again)
    assert list(first) == list(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []
    other = tmp_path / "c"
    generate(other, persons=6000, seed=12)
    third = _files(other)
    assert third["dukcapil/biodata_penduduk.csv"] != first["dukcapil/biodata_penduduk.csv"]
    assert third["truth/persons.parquet"] != first["truth/persons.parquet"]


def test_nik_encodes_birth_date_sex_and_district(small: Path) -> None:
    p = pq.read_table(small / "truth" / "persons.parquet")
    nik = np.array(p["nik"].to_pylist())
    assert all(len(n) == 16 and n.isdigit() for n in nik)
    birth = p["birth_date"].to_pylist()
    female = np.array(p["sex"].to_pylist()) == "P"
    day = np.array([int(n[6:8]) for n in nik]) - 40 * female
    expected_day = np.array([b.day for b in birth])
    assert (day == expected_day).all()
    assert [n[8:10] for n in nik] == [f"{b.month:02d}" for b in birth]
    assert [n[10:12] for n in nik] == [f"{b.year % 100:02d}" for b in birth]
    assert all(n[12:] != "0000" for n in nik)
    assert [n[:6] for n in nik] == [d.replace(".", "") for d in p["nik_district"].to_pylist()]
    assert len(set(nik)) == len(nik)
    # about 10% registered in a district other than the current one
    moved = np.mean([n[:6] != r.replace(".", "")[:6] for n, r in zip(nik, p["region_code"].to_pylist(), strict=True)])
    assert 0.05 < moved < 0.2


def test_kk_unique_and_dated(small: Path) -> None:
    f = pq.read_table(small / "truth" / "families.parquet")
    kk = f["kk"].to_pylist()
    prev = [k for k in f["prev_kk"].to_pylist() if k is not None]
    assert len(set(kk)) == len(kk)
    assert not set(prev) & set(kk)
    for k, issued, region in zip(kk, f["kk_issued"].to_pylist(), f["region_code"].to_pylist(), strict=True):
        assert k[:6] == region.replace(".", "")[:6]
        assert k[6:12] == issued.strftime("%d%m%y")
        assert issued <= AS_OF


def test_family_structure_is_sane(small: Path) -> None:
    p = pq.read_table(small / "truth" / "persons.parquet").to_pylist()
    families: dict[int, list[dict]] = {}
    for person in p:
        families.setdefault(person["family_id"], []).append(person)
    sizes = [len(m) for m in families.values()]
    assert 3.4 < np.mean(sizes) < 3.9
    assert 0.05 < np.mean([s == 1 for s in sizes]) < 0.15
    for members in families.values():
        heads = [m for m in members if m["relationship"] == "KEPALA_KELUARGA"]
        assert len(heads) == 1
        head = heads[0]
        parents = [head] + [m for m in members if m["relationship"] in ("ISTRI", "SUAMI")]
        for child in (m for m in members if m["relationship"] == "ANAK"):
            assert all(child["birth_date"] > q["birth_date"] for q in parents)
            assert child["age"] < min(q["age"] for q in parents)
        for grandchild in (m for m in members if m["relationship"] == "CUCU"):
            assert grandchild["age"] < head["age"] - 30
        for elder in (m for m in members if m["relationship"] == "ORANG_TUA"):
            assert elder["age"] > head["age"]
        for m in members:
            assert m["death_date"] is None or m["birth_date"] <= m["death_date"] <= AS_OF
            if m["relationship"] in ("ISTRI", "SUAMI"):
                assert m["marital_status"] == "KAWIN" and m["sex"] != head["sex"]
            if m["age"] < 13:
                assert m["education"] == "TIDAK_SEKOLAH"
    dead = np.mean([m["is_deceased"] for m in p])
    assert dead == pytest.approx(0.008, abs=0.001)


def test_poverty_shares(tmp_path: Path) -> None:
    generate(tmp_path, persons=50_000, seed=3)
    f = pq.read_table(tmp_path / "truth" / "families.parquet")
    living = np.array(f["living_members"].to_pylist(), dtype=float)
    consumption = np.array(f["consumption_per_capita"].to_pylist())
    poor = np.sum(living * (consumption < POVERTY_LINE)) / living.sum()
    extreme = np.sum(living * (consumption < EXTREME_LINE)) / living.sum()
    assert 0.08 <= poor <= 0.10
    assert 0.01 <= extreme <= 0.02
    assert (np.array(f["poor"].to_pylist()) == (consumption < POVERTY_LINE)).all()
    # attributes carry signal: ceramic floors and cars are rarer among the poor
    floor = np.array(f["floor_type"].to_pylist())
    is_poor = consumption < POVERTY_LINE
    assert np.mean(floor[is_poor] == "KERAMIK") < np.mean(floor[~is_poor] == "KERAMIK") - 0.15
    # programmes target the poor, imperfectly
    pkh = np.array(f["pkh"].to_pylist())
    assert 0.3 < np.mean(pkh[is_poor]) < 0.9
    assert np.mean(pkh[~is_poor]) < 0.15


def test_source_coverage(small: Path) -> None:
    r = pq.read_table(small / "truth" / "records.parquet")
    persons = pq.read_table(small / "truth" / "persons.parquet").num_rows
    f = pq.read_table(small / "truth" / "families.parquet")
    n_fam = f.num_rows

    def distinct(source: str, column: str) -> int:
        rows = r.filter(pc.equal(r["source"], source))
        return len(pc.unique(rows[column]).drop_null())

    assert distinct("dukcapil", "person_id") / persons == pytest.approx(0.99, abs=0.003)
    assert 0.33 < distinct("dtks", "family_id") / n_fam < 0.45
    assert 0.90 < distinct("regsosek_keluarga", "family_id") / n_fam < 0.97
    assert 0.08 < distinct("p3ke", "family_id") / n_fam < 0.15
    assert distinct("susenas", "family_id") >= 30
    # dtks holds the poorer families
    dtks = set(r.filter(pc.equal(r["source"], "dtks"))["family_id"].to_pylist())
    ids = f["family_id"].to_pylist()
    c = np.array(f["consumption_per_capita"].to_pylist())
    inside = np.array([i in dtks for i in ids])
    assert np.median(c[inside]) < 0.8 * np.median(c[~inside])
    assert np.mean(np.array(f["poor"].to_pylist())[inside]) > 0.12


def test_every_source_row_is_in_the_records(small: Path) -> None:
    project = _project(small)
    r = pq.read_table(small / "truth" / "records.parquet")
    counted = Counter(zip(r["file"].to_pylist(), r["sheet"].to_pylist(), strict=True))
    rows: Counter[tuple[str, str | None]] = Counter()
    for name, src in project["sources"].items():
        names = [f"{name}_{kind}" for kind in src["kinds"]] if "kinds" in src else [name]
        for each in names:  # a file of several record kinds: each kind is a source of its own
            assert set(r.filter(pc.equal(r["source"], each))["file"].to_pylist()) == set(src["files"])
        for rel in src["files"]:
            for sheet, row in _read_rows(small, src, rel):
                if row > 1:
                    rows[(rel, sheet)] += 1
    assert rows == counted
    # row numbers run 2..n+1 in every file and sheet
    for (rel, sheet), n in counted.items():
        mask = pc.and_(pc.equal(r["file"], rel), pc.equal(r["sheet"], sheet) if sheet else pc.is_null(r["sheet"]))
        assert sorted(r.filter(mask)["row"].to_pylist()) == list(range(2, n + 2))


def _dtks_nik_check(out: Path) -> None:
    project = _project(out)
    src = project["sources"]["dtks"]
    r = pq.read_table(out / "truth" / "records.parquet").to_pylist()
    truth = dict(
        zip(
            *(pq.read_table(out / "truth" / "persons.parquet").select(["person_id", "nik"]).to_pydict().values()),
            strict=True,
        )
    )
    by_row = {(x["file"], x["row"]): x for x in r if x["source"] == "dtks"}
    seen: Counter[str] = Counter()
    rounded_files = set()
    for rel in src["files"]:
        rows = _read_rows(out, src, rel)
        header = rows[(None, 1)]
        col = header.index("NIK")
        for (_, row), rec in rows.items():
            if row == 1:
                continue
            meta = by_row[(rel, row)]
            value, true, errs = rec[col], truth[meta["person_id"]], set(meta["errors"])
            if "nik_rounded_column" in errs:
                rounded_files.add(rel)
            if "nik_missing" in errs:
                assert value == ""
                seen["missing"] += 1
            elif "nik_excel_damaged" in errs:
                seen["damaged"] += 1
                if re.fullmatch(r"[1-9](\.[0-9]{1,5})?E\+1[56]", value):
                    seen["scientific"] += 1
                    if "nik_mistyped" not in errs:
                        assert float(value) == pytest.approx(float(true), rel=1e-5), errs
                elif re.fullmatch(r"[0-9]{16}\.0", value):
                    seen["float"] += 1
                    assert value.endswith("0.0")
                else:
                    assert re.fullmatch(r"[0-9]{15}0", value), value
                    seen["rounded"] += 1
                    if "nik_mistyped" not in errs:
                        assert int(value) == (int(true) + 5) // 10 * 10
            elif "nik_mistyped" in errs:
                assert re.fullmatch(r"[0-9]{16}", value) and value != true
                seen["mistyped"] += 1
            else:
                assert value == true
                seen["exact"] += 1
    assert len(rounded_files) == 1
    assert min(seen["scientific"], seen["float"], seen["rounded"], seen["mistyped"], seen["missing"]) > 0
    assert seen["exact"] > 0.25 * (seen["exact"] + seen["damaged"])


def test_identifiers_are_true_or_recorded(small: Path) -> None:
    """In every source, a NIK or KK is the true one unless an error is recorded (or the source lacks it)."""
    project = _project(small)
    nik_of = dict(
        zip(
            *pq.read_table(small / "truth" / "persons.parquet").select(["person_id", "nik"]).to_pydict().values(),
            strict=True,
        )
    )
    fam = (
        pq.read_table(small / "truth" / "families.parquet")
        .select(["family_id", "kk", "prev_kk", "head_nik"])
        .to_pylist()
    )
    fam_of = {f["family_id"]: f for f in fam}
    recs = {
        (x["file"], x["sheet"], x["row"]): x for x in pq.read_table(small / "truth" / "records.parquet").to_pylist()
    }
    checked: Counter[str] = Counter()
    sources = _expanded(project)
    for name, src in sources.items():
        column = {field: col for col, field in src["columns"].items()}
        for rel in src["files"]:
            rows = _read_rows(small, src, rel)
            headers = {sheet: rec for (sheet, row), rec in rows.items() if row == 1}
            for (sheet, row), rec in rows.items():
                meta = recs.get((rel, sheet, row))
                if row == 1 or meta is None or meta["source"] != name:
                    continue
                errs, header = set(meta["errors"]), headers[sheet]
                if "ragged_row" in errs:
                    continue
                family = fam_of[meta["family_id"]]
                if "nik" in column and not errs & {"nik_missing", "nik_mistyped", "nik_excel_damaged"}:
                    value = rec[header.index(column["nik"])]
                    true = nik_of[meta["person_id"]] if src["level"] == "person" else family["head_nik"]
                    if value in ("", None):
                        assert name == "pln", (name, row)
                    else:
                        assert value == true, (name, rel, row, value, true)
                        checked[f"{name}.nik"] += 1
                if "kk" in column and "kk_excel_damaged" not in errs:
                    value = rec[header.index(column["kk"])]
                    true = family["prev_kk"] if "stale_kk" in errs else family["kk"]
                    if value in ("", None):
                        assert name == "pln", (name, row)
                    else:
                        assert value == true, (name, rel, row, value, true)
                        checked[f"{name}.kk"] += 1
    assert len(checked) == 2 * len(sources)
    assert min(checked.values()) >= 20


def _expanded(project: dict) -> dict[str, dict]:
    """The project's sources with a file of several record kinds as one source per kind."""
    out: dict[str, dict] = {}
    for name, src in project["sources"].items():
        for kind, k in src.get("kinds", {}).items():
            out[f"{name}_{kind}"] = {**src, "columns": k.get("columns", {}), "level": k["level"]}
        if "kinds" not in src:
            out[name] = src
    return out


def test_excel_damage_is_real(small: Path) -> None:
    _dtks_nik_check(small)
    # p3ke: NIK cells written as numbers are exactly the recorded damaged ones
    project = _project(small)
    src = project["sources"]["p3ke"]
    r = pq.read_table(small / "truth" / "records.parquet").to_pylist()
    recs = {(x["sheet"], x["row"]): x for x in r if x["source"] == "p3ke"}
    numbers = 0
    for (sheet, row), rec in _read_rows(small, src, src["files"][0]).items():
        if row == 1:
            header = rec
            continue
        value = rec[header.index("NIK_KEPALA_KELUARGA")]
        damaged = "nik_excel_damaged" in recs[(sheet, row)]["errors"]
        assert isinstance(value, float) == damaged
        numbers += damaged
        if damaged:
            assert int(value) % 10 == 0
    assert numbers > 0


def test_bad_inputs_are_planted_and_recorded(small: Path) -> None:
    project = _project(small)
    villages = {line.split(",")[1].upper() for line in
                (small / "reference" / "regions.csv").read_text(encoding="utf-8").splitlines()[1:]
                if line.endswith(",village")}
    src = project["sources"]["dtks"]
    recs = {
        (x["file"], x["row"]): x
        for x in pq.read_table(small / "truth" / "records.parquet").to_pylist()
        if x["source"] == "dtks"
    }
    found: Counter[str] = Counter()
    for rel in src["files"]:
        rows = _read_rows(small, src, rel)
        header = rows[(None, 1)]
        for (_, row), rec in rows.items():
            if row == 1:
                continue
            errs = set(recs[(rel, row)]["errors"])
            if "ragged_row" in errs:
                assert len(rec) == len(header) + 1
                found["ragged_row"] += 1
                continue
            assert len(rec) == len(header)
            day, month, year = (int(x) for x in rec[header.index("TGL_LAHIR")].split("/"))
            if "birth_date_invalid" in errs:
                with pytest.raises(ValueError):
                    dt.date(year, month, day)
                found["birth_date_invalid"] += 1
            elif "birth_date_future" in errs:
                assert dt.date(year, month, day) > AS_OF
                found["birth_date_future"] += 1
            elif "age_over_120" in errs:
                assert AS_OF.year - year > 120
                found["age_over_120"] += 1
            else:
                dt.date(year, month, day)
            if "region_unknown" in errs:
                # a village name that is no village's name (the welfare list names regions, no codes)
                desa = re.sub(r"^(DS\. |DESA )", "", rec[header.index("DESA")])
                assert desa and desa not in villages
                found["region_unknown"] += 1
    assert set(found) == {"ragged_row", "birth_date_invalid", "birth_date_future", "age_over_120", "region_unknown"}


def test_real_regions_names_and_project_file(real: Path, refdata: Path) -> None:
    codes = {line.split(",", 1)[0] for line in (refdata / "regions.csv").read_text(encoding="utf-8").splitlines()[1:]}
    p = pq.read_table(real / "truth" / "persons.parquet")
    f = pq.read_table(real / "truth" / "families.parquet")
    used = set(p["region_code"].to_pylist()) | {c for c in f["prev_region_code"].to_pylist() if c}
    assert used <= codes
    assert all(c.startswith("12.") for c in p["region_code"].to_pylist())
    assert {d for d in p["nik_district"].to_pylist()} <= codes
    settings = load_settings(real)
    assert settings.reference.regions == (refdata / "regions.csv").resolve()
    assert set(settings.sources) == {
        "dukcapil",
        "dtks",
        "regsosek_art",
        "regsosek_keluarga",
        "p3ke",
        "pln",
        "bpjs",
        "pkh",
        "bansos",
        "susenas",
    }
    for name, src in settings.sources.items():
        raw = _project(real)["sources"][src.kind.source if src.kind else name]
        rows = _read_rows(real, raw, src.files[0])
        header = next(rec for (sheet, row), rec in rows.items() if row == 1)
        assert set(src.source_columns()) <= set(header), name
    # names: common first tokens and Batak marga in Sumatera Utara
    names = p["full_name"].to_pylist()
    first = Counter(n.split()[0] for n in names)
    assert first["MUHAMMAD"] > 0.03 * len(names)
    heads = [n for n, r in zip(names, p["relationship"].to_pylist(), strict=True) if r == "KEPALA_KELUARGA"]
    marga = {
        "SIREGAR",
        "NASUTION",
        "LUBIS",
        "HARAHAP",
        "SINAGA",
        "SIMANJUNTAK",
        "PANJAITAN",
        "SITUMORANG",
        "HUTAPEA",
        "TAMPUBOLON",
        "GINTING",
        "TARIGAN",
        "SEMBIRING",
        "PURBA",
        "SARAGIH",
        "MANURUNG",
    }
    assert np.mean([n.split()[-1] in marga for n in heads]) > 0.1
    # regsosek has titles and old spellings, as recorded
    r = pq.read_table(real / "truth" / "records.parquet")
    art = r.filter(pc.equal(r["source"], "regsosek_art")).to_pylist()
    table = pq.read_table(real / "regsosek" / "regsosek.parquet")["NAMA"].to_pylist()
    titled = [table[x["row"] - 2] for x in art if "title" in x["errors"] and "name_typo" not in x["errors"]]
    assert titled and all(re.search(r"^(H|HJ|DRS|DRA|IR)\. |, (S\.PD|S\.E|S\.H|S\.KOM|S\.T|A\.MD)$", t) for t in titled)
    spelled = [table[x["row"] - 2] for x in art if "old_spelling" in x["errors"]]
    assert spelled and all(re.search("DJ|TJ|OE", s) or "J" in s for s in spelled)


def test_windows_1252_names_survive(small: Path) -> None:
    p = pq.read_table(small / "truth" / "persons.parquet")
    accented = {n for n in p["full_name"].to_pylist() if not n.isascii()}
    assert accented
    text = b"".join((small / rel).read_bytes() for rel in _project(small)["sources"]["dtks"]["files"]).decode("cp1252")
    dukcapil = (small / "dukcapil" / "biodata_penduduk.csv").read_text(encoding="utf-8")
    assert any(n in dukcapil for n in accented)
    assert "É" in text or "Ë" in text or "È" in text


def test_slips_under_a_valid_nik_are_planted_and_recorded(small: Path) -> None:
    """Issue 12: a birth year mistyped with day and month kept, a miscoded sex, under the true NIK
    and the exact name, in DTKS and BPJS; and BPJS KKs damaged by Excel."""
    persons = {r["person_id"]: r for r in pq.read_table(small / "truth" / "persons.parquet").to_pylist()}
    recs = pq.read_table(small / "truth" / "records.parquet").to_pylist()
    found: Counter[tuple[str, str]] = Counter()
    for source, nik_col, name_col, date_col, sex_col, layout, male in (
        ("dtks", "NIK", "NAMA", "TGL_LAHIR", "JNS_KEL", "%d/%m/%Y", "L"),
        ("bpjs", "NIK", "NAMA_PESERTA", "TGL_LAHIR", "JENIS_KELAMIN", "%Y%m%d", "M"),
    ):
        mine = {(r["file"], r["row"]): r for r in recs if r["source"] == source}
        src = _project(small)["sources"][source]
        for rel in src["files"]:
            rows = _read_rows(small, src, rel)
            header = rows[(None, 1)]
            for (_, row), rec in rows.items():
                if row == 1 or "ragged_row" in mine[(rel, row)]["errors"]:
                    continue
                meta = mine[(rel, row)]
                errs, true = set(meta["errors"]), persons[meta["person_id"]]
                cell = dict(zip(header, rec, strict=True))
                for kind in ("birth_year_typo", "sex_miscoded"):
                    if kind not in errs:
                        continue
                    found[(source, kind)] += 1
                    if not errs & {"nik_excel_damaged", "nik_rounded_column"}:
                        assert cell[nik_col] == true["nik"], (source, row)
                    assert cell[name_col] == true["full_name"]
                    written = dt.datetime.strptime(cell[date_col], layout).date()
                    sex = "L" if cell[sex_col] == male else "P"
                    if kind == "birth_year_typo":
                        assert (written.day, written.month) == (true["birth_date"].day, true["birth_date"].month)
                        assert written.year != true["birth_date"].year and written <= AS_OF
                        assert sex == true["sex"]
                    else:
                        assert sex != true["sex"] and written == true["birth_date"]
                if source == "bpjs" and "kk_excel_damaged" in errs:
                    found[(source, "kk")] += 1
                    assert re.fullmatch(r"[1-9](\.[0-9]{1,5})?E\+1[56]|[0-9]{12}0000", cell["NO_KK"]), cell["NO_KK"]
    assert set(found) == {("dtks", "birth_year_typo"), ("dtks", "sex_miscoded"), ("bpjs", "birth_year_typo"),
                          ("bpjs", "sex_miscoded"), ("bpjs", "kk")}, found  # fmt: skip


def _truth(out: Path, source: str) -> dict[tuple[str, int], dict[str, Any]]:
    r = pq.read_table(out / "truth" / "records.parquet")
    return {(x["file"], x["row"]): x for x in r.filter(pc.equal(r["source"], source)).to_pylist()}


def test_civil_registry_village_as_four_unpadded_numbers(small: Path) -> None:
    src = _project(small)["sources"]["dukcapil"]
    assert src["compose"] == {"region_code": "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"}
    persons = pq.read_table(small / "truth" / "persons.parquet")
    village = dict(zip(persons["person_id"].to_pylist(), persons["region_code"].to_pylist(), strict=True))
    truth = _truth(small, "dukcapil")
    rows = _read_rows(small, src, src["files"][0])
    header = rows[(None, 1)]
    parts = [header.index(c) for c in ("NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL")]
    assert "KODE_WILAYAH" not in header
    unpadded = 0
    for (_, row), rec in rows.items():
        if row == 1:
            continue
        p, k, c, d = (rec[i] for i in parts)
        unpadded += len(k) < 2 or len(c) < 2
        assert f"{int(p):02d}.{int(k):02d}.{int(c):02d}.{int(d):04d}" == village[truth[(src["files"][0], row)]["person_id"]]
    assert unpadded > 0


def test_census_households_and_members_in_one_file(small: Path) -> None:
    src = _project(small)["sources"]["regsosek"]
    assert src["kind_column"] == "JENIS_RECORD" and set(src["kinds"]) == {"keluarga", "art"}
    assert src["kinds"]["art"]["inherit"] == ["region_code"] and src["kinds"]["art"]["key"] == "KODE_KELUARGA"
    table = pq.read_table(small / src["files"][0]).to_pylist()
    households = _truth(small, "regsosek_keluarga")
    members = _truth(small, "regsosek_art")
    assert len(households) + len(members) == len(table)
    current = None
    for row, rec in enumerate(table, start=2):
        if rec["JENIS_RECORD"] == "RUTA":
            assert (src["files"][0], row) in households and rec["KD_WILAYAH"]
            current = (rec["KODE_KELUARGA"], households[(src["files"][0], row)]["family_id"])
        else:
            assert rec["JENIS_RECORD"] == "ART" and rec["KD_WILAYAH"] is None and rec["NAMA"]
            # a member follows its household's row, with its family id
            assert current is not None and rec["KODE_KELUARGA"] == current[0]
            assert members[(src["files"][0], row)]["family_id"] == current[1]


def test_recipients_file_with_a_programme_column(small: Path) -> None:
    src = _project(small)["sources"]["bansos"]
    assert src["role"] == "programme"
    assert src["value_flags"]["PROGRAM"] == {"PKH": "pkh", "BPNT": "bpnt", "SEMBAKO": "bpnt"}
    families = pq.read_table(small / "truth" / "families.parquet")
    truth = _truth(small, "bansos")
    rows = _read_rows(small, src, src["files"][0])
    header = rows[(None, 1)]
    listed: dict[int, set[str]] = {}
    for (_, row), rec in rows.items():
        if row > 1:
            listed.setdefault(truth[(src["files"][0], row)]["family_id"], set()).add(rec[header.index("PROGRAM")])
    pkh = {f for f, v in zip(families["family_id"].to_pylist(), families["pkh"].to_pylist(), strict=True) if v}
    bpnt = {f for f, v in zip(families["family_id"].to_pylist(), families["bpnt"].to_pylist(), strict=True) if v}
    assert {f for f, v in listed.items() if "PKH" in v} == pkh
    assert {f for f, v in listed.items() if v & {"BPNT", "SEMBAKO"}} == bpnt
    assert any(v == {"BPNT"} for v in listed.values()) and any("SEMBAKO" in v for v in listed.values())


def test_welfare_list_names_regions_without_codes(real: Path, refdata: Path) -> None:
    src = _project(real)["sources"]["dtks"]
    assert {"PROVINSI", "KABUPATEN", "KECAMATAN", "DESA"} <= set(src["columns"])
    assert "region_code" not in src["columns"].values()
    regions = {line.split(",")[0]: line.split(",")[1].upper()
               for line in (refdata / "regions.csv").read_text(encoding="utf-8").splitlines()[1:]}
    persons = pq.read_table(real / "truth" / "persons.parquet")
    families = pq.read_table(real / "truth" / "families.parquet")
    where = dict(zip(persons["person_id"].to_pylist(), persons["family_id"].to_pylist(), strict=True))
    fam_now = dict(zip(families["family_id"].to_pylist(), families["region_code"].to_pylist(), strict=True))
    fam_then = dict(zip(families["family_id"].to_pylist(), families["prev_region_code"].to_pylist(), strict=True))
    forms: Counter[str] = Counter()
    exact = 0
    for rel in src["files"]:
        truth = _truth(real, "dtks")
        rows = _read_rows(real, src, rel)
        header = rows[(None, 1)]
        for (_, row), rec in rows.items():
            x = truth.get((rel, row))
            if row == 1 or x is None or "ragged_row" in x["errors"]:
                continue
            desa = rec[header.index("DESA")]
            regency = rec[header.index("KABUPATEN")]
            forms[regency.split(" ")[0] if regency.startswith(("KAB", "KOTA")) else "bare"] += 1
            forms["DS." if desa.startswith("DS. ") else "DESA" if desa.startswith("DESA ") else "plain"] += 1
            name = re.sub(r"^(DS\. |DESA )", "", desa)
            family = where[x["person_id"]]
            codes = {fam_now[family], fam_then[family]}
            if "region_unknown" in x["errors"]:
                assert name not in {regions[c] for c in codes if c}
            elif "region_name_typo" not in x["errors"]:
                assert name in {regions[c] for c in codes if c}
                exact += 1
    assert exact > 0 and all(forms[f] > 0 for f in ("KAB.", "KABUPATEN", "bare", "DS.", "DESA", "plain"))
