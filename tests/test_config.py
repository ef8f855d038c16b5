"""Settings: the project file, DTSEN_* overrides, and every mapping mistake reported at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dtsen.config import load_settings
from dtsen.errors import SettingsError
from dtsen.starter import write_starter

GOOD = """\
[project]
name = "uji"

[engine]
memory_limit = "1GB"

[sources.dtks]
files = ["a.csv"]
as_of = "2025-01-31"

[sources.dtks.columns]
NIK = "nik"
NAMA = "full_name"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "dtsen.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_loads_file_and_resolves_paths(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.project.name == "uji"
    assert s.engine.memory_limit == "1GB"
    assert s.sources["dtks"].as_of == dt.date(2025, 1, 31)
    assert s.sources["dtks"].columns == {"NIK": "nik", "NAMA": "full_name"}
    assert s.work_dir == tmp_path.resolve() / "work"
    assert s.where("sources", "dtks", "columns", "NAMA") == f"{tmp_path / 'dtsen.toml'} line 13 (sources.dtks.columns.NAMA)"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTSEN_ENGINE__MEMORY_LIMIT", "3GB")
    monkeypatch.setenv("DTSEN_ENGINE__KIND", "spark")
    s = load_settings(write(tmp_path, GOOD))
    assert (s.engine.memory_limit, s.engine.kind) == ("3GB", "spark")


def test_every_mapping_mistake_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = """\
[sources.dtks]
level = "person"
files = ["a.csv"]
as_of = "2025-01-31"
date_formats = ["DD-MM-YYYY", "MM/DD/YYYY"]

[sources.dtks.columns]
NIK = "nik"
NAMA = "nama_lengkap"
NAMA2 = "full_name"
NAMA3 = "full_name"

[sources.dtks.codes.sex]
"1" = "LAKI"

[sources.dtks.trust]
nik = 1.5
"""
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, bad))
    text = str(info.value)
    assert "(6 problems)" in text
    assert "line 9 (sources.dtks.columns.NAMA): column 'NAMA' maps to unknown person field 'nama_lengkap'" in text
    assert "line 11 (sources.dtks.columns.NAMA3): columns 'NAMA2' and 'NAMA3' both map to 'full_name'" in text
    assert "line 14 (sources.dtks.codes.sex.1): code '1' -> 'LAKI' is not in the sex vocabulary" in text
    assert "line 5 (sources.dtks.date_formats): unknown date format 'MM/DD/YYYY'" in text
    assert "line 17 (sources.dtks.trust.nik): trust 1.5 for 'nik' is outside 0..1" in text
    assert "codes given for 'sex', but no column maps to it" in text


def test_type_errors_are_all_reported_with_lines(tmp_path: Path) -> None:
    bad = """\
[engine]
kind = "oracle"

[sources.x]
files = ["a.csv"]
as_of = "kemarin"
delimiter = "::"

[sources.x.columns]
NIK = "nik"
"""
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, bad))
    text = str(info.value)
    assert "(3 problems)" in text
    assert "line 2 (engine.kind)" in text
    assert "line 6 (sources.x.as_of)" in text
    assert "line 7 (sources.x.delimiter)" in text


