"""`dtsen sources draft`: a first source table proposed from a file's header and contents, which
parses as a mapping and never shows personal values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.ingest.draft import draft_source
from dtsen.ingest.header_names import header_field
from dtsen.reference.regions import RegionMaster

REGIONS = """\
code,name,level
32,Jawa Barat,province
32.03,Kabupaten Cianjur,regency
32.04,Kabupaten Bandung,regency
32.03.01,Cianjur,district
32.03.02,Cugenang,district
32.03.01.2001,Sukamaju,village
32.03.01.2002,Mekarsari,village
32.03.02.2001,Sukajadi,village
32.03.02.2002,Cibeureum,village
"""
GIVEN = ["AHMAD", "SITI", "BUDI", "DEWI", "RUDI", "ANI", "JOKO", "RINA", "AGUS", "TUTI"]
FAMILY = ["SUPARMAN", "AMINAH", "SANTOSO", "LESTARI", "HIDAYAT"]


def _people(n: int = 40) -> list[dict[str, str]]:
    """Rows of a person file with headers no alias table knows: only their contents tell."""
    rows = []
    for i in range(n):
        woman = i % 2 == 1
        day = 1 + i % 28
        nik = f"320301{day + 40 if woman else day:02d}{(i % 12) + 1:02d}85{i + 1:04d}"
        kk = f"32030110{(i // 4) % 12 + 1:02d}15{i // 4 + 1:04d}"
        rows.append({
            "A1": nik,
            "B2": kk,
            "C3": f"{GIVEN[i % 10]} {FAMILY[i % 5]}",
            "D4": f"{day:02d}/{(i % 12) + 1:02d}/1985",
            "E5": "P" if woman else "L",
            "F6": "32.03.01.2001" if i % 3 else "32.03.02.2002",
            "G7": ["Y", "T"][i % 3 == 0],
            "H8": ["PKH", "BPNT"][i % 2],
            "I9": f"JL. MERDEKA NO. {i + 1} RT 00{i % 4 + 1}",
            "J10": GIVEN[i % 10],  # a nickname: repeats like a code, but is personal
        })
    return rows


def _csv(path: Path, rows: list[dict[str, str]], delimiter: str = ";", encoding: str = "utf-8") -> Path:
    header = list(rows[0])
    lines = [delimiter.join(header)] + [delimiter.join(r[h] for h in header) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def test_fields_found_by_content_alone(tmp_path: Path) -> None:
    rows = _people()
    rows[0]["I9"] = "JL. CAFÉ NO. 1 RT 001"  # a byte that is not UTF-8 in Windows-1252
    d = draft_source(_csv(tmp_path / "dinsos lama.csv", rows, encoding="cp1252"), rows=100)
    assert d.name == "dinsos_lama"
    assert (d.format, d.delimiter, d.encoding) == ("csv", ";", "cp1252")
    assert d.mapped() == {"A1": "nik", "B2": "kk", "C3": "full_name", "D4": "birth_date", "E5": "sex",
                          "F6": "region_code", "I9": "address"}
    by = {g.column: g for g in d.columns}
    assert all(by[c].how == "content" for c in d.mapped())
    assert d.level == "person"
    assert d.date_formats == ["DD/MM/YYYY"]
    assert by["H8"].flags == {} and "family fields" in by["H8"].note  # a person row cannot set them
    assert by["G7"].field is None and "which field" in by["G7"].note  # yes/no, but of what
    assert d.role is None


def _recipients(n: int = 30) -> list[dict[str, str]]:
    return [{"ID": f"{10**9 + 7 * i}", "KODE": "32.03.01.2001", "X_KK": f"32030110{i % 12 + 1:02d}15{i + 1:04d}",
             "X_NIK": f"320301{51 if i % 7 == 0 else 11 + i % 9}{(i % 12) + 1:02d}85{i + 1:04d}", "PROGRAM": ["PKH", "BPNT", "PKH"][i % 3],
             "NAMA_KRT": f"{GIVEN[i % 10]} {FAMILY[i % 5]}"} for i in range(n)]


def test_programme_column_of_a_recipients_file(tmp_path: Path) -> None:
    d = draft_source(_csv(tmp_path / "penerima.csv", _recipients(), delimiter=","))
    assert d.mapped() == {"KODE": "region_code", "X_KK": "kk", "X_NIK": "nik", "NAMA_KRT": "full_name"}
    assert {g.column: g.flags for g in d.columns if g.flags} == {"PROGRAM": {"PKH": "pkh", "BPNT": "bpnt"}}
    assert "ID" not in d.mapped()  # ten digits, but no province starts with 10: not a village code
    assert (d.level, d.role) == ("family", "programme")


def test_draft_text_is_a_mapping_that_loads(tmp_path: Path) -> None:
    _csv(tmp_path / "data.csv", _people())
    (tmp_path / "in").mkdir()
    _csv(tmp_path / "in" / "penerima.csv", _recipients())
    d = draft_source(tmp_path / "data.csv", name="dinsos", relative_to=tmp_path)
    text = d.toml()
    doc = tomllib.loads(text)["sources"]["dinsos"]
    assert doc["files"] == ["data.csv"]
    assert doc["columns"]["A1"] == "nik" and doc["columns"]["D4"] == "birth_date"
    assert doc["date_formats"] == ["DD/MM/YYYY", "EXCEL_SERIAL"]
    flags = draft_source(tmp_path / "in" / "penerima.csv", relative_to=tmp_path).toml()
    doc = tomllib.loads(flags)["sources"]["penerima"]
    assert doc["files"] == ["in/penerima.csv"]
    assert doc["value_flags"] == {"PROGRAM": {"BPNT": "bpnt", "PKH": "pkh"}}
    (tmp_path / "dtsen.toml").write_text('[project]\nname = "t"\n\n' + text + "\n" + flags, encoding="utf-8")
    settings = load_settings(tmp_path)  # raises on any mapping mistake
    src = settings.sources["dinsos"]
    assert src.level == "person" and src.columns["E5"] == "sex"
    assert settings.sources["penerima"].role == "programme"


def test_no_personal_value_is_shown(tmp_path: Path) -> None:
    rows = _people()
    text = draft_source(_csv(tmp_path / "x.csv", rows)).toml()
    for r in rows:
        assert r["A1"] not in text and r["B2"] not in text
        assert r["C3"] not in text and r["I9"] not in text and r["D4"] not in text
    for name in GIVEN + FAMILY:
        assert name not in text.upper().replace("MERDEKA", "")
    assert "# J10 = ?  # codes (10 other values not shown): not guessed" in text


def test_headers_and_split_code_columns(tmp_path: Path) -> None:
    """A civil-registry export: known header names, and the village as four unpadded numbers."""
    rows = [{"NIK": r["A1"], "NO_KK": r["B2"], "NAMA_LGKP": r["C3"], "JENIS_KLMIN": "2" if i % 2 else "1",
             "TGL_LHR": r["D4"].replace("/", "-"), "STAT_HBKEL": str(1 + i % 4), "NO_PROP": "32", "NO_KAB": "3",
             "NO_KEC": "1", "NO_KEL": "2001", "STATUS_HIDUP": "MATI" if i % 10 == 0 else "HIDUP"}
            for i, r in enumerate(_people())]
    d = draft_source(_csv(tmp_path / "biodata.csv", rows, delimiter="|"))
    assert d.compose == {"region_code": "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"}
    assert d.mapped() == {"NIK": "nik", "NO_KK": "kk", "NAMA_LGKP": "full_name", "JENIS_KLMIN": "sex",
                          "TGL_LHR": "birth_date", "STAT_HBKEL": "relationship", "STATUS_HIDUP": "is_deceased"}
    by = {g.column: g for g in d.columns}
    assert by["STATUS_HIDUP"].codes == {"HIDUP": "false", "MATI": "true"}
    assert "1 head, 2 spouse, 3 child" in by["STAT_HBKEL"].note  # the BPS list is pointed out
    doc = tomllib.loads(d.toml())["sources"]["biodata"]
    assert doc["codes"]["is_deceased"] == {"HIDUP": False, "MATI": True}
    assert doc["compose"]["region_code"] == "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"
    assert "NO_PROP" not in doc["columns"]


def test_region_names_by_content_against_the_region_list(tmp_path: Path) -> None:
    """Names with prefixes, old spellings and a typo are recognised, each as its level."""
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    master = RegionMaster.load(tmp_path / "regions.csv")
    regencies = ["KAB. CIANJUR", "KABUPATEN CIANJUR", "KAB BANDUNG"]
    districts = ["KEC. CIANJUR", "CUGENANG", "TJUGENANG"]
    villages = ["DS. SUKAMAJU", "DESA MEKARSARI", "SUKADJADI", "CIBEUREUM"]
    table = pa.table({
        "W1": [regencies[i % 3] for i in range(24)],
        "W2": [districts[i % 3] for i in range(24)],
        "W3": [villages[i % 4] for i in range(24)],
        "NOKK": [f"32030110{i % 12 + 1:02d}15{i + 1:04d}" for i in range(24)],
        "DAYA": [[450, 900, 1300][i % 3] for i in range(24)],
        "KWH": [float(60 + i) for i in range(24)],
    })
    pq.write_table(table, tmp_path / "pln.parquet")
    d = draft_source(tmp_path / "pln.parquet", regions=master)
    assert d.mapped() == {"W1": "regency_name", "W2": "district_name", "W3": "village_name", "NOKK": "kk",
                          "DAYA": "electricity_va", "KWH": "electricity_kwh"}
    assert (d.level, d.role, d.format, d.encoding) == ("family", "utility", "parquet", None)
    without = draft_source(tmp_path / "pln.parquet")  # no region list: names are not guessed
    assert "W3" not in without.mapped()


def test_header_aliases() -> None:
    assert header_field("No. KK") == "kk"
    assert header_field(" tgl_lahir ") == "birth_date"
    assert header_field("ADA_MOBIL") == "has_car"
    assert header_field("PUNYA_LEMARI_ES") == "has_fridge"
    assert header_field("KETERANGAN") is None


def test_command_prints_the_draft(tmp_path: Path) -> None:
    _csv(tmp_path / "data.csv", _people())
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "draft", str(tmp_path / "data.csv"), "--name", "dinsos",
                                      "--regions", str(tmp_path / "regions.csv")])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.output)["sources"]["dinsos"]["columns"]["A1"] == "nik"
    missing = CliRunner().invoke(app, ["sources", "draft", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_a_survey_file_proposes_the_head_fields(tmp_path: Path) -> None:
    """A Susenas-like file: the head's sex, age and education (JK_KRT, UMUR_KRT, PENDIDIKAN_KRT)
    are proposed as the reported head fields, and the draft is a family source that loads."""
    rows = [{"NO_KK": f"32030110{i % 12 + 1:02d}15{i + 1:04d}", "JK_KRT": "2" if i % 3 == 0 else "1",
             "UMUR_KRT": str(25 + i), "PENDIDIKAN_KRT": ["SD", "SMP", "SLTA", "S1"][i % 4],
             "KAPITA": str(600_000 + 1000 * i), "WEIND": str(100 + i)} for i in range(40)]
    d = draft_source(_csv(tmp_path / "susenas.csv", rows), relative_to=tmp_path)
    doc = tomllib.loads(d.toml())["sources"]["susenas"]
    assert doc["level"] == "family" and doc["role"] == "survey"
    assert {c: doc["columns"][c] for c in ("JK_KRT", "UMUR_KRT", "PENDIDIKAN_KRT", "WEIND")} == {
        "JK_KRT": "reported_head_sex", "UMUR_KRT": "reported_head_age",
        "PENDIDIKAN_KRT": "reported_head_education", "WEIND": "survey_weight"}
    (tmp_path / "dtsen.toml").write_text('[project]\nname = "t"\n\n' + d.toml(), encoding="utf-8")
    assert "reported_head_age" in load_settings(tmp_path).sources["susenas"].mapped_fields()
    assert header_field("Jenis Kelamin KRT") == "reported_head_sex"
    assert header_field("umur_kepala_keluarga") == "reported_head_age"
