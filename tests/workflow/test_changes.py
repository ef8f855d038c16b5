"""What a visit's answers change, with known answers: a family not found is retired, one that
moved away is marked, one that moved to a known village takes its living members along, named
members die, corrections are checked against the vocabularies, a new family comes with its KK."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dtsen.workflow.changes import VisitAnswers, changes_from_visit
from dtsen.workflow.errors import InvalidCaseInput
from dtsen.workflow.registry import FamilyRecord, ReleaseRegistry
from tests.workflow.conftest import OTHER_VILLAGE, VILLAGE, write_release

TODAY = dt.date.today().isoformat()


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> FamilyRecord:
    root: Path = tmp_path_factory.mktemp("rilis")
    found = ReleaseRegistry(write_release(root)).family(45)
    assert found is not None and [m.person_id for m in found.members] == [701, 702, 703]
    return found


def _changes(answers: dict[str, object], family: FamilyRecord | None) -> list[dict[str, object]]:
    return [c.model_dump(exclude_none=True) for c in changes_from_visit(VisitAnswers.model_validate(answers), family)]


def test_not_found_retires_the_family_and_nothing_else(family: FamilyRecord) -> None:
    assert _changes({"visited_on": TODAY, "found": False}, family) == [
        {"entity": "family", "family_id": 45, "kk": "3204050101090001", "region_code": VILLAGE,
         "fields": {"family_status": "TIDAK_DITEMUKAN"}}]
    with pytest.raises(InvalidCaseInput, match="cannot be used"):
        _changes({"visited_on": TODAY, "found": False, "family_fields": {"has_car": True}}, family)


def test_moved_away_marks_the_family(family: FamilyRecord) -> None:
    out = _changes({"visited_on": TODAY, "moved": {}, "deceased": [{"person_id": 702}]}, family)
    assert out == [{"entity": "family", "family_id": 45, "kk": "3204050101090001", "region_code": VILLAGE,
                    "fields": {"family_status": "PINDAH"}},
                   {"entity": "person", "family_id": 45, "person_id": 702, "kk": "3204050101090001",
                    "region_code": VILLAGE, "identity": {"nik": "3204051507800003", "kk": "3204050101090001",
                                                         "full_name": "BUDI SANTOSO", "sex": "L",
                                                         "birth_date": "1980-07-15"},
                    "fields": {"is_deceased": True}}]
    with pytest.raises(InvalidCaseInput, match="no other answers"):
        _changes({"visited_on": TODAY, "moved": {}, "family_fields": {"has_car": True}}, family)


def test_moved_to_a_known_village_takes_the_living_members(family: FamilyRecord) -> None:
    out = _changes({"visited_on": TODAY, "moved": {"region_code": OTHER_VILLAGE, "address": "JL. BARU 5", "rt": "3"},
                    "deceased": [{"person_id": 703}]}, family)
    fam, *people = out
    assert fam["fields"] == {"family_status": "AKTIF", "region_code": OTHER_VILLAGE, "address": "JL. BARU 5",
                             "rt": "3"} and fam["region_code"] == OTHER_VILLAGE
    moved = {p["person_id"]: p["fields"] for p in people}
    assert moved == {701: {"region_code": OTHER_VILLAGE, "address": "JL. BARU 5", "rt": "3"},
                     702: {"region_code": OTHER_VILLAGE, "address": "JL. BARU 5", "rt": "3"},
                     703: {"is_deceased": True}}  # the dead do not move
    assert people[0]["identity"] == {"nik": "3204055203850002", "kk": "3204050101090001", "full_name": "SITI AMINAH",
                                     "sex": "P", "birth_date": "1985-03-12"}


def test_deaths_and_corrections_of_members(family: FamilyRecord) -> None:
    out = _changes({"visited_on": TODAY, "deceased": [{"person_id": 702, "death_date": "2026-01-05"}],
                    "member_updates": [{"person_id": 703, "fields": {"education": "smp", "occupation": "PELAJAR"}}],
                    "family_fields": {"floor_type": "tanah", "livestock": 2, "has_ac": False}}, family)
    assert out[0]["fields"] == {"floor_type": "TANAH", "livestock": 2, "has_ac": False, "family_status": "AKTIF"}
    assert [(p["person_id"], p["fields"]) for p in out[1:]] == [
        (702, {"is_deceased": True, "death_date": "2026-01-05"}), (703, {"education": "SMP", "occupation": "PELAJAR"})]


def test_answers_that_do_not_fit_are_all_named(family: FamilyRecord) -> None:
    with pytest.raises(InvalidCaseInput) as err:
        _changes({"visited_on": TODAY, "deceased": [{"person_id": 999}],
                  "member_updates": [{"person_id": 701, "fields": {"nik": "3204055203850009"}}],
                  "family_fields": {"floor_type": "MARMER", "region_code": OTHER_VILLAGE, "livestock": -1},
                  "unresolved": ["nama meninggal ke-1 tidak cocok"]}, family)
    text = str(err.value)
    for expected in ("person 999 is not a member of family 45", "person field 'nik' cannot be changed",
                     "floor_type must be one of", "region_code follows from `found` and `moved`",
                     "livestock must be a int", "not settled yet"):
        assert expected in text, expected
    assert len(err.value.problems) == 6


def test_a_new_family_comes_with_its_kk_and_members() -> None:
    out = _changes({"visited_on": TODAY, "new_family": {"kk": "3204050101099999", "region_code": VILLAGE,
                                                        "address": "JL. MELATI 2"},
                    "family_fields": {"floor_type": "TANAH"},
                    "new_persons": [{"nik": "3204056505900001", "full_name": "Nur Aini", "sex": "P",
                                     "birth_date": "1990-05-25", "relationship": "KEPALA_KELUARGA"}]}, None)
    assert out[0] == {"entity": "family", "kk": "3204050101099999", "region_code": VILLAGE,
                      "fields": {"floor_type": "TANAH", "address": "JL. MELATI 2", "family_status": "AKTIF"}}
    assert out[1]["identity"] == {"nik": "3204056505900001", "kk": "3204050101099999", "full_name": "NUR AINI",
                                  "sex": "P", "birth_date": "1990-05-25"}
    assert out[1]["fields"] == {"relationship": "KEPALA_KELUARGA", "is_deceased": False}
    with pytest.raises(InvalidCaseInput, match="new_family"):
        _changes({"visited_on": TODAY}, None)