def test_invalid_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[project\nname = 1"))
    with pytest.raises(SettingsError, match="dtsen init DIR"):
        load_settings(tmp_path / "nowhere" / "dtsen.toml")


def test_no_identity_field_is_refused(tmp_path: Path) -> None:
    text = '[sources.x]\nfiles = ["a.csv"]\nas_of = "2025-01-01"\n[sources.x.columns]\nUMUR = "occupation"\n'
    with pytest.raises(SettingsError, match="no identity field is mapped"):
        load_settings(write(tmp_path, text))


def test_starter_project_loads(tmp_path: Path) -> None:
    write_starter(tmp_path)
    s = load_settings(tmp_path)
    assert list(s.sources) == ["dinsos"]
    with pytest.raises(Exception, match="already exists"):
        write_starter(tmp_path)


ROLES = """\
[sources.capil]
role = "civil_registry"
files = ["a.csv"]
as_of = 2025-06-30
columns = { NIK = "nik", NAMA = "full_name", KK = "kk", MATI = "is_deceased" }

[sources.kematian]
role = "deaths"
files = ["b.csv"]
as_of = 2025-06-30
columns = { NIK = "nik", TGL = "death_date" }

[sources.asuransi]
role = "health_insurance"
files = ["c.csv"]
as_of = 2025-06-30
columns = { NIK = "nik", NAMA = "full_name" }

[sources.daftar_lama]
role = "welfare_list"
files = ["d.csv"]
as_of = 2024-06-30
columns = { NIK = "nik", NAMA = "full_name" }

[sources.listrik]
role = "utility"
level = "family"
files = ["e.csv"]
as_of = 2025-06-30
columns = { NO_KK = "kk", DAYA = "electricity_va" }

[sources.bansos]
role = "programme"
level = "family"
files = ["f.csv"]
as_of = 2025-06-30
columns = { NO_KK = "kk" }
value_flags = { PROGRAM = { PKH = "pkh", BPNT = "bpnt" } }

[sources.survei]
role = "survey"
level = "family"
files = ["g.csv"]
as_of = 2025-03-31
columns = { NO_KK = "kk", KAPITA = "consumption_per_capita" }

[sources.kunjungan]
role = "field_check"
level = "family"
files = ["h.csv"]
as_of = 2025-06-30
columns = { KK = "kk" }
"""


def test_defaults_follow_roles_not_names(tmp_path: Path) -> None:
    """Sources named otherwise than the synthetic ones get the same built-in rules by role."""
    s = load_settings(write(tmp_path, ROLES))
    sv = s.survivorship
    assert sv.deaths_from == ["capil", "kematian"]
    assert sv.above_all == ["kunjungan"]
    assert sv.rule_for("person", "nik").order == ["capil", "asuransi", "daftar_lama"]
    assert sv.rule_for("person", "kk").order == ["capil"]
    assert sv.rule_for("person", "death_date").order == ["capil", "kematian"]
    assert sv.rule_for("family", "electricity_va").order == ["listrik"]
    assert (sv.rule_for("family", "pkh").order, sv.rule_for("family", "bpnt").order) == (["bansos"], ["bansos"])
    assert sv.rule_for("family", "consumption_per_capita").order == ["survei"]
    assert s.welfare.survey == "survei"


def test_the_project_file_wins_over_roles(tmp_path: Path) -> None:
    text = ROLES + '\n[welfare]\nsurvey = "survei"\n[survivorship]\ndeaths_from = ["kematian"]\n' \
        '[survivorship.person.nik]\nrule = "source_order"\norder = ["asuransi"]\n'
    sv = load_settings(write(tmp_path, text)).survivorship
    assert sv.deaths_from == ["kematian"]
    assert sv.rule_for("person", "nik").order == ["asuransi"]
    assert sv.rule_for("person", "full_name").order == ["capil", "asuransi", "daftar_lama"]


def test_without_roles_the_synthetic_names_keep_their_defaults(tmp_path: Path) -> None:
    from dtsen.consolidate.rules import DEFAULT_FAMILY_RULES, DEFAULT_PERSON_RULES

    text = GOOD.replace("[sources.dtks]", "[sources.dukcapil]").replace("sources.dtks.columns", "sources.dukcapil.columns")
    sv = load_settings(write(tmp_path, text)).survivorship
    assert sv.deaths_from == ["dukcapil"]
    assert sv.rule_for("person", "kk") == DEFAULT_PERSON_RULES["kk"]
    assert sv.rule_for("family", "pkh") == DEFAULT_FAMILY_RULES["pkh"]
    with pytest.raises(SettingsError, match="role"):
        load_settings(write(tmp_path, GOOD.replace('files = ["a.csv"]', 'role = "dinas"\nfiles = ["a.csv"]')))
