"""A regency's own files described by `dtsen.toml` alone (issue 12): a code built from several
columns, constants per source, several record kinds in one file, one column setting several
fields, and a source's own code lists. Each test is a known answer on a small file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dtsen.config import load_settings, source_warnings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import SettingsError
from dtsen.ingest.pipeline import ingest
from dtsen.mapping import parse_template

REGIONS = """\
code,name,level
32,Jawa Barat,province
32.04,Kabupaten Bandung,regency
32.04.05,Cileunyi,district
32.04.05.2001,Cileunyi Kulon,village
32.04.05.2002,Cileunyi Wetan,village
"""


def by_row(table: pa.Table) -> dict[int, dict[str, object]]:
    return {r["row"]: r for r in table.to_pylist()}


def flags(record: dict[str, object]) -> set[str]:
    return set(str(record["flags"] or "").split(";")) - {""}


def write_project(tmp_path: Path, toml: str, **files: str) -> Path:
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text('[reference]\nregions = "regions.csv"\n\n' + toml, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return tmp_path


def records(settings_dir: Path, source: str) -> dict[int, dict[str, object]]:
    return by_row(read_parquet_arrow(settings_dir / "work" / "ingest" / "records" / source))


def quarantine(settings_dir: Path, source: str) -> dict[int, dict[str, object]]:
    return by_row(read_parquet_arrow(settings_dir / "work" / "ingest" / "quarantine" / source))


# -- layout 1: a code built from several columns ------------------------------------------------

CAPIL = """\
[sources.capil]
files = ["capil.csv"]
as_of = 2025-06-30
[sources.capil.columns]
NIK = "nik"
NAMA_LGKP = "full_name"
[sources.capil.compose]
region_code = "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"
address = "{ALAMAT} RT {NO_RT:03}"
"""


def test_a_village_code_from_four_unpadded_columns(tmp_path: Path, duck: Engine) -> None:
    project = write_project(tmp_path, CAPIL, capil__csv=(
        "NIK;NAMA_LGKP;NO_PROP;NO_KAB;NO_KEC;NO_KEL;ALAMAT;NO_RT\n"
        "3204051507800003;AHMAD;32;4;5;2001;JL. MAWAR;3\n"  # 32.04.05.2001
        "3204055203850002;SITI;32;04;05;2002;JL. MELATI;12\n"  # already padded
        "3204050109100001;BUDI;32;4;5;;JL. X;1\n"  # a part missing: no code, not a malformed one
        "3204050411920001;DEWI;32;4;5;2999;JL. Y;1\n"  # composed, but not a village
    ))
    settings = load_settings(project)
    ingest(settings, duck)
    rec, q = records(project, "capil"), quarantine(project, "capil")
    assert rec[2]["region_code"] == "32.04.05.2001" and rec[3]["region_code"] == "32.04.05.2002"
    assert (rec[2]["rt"], rec[3]["rt"]) == ("003", "012")  # the RT read back from the composed address
    assert rec[4]["region_code"] is None and "region_missing" in flags(rec[4])
    assert rec[5]["region_code"] is None and "region_unknown" in flags(rec[5])  # withheld, the person kept
    assert q == {}


def test_template_syntax() -> None:
    parts = parse_template("{NO_PROP:02}.{ NO_KAB :02}-{{x}}")
    assert [(p.text, p.column, p.width) for p in parts] == [
        ("", "NO_PROP", 2), (".", None, 0), ("", "NO_KAB", 2), ("-", None, 0), ("{", None, 0), ("x", None, 0),
        ("}", None, 0)]
    for bad, message in [("{A:2}", "0N"), ("{A", "lone"), ("{}", "empty column"), ("no columns", "at least one")]:
        with pytest.raises(ValueError, match=message):
            parse_template(bad)


def test_compose_mistakes_are_reported_with_lines(tmp_path: Path, duck: Engine) -> None:
    bad = CAPIL.replace('"{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"', '"{NO_PROP:2}.{NO_KAB}"') \
        .replace('address = ', 'alamat_lengkap = ')
    with pytest.raises(SettingsError) as info:
        load_settings(write_project(tmp_path, bad))
    text = str(info.value)
    assert "line 11 (sources.capil.compose.region_code): template '{NO_PROP:2}.{NO_KAB}'" in text
    assert "line 12 (sources.capil.compose.alamat_lengkap): compose names unknown person field" in text
    # a column of a template that the file lacks is named with the template's line
    project = write_project(tmp_path, CAPIL, capil__csv="NIK;NAMA_LGKP;NO_PROP;NO_KAB;NO_KEC;ALAMAT;NO_RT\n1;A;32;4;5;X;1\n")
    with pytest.raises(Exception, match=r"column 'NO_KEL' is not in capil\.csv") as err:
        ingest(load_settings(project), duck)
    assert "line 11 (sources.capil.compose.region_code)" in str(err.value)


# -- layout 2: constants, and a death date alone ------------------------------------------------

DEATHS = """\
[sources.kematian]
files = ["kematian.csv"]
as_of = 2025-06-30
date_formats = ["DD-MM-YYYY"]
[sources.kematian.columns]
NIK = "nik"
NAMA = "full_name"
TGL_MATI = "death_date"
[sources.kematian.constants]
is_deceased = true
region_code = "32.04.05.2001"

