"""Point lookups and region-scoped lists over one release handle (SQLite, indexed).

person by NIK or id; family by KK or id, with its members; the persons or families of a region
prefix, a page at a time, with the total. Each is one or two indexed queries; none reads Parquet.
Identifiers are checked before they are looked up; an error message never shows a whole NIK or KK.
"""

from __future__ import annotations

import re
from typing import Any

from dtsen.errors import DtsenError
from dtsen.privacy import mask_nik
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.models import Family, FamilyRecord, Page, Person, PersonRecord
from dtsen.serve.regions import prefix_range

_DIGITS16 = re.compile(r"^\d{16}$")


class QueryInputError(DtsenError):
    """A query's input is malformed (an identifier that is not 16 digits, a bad page)."""


def mask(identifier: str | None) -> str:
    """A NIK or KK as it may appear in a message: 3204********0002 (`dtsen.privacy.mask_nik`)."""
    return mask_nik((identifier or "").strip())


def clean_identifier(value: str, what: str = "NIK") -> str:
    """A NIK or KK: 16 digits (spaces, dots and dashes between digit groups are dropped)."""
    text = re.sub(r"[\s.\-]", "", str(value))
    if not _DIGITS16.match(text):
        raise QueryInputError(f"{what} {mask(text)} bukan 16 digit / is not 16 digits")
    return text


def check_page(offset: int, limit: int, max_limit: int) -> None:
    if offset < 0:
        raise QueryInputError(f"offset {offset} must be 0 or more")
    if not 1 <= limit <= max_limit:
        raise QueryInputError(f"limit {limit} must be between 1 and {max_limit}")


def _person(row: dict[str, Any]) -> Person:
    return Person.model_validate(row)


def person_by_id(h: ReleaseHandle, person_id: int) -> PersonRecord | None:
    rows = h.rows("SELECT * FROM persons WHERE person_id = ?", (int(person_id),))
    return PersonRecord(release_id=h.release_id, person=_person(rows[0])) if rows else None


def persons_by_nik(h: ReleaseHandle, nik: str) -> list[Person]:
    """Every person carrying this NIK (one, unless the linkage kept two apart on purpose)."""
    rows = h.rows("SELECT * FROM persons WHERE nik = ? ORDER BY person_id", (clean_identifier(nik),))
    return [_person(r) for r in rows]


def person_by_nik(h: ReleaseHandle, nik: str) -> PersonRecord | None:
    """The person with this NIK; when two persons carry it, the one with the smallest id."""
    found = persons_by_nik(h, nik)
    return PersonRecord(release_id=h.release_id, person=found[0]) if found else None


def members(h: ReleaseHandle, family_id: int) -> list[Person]:
    rows = h.rows("SELECT * FROM persons WHERE family_id = ? ORDER BY person_id", (int(family_id),))
    return [_person(r) for r in rows]


def _family_record(h: ReleaseHandle, rows: list[dict[str, Any]]) -> FamilyRecord | None:
    if not rows:
        return None
    family = Family.model_validate(rows[0])
    return FamilyRecord(release_id=h.release_id, family=family, members=members(h, family.family_id))


def family_by_id(h: ReleaseHandle, family_id: int) -> FamilyRecord | None:
    return _family_record(h, h.rows("SELECT * FROM families WHERE family_id = ?", (int(family_id),)))


def family_by_kk(h: ReleaseHandle, kk: str) -> FamilyRecord | None:
    """The family known by this KK (families are the persons sharing a KK, so one at most)."""
    rows = h.rows("SELECT * FROM families WHERE kk = ? ORDER BY family_id LIMIT 1", (clean_identifier(kk, "KK"),))
    return _family_record(h, rows)


def persons_in_region(h: ReleaseHandle, prefix: str, offset: int = 0, limit: int = 100,
                      max_limit: int = 1000) -> Page[Person]:
    """The persons living in a region (a code prefix), by person_id."""
    check_page(offset, limit, max_limit)
    lo, hi = prefix_range(prefix)
    where = "region_code >= ? AND region_code < ?"
    total = int(h.scalar(f"SELECT count(*) FROM persons WHERE {where}", (lo, hi)))
    rows = h.rows(f"SELECT * FROM persons WHERE {where} ORDER BY region_code, person_id LIMIT ? OFFSET ?",
                  (lo, hi, limit, offset))
    return Page[Person](release_id=h.release_id, items=[_person(r) for r in rows], total=total, offset=offset,
                        limit=limit)


def families_in_region(h: ReleaseHandle, prefix: str, offset: int = 0, limit: int = 100,
                       max_limit: int = 1000) -> Page[Family]:
    """The families living in a region (a code prefix), by region and family_id."""
    check_page(offset, limit, max_limit)
    lo, hi = prefix_range(prefix)
    where = "region_code >= ? AND region_code < ?"
    total = int(h.scalar(f"SELECT count(*) FROM families WHERE {where}", (lo, hi)))
    rows = h.rows(f"SELECT * FROM families WHERE {where} ORDER BY region_code, family_id LIMIT ? OFFSET ?",
                  (lo, hi, limit, offset))
    return Page[Family](release_id=h.release_id, items=[Family.model_validate(r) for r in rows], total=total,
                        offset=offset, limit=limit)


def count_in_region(h: ReleaseHandle, prefix: str, entity: str = "persons") -> int:
    """How many persons (or families) live in a region: an index range count."""
    if entity not in ("persons", "families"):
        raise QueryInputError(f"entity must be 'persons' or 'families', not {entity!r}")
    lo, hi = prefix_range(prefix)
    table = "persons" if entity == "persons" else "families"
    return int(h.scalar(f"SELECT count(*) FROM {table} WHERE region_code >= ? AND region_code < ?", (lo, hi)))
