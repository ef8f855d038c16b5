"""Point lookups and region lists, with known answers from the hand-written release."""

from __future__ import annotations

import datetime as dt

import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import (
    QueryInputError,
    count_in_region,
    families_in_region,
    family_by_id,
    family_by_kk,
    mask,
    person_by_id,
    person_by_nik,
    persons_in_region,
)
from dtsen.serve.regions import RegionPrefixError


def test_person_by_nik_and_id(r1: ReleaseHandle) -> None:
    found = person_by_nik(r1, "3204 0117 0580 0001")
    assert found is not None and found.release_id == "R0001"
    p = found.person
    assert (p.person_id, p.full_name, p.birth_date, p.family_id, p.sex) == (1, "AHMAD SUBAGJA", dt.date(1980, 5, 17), 10, "L")
    assert p.is_deceased is False and p.kk == "3204010101100001"
    dead = person_by_id(r1, 6)
    assert dead is not None and dead.person.is_deceased is True and dead.person.death_date == dt.date(2024, 1, 5)
    assert person_by_nik(r1, "3204019999999999") is None
    assert person_by_id(r1, 99) is None


def test_malformed_nik_is_refused_without_showing_it(r1: ReleaseHandle) -> None:
    with pytest.raises(QueryInputError) as err:
        person_by_nik(r1, "32040117058000")
    assert "32040117058000" not in str(err.value) and "3204******8000" in str(err.value)
    assert mask("3204011705800001") == "3204********0001"


def test_family_by_kk_and_id_with_members(r1: ReleaseHandle) -> None:
    f = family_by_kk(r1, "3204010101100001")
    assert f is not None
    assert f.family.family_id == 10 and f.family.decile == 2 and f.family.poor is True and f.family.pkh is True
    assert [m.person_id for m in f.members] == [1, 2, 3]
    g = family_by_id(r1, 12)
    assert g is not None and g.family.all_deceased is True and g.family.decile is None
    assert [m.full_name for m in g.members] == ["DEWI LESTARI"]
    assert family_by_id(r1, 77) is None and family_by_kk(r1, "3204019999999999") is None


@pytest.mark.parametrize(("prefix", "persons", "families"), [
    ("", 7, 4), ("32", 6, 3), ("32.04", 6, 3), ("32.04.01", 4, 2), ("32.04.01.2001", 3, 1), ("33", 1, 1),
    ("32.05", 0, 0),
])
def test_region_prefixes(r1: ReleaseHandle, prefix: str, persons: int, families: int) -> None:
    assert count_in_region(r1, prefix) == persons
    assert count_in_region(r1, prefix, "families") == families
    assert persons_in_region(r1, prefix).total == persons
    assert families_in_region(r1, prefix).total == families


def test_region_pages(r1: ReleaseHandle) -> None:
    first = persons_in_region(r1, "32.04", offset=0, limit=4)
    second = persons_in_region(r1, "32.04", offset=4, limit=4)
    # by village, then id: village A (1, 2, 3), village B (6), then 32.04.02.2001 (4, 5)
    assert [p.person_id for p in first.items] == [1, 2, 3, 6]
    assert [p.person_id for p in second.items] == [4, 5]
    assert first.total == second.total == 6
    with pytest.raises(QueryInputError):
        persons_in_region(r1, "32", limit=0)
    with pytest.raises(RegionPrefixError):
        persons_in_region(r1, "32.4")