[sources.capil]
files = ["capil.csv"]
as_of = 2025-06-30
date_formats = ["DD-MM-YYYY"]
[sources.capil.columns]
NIK = "nik"
NAMA = "full_name"
STATUS = "is_deceased"
TGL_MATI = "death_date"
[sources.capil.codes.is_deceased]
HIDUP = false
MATI = true
"""


def test_a_deaths_list_without_a_dead_column(tmp_path: Path, duck: Engine) -> None:
    project = write_project(
        tmp_path, DEATHS,
        kematian__csv="NIK;NAMA;TGL_MATI\n3204051507800003;AHMAD;01-02-2025\n3204055203850002;SITI;\n",
        capil__csv=("NIK;NAMA;STATUS;TGL_MATI\n"
                    "3204051507800003;AHMAD;;01-02-2025\n"  # a death date alone
                    "3204055203850002;SITI;HIDUP;\n"
                    "3204050109100001;BUDI;HIDUP;03-04-2025\n"  # says alive, but has a death date
                    "3204050411920001;DEWI;MATI;\n"),
    )
    settings = load_settings(project)
    ingest(settings, duck)
    dead = records(project, "kematian")
    assert [(r["is_deceased"], r["region_code"]) for r in dead.values()] == [(True, "32.04.05.2001")] * 2
    capil = records(project, "capil")
    assert [capil[r]["is_deceased"] for r in (2, 3, 4, 5)] == [True, False, False, True]
    assert flags(capil[4]) == {"deceased_conflict"} and flags(capil[2]) == set()


def test_a_constant_that_cannot_be_the_fields_value_is_a_mistake(tmp_path: Path) -> None:
    bad = DEATHS.replace("is_deceased = true", 'is_deceased = "kadang"\nsex = "X"\nbirth_date = "kemarin"')
    with pytest.raises(SettingsError) as info:
        load_settings(write_project(tmp_path, bad))
    text = str(info.value)
    assert "line 13 (sources.kematian.constants.is_deceased): constant 'kadang' for 'is_deceased' is not yes or no" in text
    assert "constant 'X' for 'sex' is not in its vocabulary" in text
    assert "constant 'kemarin' for 'birth_date' must be a date" in text


# -- layout 3: several record kinds in one file -------------------------------------------------

REGSOSEK = """\
[sources.regsosek]
files = ["regsosek.csv"]
as_of = 2022-11-15
kind_column = "JENIS"
date_formats = ["DD-MM-YYYY"]

[sources.regsosek.kinds.ruta]
values = ["RUTA", "1"]
level = "family"
[sources.regsosek.kinds.ruta.columns]
NO_KK = "kk"
KODE_DESA = "region_code"
ALAMAT = "address"
LUAS = "floor_area"

[sources.regsosek.kinds.art]
values = ["ART", "2"]
level = "person"
parent = "ruta"
key = "ID_RUTA"
inherit = ["region_code", "address"]
[sources.regsosek.kinds.art.columns]
NIK = "nik"
NO_KK = "kk"
NAMA = "full_name"
TGL_LAHIR = "birth_date"
"""
REGSOSEK_CSV = """\
JENIS;ID_RUTA;NO_KK;NIK;NAMA;TGL_LAHIR;KODE_DESA;ALAMAT;LUAS
RUTA;R1;3204050101100001;;;;32.04.05.2001;JL. MAWAR RT 1 RW 2;36
ART;R1;3204050101100001;3204051507800003;AHMAD;15-07-1980;;;
ART;R1;3204050101100001;3204055203850002;SITI;12-03-1985;;;
RUTA;R2;3204050101100002;;;;32.04.05.2002;KP. BARU;20
2;R2;3204050101100002;3204050109100001;BUDI;01-09-2010;;;
ART;R9;3204050101100009;3204050411920001;DEWI;04-11-1992;;;
X;R3;3204050101100003;;;;32.04.05.2001;JL. Z;10
"""


def test_households_and_members_in_one_file(tmp_path: Path, duck: Engine) -> None:
    project = write_project(tmp_path, REGSOSEK, regsosek__csv=REGSOSEK_CSV)
    settings = load_settings(project)
    assert list(settings.sources) == ["regsosek_ruta", "regsosek_art"]
    report = ingest(settings, duck)
    counts = {s.source: (s.level, s.rows_read, s.accepted, s.quarantined) for s in report.sources}
    # 7 rows: 2 households, 4 members, 1 of no kind (with the first kind, in quarantine)
    assert counts == {"regsosek_ruta": ("family", 3, 2, 1), "regsosek_art": ("person", 4, 4, 0)}
    ruta = records(project, "regsosek_ruta")
    assert [(r["kk"], r["region_code"], r["floor_area"]) for r in ruta.values()] == [
        ("3204050101100001", "32.04.05.2001", 36.0), ("3204050101100002", "32.04.05.2002", 20.0)]
    assert quarantine(project, "regsosek_ruta")[8]["reasons"] == "kind_unknown"
    art = records(project, "regsosek_art")
    assert sorted(art) == [3, 4, 6, 7]
    # members take the household's village and address (and the RT/RW it names)
    assert (art[3]["name"], art[3]["region_code"], art[3]["address"], art[3]["rt"], art[3]["rw"]) == (
        "AHMAD", "32.04.05.2001", "JL MAWAR", "001", "002")
    assert art[6]["region_code"] == "32.04.05.2002" and flags(art[6]) == set()
    # a member whose household row is missing keeps its own values (none) and is flagged
    assert art[7]["region_code"] is None and "parent_row_missing" in flags(art[7])
    assert not any("duplicate_row" in str(r["flags"]) for r in art.values())


def test_a_household_file_read_as_persons_is_loud(tmp_path: Path, duck: Engine) -> None:
    """The same file mapped as one person source: household rows are no persons (quarantined
    with a reason naming why), and the source gets a note that points at record kinds."""
    toml = """\
[sources.regsosek]
files = ["regsosek.csv"]
as_of = 2022-11-15
date_formats = ["DD-MM-YYYY"]
[sources.regsosek.columns]
NIK = "nik"
NO_KK = "kk"
NAMA = "full_name"
KODE_DESA = "region_code"
"""
    many = REGSOSEK_CSV + "".join(f"RUTA;R{i};32040501011{i:05d};;;;32.04.05.2001;JL. Q;30\n" for i in range(10, 30))
    project = write_project(tmp_path, toml, regsosek__csv=many)
    report = ingest(load_settings(project), duck)
    [src] = report.sources
    assert src.reasons["person_without_name_or_nik"] == 23
    assert src.accepted == 4
    assert any("several record kinds" in n for n in src.notes)


def test_kind_mistakes_are_reported(tmp_path: Path) -> None:
    bad = REGSOSEK.replace('parent = "ruta"', 'parent = "keluarga"').replace('values = ["ART", "2"]',
                                                                          'values = ["ART", "1"]')
    with pytest.raises(SettingsError) as info:
        load_settings(write_project(tmp_path, bad))
    text = str(info.value)
    assert "(sources.regsosek.kinds.art.parent): parent 'keluarga' is not a kind of source 'regsosek'" in text
    assert "kinds 'ruta' and 'art' share the value(s) 1" in text
    bad = REGSOSEK.replace('inherit = ["region_code", "address"]', 'inherit = ["region_code", "education"]')
    with pytest.raises(SettingsError, match="inherit names 'education', which the parent kind 'ruta' does not map"):
        load_settings(write_project(tmp_path, bad))


# -- layout 4: one column, several fields ---------------------------------------------------------

BANSOS = """\
[sources.bansos]
level = "family"
files = ["bansos.csv"]
as_of = 2025-06-30
[sources.bansos.columns]
NO_KK = "kk"
NAMA = "full_name"
[sources.bansos.value_flags.PROGRAM]
PKH = "pkh"
BPNT = "bpnt"
SEMBAKO = "bpnt"
"PKH+BPNT" = ["pkh", "bpnt"]
"""


def test_one_programme_column_sets_each_programme(tmp_path: Path, duck: Engine) -> None:
    project = write_project(tmp_path, BANSOS, bansos__csv=(
        "NO_KK;NAMA;PROGRAM\n"
        "3204050101100001;AHMAD;PKH\n"  # 2: PKH only
        "3204050101100002;BUDI;BPNT\n"  # 3: listed twice, once per programme
        "3204050101100002;BUDI;pkh\n"  # 4
        "3204050101100003;CICI;Sembako\n"  # 5: another name of BPNT
        "3204050101100004;DODI;PKH+BPNT\n"  # 6
        "3204050101100005;EKA;PIP\n"  # 7: a programme the list does not name
    ))
    ingest(load_settings(project), duck)
    rec = records(project, "bansos")
    got = {row: (r["pkh"], r["bpnt"]) for row, r in rec.items()}
    assert got == {2: (True, False), 3: (True, True), 4: (True, True), 5: (False, True), 6: (True, True),
                   7: (None, None)}
    assert flags(rec[7]) == {"code_unknown:PROGRAM"} and flags(rec[2]) == set()


def test_value_flags_must_name_yes_no_fields(tmp_path: Path) -> None:
    bad = BANSOS.replace('BPNT = "bpnt"', 'BPNT = "floor_area"').replace('[sources.bansos.columns]\nNO_KK = "kk"',
                                                                       '[sources.bansos.columns]\nNO_KK = "kk"\nPKH = "pkh"')
    with pytest.raises(SettingsError) as info:
        load_settings(write_project(tmp_path, bad))
    text = str(info.value)
    assert "value_flags of 'PROGRAM' names 'floor_area', which is not a yes/no family field" in text
    assert "'pkh' is set by value_flags of 'PROGRAM', but 'PKH' maps to it too" in text


# -- layout 6: a source's own code lists ----------------------------------------------------------

DTKS = """\
[sources.dtks]
files = ["dtks.csv"]
as_of = 2024-06-30
[sources.dtks.columns]
NIK = "nik"
NAMA = "full_name"
HUB = "relationship"
JK = "sex"
PUNYA_HP = "has_phone"
[sources.dtks.codes.relationship]
"1" = "KEPALA_KELUARGA"
"2" = "PASANGAN"
"3" = "ANAK"
[sources.dtks.codes.sex]
"1" = "L"
"2" = "P"
"""


def test_a_sources_code_list_replaces_the_built_in_one(tmp_path: Path, duck: Engine) -> None:
    toml = DTKS.replace('PUNYA_HP = "has_phone"\n', "")
    project = write_project(tmp_path, toml, dtks__csv=(
        "NIK;NAMA;HUB;JK\n"
        "3204051507800003;AHMAD;1;1\n"
        "3204055203850002;SITI;2;2\n"  # BPS: 2 = spouse (the built-in list says husband)
        "3204050109100001;BUDI;3;1\n"  # BPS: 3 = child (the built-in list says wife)
        "3204050411920001;DEWI;ISTRI;P\n"  # canonical values are still understood
        "3204050411920002;EKO;5;LAKI-LAKI\n"  # not in the source's lists: unknown, not guessed
    ))
    settings = load_settings(project)
    ingest(settings, duck)
    rec = records(project, "dtks")
    assert [rec[r]["relationship"] for r in (2, 3, 4, 5, 6)] == ["KEPALA_KELUARGA", "PASANGAN", "ANAK", "ISTRI", None]
    assert [rec[r]["sex"] for r in (2, 3, 4, 5, 6)] == ["L", "P", "L", "P", None]
    assert flags(rec[6]) >= {"code_unknown:relationship", "sex_invalid"}
    [warning] = source_warnings(settings)
    assert "codes for 'relationship' mean other values in the built-in list: 2 (here PASANGAN, built-in SUAMI); " \
           "3 (here ANAK, built-in ISTRI)" in str(warning)
    assert "dtsen.toml line 12 (sources.dtks.codes.relationship)" in str(warning)


def test_codes_for_a_field_that_takes_none_are_a_mistake(tmp_path: Path) -> None:
    toml = DTKS.replace('PUNYA_HP = "has_phone"', 'KERJA = "occupation"\nLAHIR = "birth_date"') + \
        '[sources.dtks.codes.occupation]\n"1" = "PETANI"\n[sources.dtks.codes.birth_date]\n"0" = "2000-01-01"\n'
    with pytest.raises(SettingsError) as info:
        load_settings(write_project(tmp_path, toml))
    text = str(info.value)
    assert "codes given for 'occupation', which takes no codes (string, free text)" in text
    assert "codes given for 'birth_date', which takes no codes (date)" in text


# -- layout 5: regions by name --------------------------------------------------------------------

NAMED_REGIONS = """\
code,name,level
32,Jawa Barat,province
32.03,Kabupaten Cianjur,regency
32.03.01,Cianjur,district
32.03.01.1001,Sayang,village
32.03.01.2002,Sukamaju,village
32.03.02,Cugenang,district
32.03.02.2001,Sukamaju,village
32.03.02.2002,Djambudipa,village
32.73,Kota Bandung,regency
32.73.01,Sukasari,district
32.73.01.1001,Sukarasa,village
32.04,Kabupaten Bandung,regency
32.04.05,Cileunyi,district
32.04.05.2001,Cileunyi Kulon,village
"""
LISTA = """\
[sources.listrik]
level = "family"
files = ["listrik.csv"]
as_of = 2025-06-30
[sources.listrik.columns]
IDPEL = "full_name"
NO_KK = "kk"
PROV = "province_name"
KAB = "regency_name"
KEC = "district_name"
DESA = "village_name"
"""


def test_regions_by_name_top_down_with_prefixes_variants_and_typos(tmp_path: Path, duck: Engine) -> None:
    (tmp_path / "regions.csv").write_text(NAMED_REGIONS, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text('[reference]\nregions = "regions.csv"\n\n' + LISTA, encoding="utf-8")
    (tmp_path / "listrik.csv").write_text(
        "IDPEL;NO_KK;PROV;KAB;KEC;DESA\n"
        "P1;3203010101100001;JAWA BARAT;KABUPATEN CIANJUR;KEC. CIANJUR;DS. SUKAMAJU\n"  # 2: Sukamaju of Cianjur
        "P2;3203020101100002;Jawa Barat;KAB. CIANJUR;CUGENANG;SUKAMAJU\n"  # 3: the other Sukamaju
        "P3;3203020101100003;PROV. JABAR;CIANJUR;Cugenang;Jambudipa\n"  # 4: old spelling; province unknown
        "P4;3203020101100004;;Kab Cianjur;Cugenag;Djambudipa\n"  # 5: a typo in the district
        "P5;3273010101100005;;KOTA BANDUNG;SUKASARI;SUKARASA\n"  # 6: KOTA, not the regency
        "P6;3204050101100006;;BANDUNG;CILEUNYI;CILEUNYI KULON\n"  # 7: BANDUNG alone is Kab. and Kota:
        # skipped over; the district is unique in the country
        "P7;3203010101100007;JAWA BARAT;CIANJUR;CIANJUR;DESA ENTAH\n"  # 8: no such village
        "P8;3203010101100008;;;;SAYANG\n"  # 9: a village name alone, unique in the country
        "P9;3203010101100009;;KAB. CIANJUR;;SUKAMAJU\n"  # 10: two SUKAMAJU in Cianjur, no district
        "P10;3203010101100010;;KAB. ANTAH;;BERANTAH\n",  # 11: no such regency
        encoding="utf-8")
    settings = load_settings(tmp_path)
    report = ingest(settings, duck)
    rec = records(tmp_path, "listrik")
    codes = {row: r["region_code"] for row, r in rec.items()}
    assert codes == {2: "32.03.01.2002", 3: "32.03.02.2001", 4: "32.03.02.2002", 5: "32.03.02.2002",
                     6: "32.73.01.1001", 7: "32.04.05.2001", 8: None, 9: "32.03.01.1001", 10: None, 11: None}
    assert flags(rec[4]) == set() and flags(rec[7]) == set()  # names not found above a code found: no flag
    assert "region_name_unresolved:village" in flags(rec[8]) and "region_name_unresolved:village" in flags(rec[10])
    assert "region_name_unresolved:regency" in flags(rec[11])
    assert report.sources[0].flags["region_name_unresolved:village"] == 2


def test_the_layouts_give_the_same_records_on_every_engine(tmp_path: Path, engine: Engine) -> None:
    """Kinds with a parent row, value flags, a template, a constant, regions by name and a
    control character, on DuckDB and on Spark (`-m spark`)."""
    toml = REGSOSEK.replace('[sources.regsosek.kinds.ruta.columns]', '[sources.regsosek.kinds.ruta.value_flags.PROG]\n'
                            'PKH = "pkh"\nBPNT = "bpnt"\n[sources.regsosek.kinds.ruta.columns]') \
        .replace('LUAS = "floor_area"', 'LUAS = "floor_area"\n[sources.regsosek.kinds.ruta.constants]\nhas_car = false')
    csv = "\n".join(line + (";PROG" if i == 0 else ";PKH" if line.startswith("RUTA;R1") else ";BPNT" if
                            line.startswith("RUTA") else ";") for i, line in enumerate(REGSOSEK_CSV.splitlines()))
    project = write_project(tmp_path, toml + LISTA.replace("IDPEL", "ID"),
                            regsosek__csv=csv.replace("AHMAD", "AH\x1bMAD") + "\n",
                            listrik__csv="ID;NO_KK;PROV;KAB;KEC;DESA\nP1;3204050101100001;;KAB. BANDUNG;CILENYI;"
                                         "DS. CILEUNYI KULON\n")
    (tmp_path / "regions.csv").write_text(NAMED_REGIONS + "32.04.05.2002,Cileunyi Wetan,village\n", encoding="utf-8")
    settings = load_settings(project)
    settings.ingest.work_dir = tmp_path / f"work_{engine.kind}"
    ingest(settings, engine)
    work = settings.work_dir / "ingest" / "records"
    ruta = by_row(read_parquet_arrow(work / "regsosek_ruta"))
    assert [(r["pkh"], r["bpnt"], r["has_car"], r["floor_area"]) for r in ruta.values()] == [
        (True, False, False, 36.0), (False, True, False, 20.0)]
    art = by_row(read_parquet_arrow(work / "regsosek_art"))
    assert (art[3]["name"], art[3]["region_code"], flags(art[3])) == (
        "AHMAD", "32.04.05.2001", {"control_chars_removed:full_name"})
    assert art[7]["region_code"] is None and "parent_row_missing" in flags(art[7])
    [pln] = read_parquet_arrow(work / "listrik").to_pylist()
    assert pln["region_code"] == "32.04.05.2001"
