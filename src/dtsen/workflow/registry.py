"""What the workflow needs to know of the registry: a family with its members, a person by NIK,
the ground-check candidates of a region. `Registry` is the interface; `ReleaseRegistry` answers
from a published release's Parquet tables.

`ReleaseRegistry` reads with filters (only the row groups and rows that match), which is fine for
the workflow's few lookups per request; the serving index (`dtsen.serve`, point lookups that
never scan Parquet) is the faster answer and can stand behind the same interface.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from dtsen.release.store import ReleaseStore

PERSON_COLUMNS = ("person_id", "family_id", "nik", "kk", "full_name", "sex", "birth_date", "relationship",
                  "region_code", "address", "rt", "rw", "is_deceased")
FAMILY_COLUMNS = ("family_id", "kk", "region_code", "address", "rt", "rw")
# family values a case shows next to its changes, and a citizen's status draws from
FAMILY_VALUES = ("floor_type", "wall_type", "roof_type", "water_source", "sanitation", "lighting", "electricity_va",
                 "cooking_fuel", "has_motorbike", "has_car", "has_fridge", "has_ac", "has_land", "has_gold",
                 "livestock", "pkh", "bpnt", "pbi_jk", "decile", "poor", "extreme_poor", "family_status")


@dataclass(frozen=True)
class PersonRecord:
    person_id: int
    family_id: int | None
    nik: str | None
    kk: str | None
    full_name: str | None
    sex: str | None
    birth_date: dt.date | None
    relationship: str | None
    region_code: str | None
    address: str | None
    rt: str | None
    rw: str | None
    is_deceased: bool


@dataclass(frozen=True)
class FamilyRecord:
    family_id: int
    kk: str | None
    region_code: str | None
    address: str | None
    rt: str | None
    rw: str | None
    values: Mapping[str, Any] = field(default_factory=dict)  # FAMILY_VALUES present in the release
    members: tuple[PersonRecord, ...] = ()

    def member(self, person_id: int) -> PersonRecord | None:
        return next((m for m in self.members if m.person_id == person_id), None)


@dataclass(frozen=True)
class Candidate:
    family_id: int
    region_code: str
    priority: int | None


class Registry(Protocol):
    """The registry as the workflow sees it: one release."""

    release_id: str

    def family(self, family_id: int) -> FamilyRecord | None: ...

    def person_by_nik(self, nik: str) -> PersonRecord | None: ...

    def family_by_kk(self, kk: str) -> FamilyRecord | None: ...

    def candidates(self, region_prefix: str) -> list[Candidate]: ...


def release_table(path: Path, columns: tuple[str, ...] | list[str], filters: Any = None) -> pa.Table:
    """A table of a release (one Parquet file, or a folder of part files as Spark writes them),
    only the `columns` it has, only the rows `filters` keeps."""
    files = sorted(str(f) for f in path.glob("*.parquet")) if path.is_dir() else [str(path)]
    dataset = pads.dataset(files, format="parquet")
    present = set(dataset.schema.names)
    return dataset.to_table(columns=[c for c in columns if c in present], filter=filters)


def _rows(path: Path, columns: tuple[str, ...], filters: Any) -> list[dict[str, Any]]:
    return list(release_table(path, columns, filters).to_pylist())


def _person(row: Mapping[str, Any]) -> PersonRecord:
    return PersonRecord(
        person_id=int(row["person_id"]), family_id=None if row.get("family_id") is None else int(row["family_id"]),
        nik=row.get("nik"), kk=row.get("kk"), full_name=row.get("full_name"), sex=row.get("sex"),
        birth_date=row.get("birth_date"), relationship=row.get("relationship"), region_code=row.get("region_code"),
        address=row.get("address"), rt=row.get("rt"), rw=row.get("rw"), is_deceased=bool(row.get("is_deceased")))


class ReleaseRegistry:
    """The registry of one published release directory (`releases/R0003`)."""

    def __init__(self, release_dir: Path) -> None:
        self.path = Path(release_dir)
        self.release_id = self.path.name

    def family(self, family_id: int) -> FamilyRecord | None:
        rows = _rows(self.path / "families.parquet", (*FAMILY_COLUMNS, *FAMILY_VALUES),
                     pc.field("family_id") == pa.scalar(int(family_id), pa.int64()))
        if not rows:
            return None
        row = rows[0]
        members = _rows(self.path / "persons.parquet", PERSON_COLUMNS,
                        pc.field("family_id") == pa.scalar(int(family_id), pa.int64()))
        return FamilyRecord(
            family_id=int(row["family_id"]), kk=row.get("kk"), region_code=row.get("region_code"),
            address=row.get("address"), rt=row.get("rt"), rw=row.get("rw"),
            values={k: row[k] for k in FAMILY_VALUES if k in row},
            members=tuple(sorted((_person(m) for m in members), key=lambda p: p.person_id)))

    def person_by_nik(self, nik: str) -> PersonRecord | None:
        rows = _rows(self.path / "persons.parquet", PERSON_COLUMNS, pc.field("nik") == pa.scalar(nik, pa.string()))
        return _person(rows[0]) if len(rows) == 1 else None

    def family_by_kk(self, kk: str) -> FamilyRecord | None:
        rows = _rows(self.path / "families.parquet", ("family_id",), pc.field("kk") == pa.scalar(kk, pa.string()))
        return self.family(int(rows[0]["family_id"])) if len(rows) == 1 else None

    def candidates(self, region_prefix: str) -> list[Candidate]:
        path = self.path / "verification_candidates.parquet"
        table = release_table(path, ["family_id", "region_code", "priority"])
        if region_prefix:
            codes = table.column("region_code")
            keep = pc.or_(pc.equal(codes, region_prefix), pc.starts_with(codes, region_prefix + "."))
            table = table.filter(keep)
        return [Candidate(int(r["family_id"]), str(r["region_code"]),
                          None if r["priority"] is None else int(r["priority"])) for r in table.to_pylist()]


def current_registry(release_dir: Path) -> ReleaseRegistry | None:
    """The registry of the release store's current release (read afresh each call, so that a
    newly published release is seen at once); None when nothing is published."""
    store = ReleaseStore(release_dir)
    current = store.current()
    return None if current is None else ReleaseRegistry(store.path(current))


class ServingRegistry:
    """The registry through the serving index (`dtsen.serve`): point lookups of the current
    release that never scan Parquet. Candidates are read from the release itself (they are not
    in the index)."""

    def __init__(self, releases: Any) -> None:  # dtsen.serve.releases.ServingReleases
        self.releases = releases
        with releases.acquire() as handle:
            self.release_id: str = handle.release_id
        self.path = releases.store.path(self.release_id)

    @staticmethod
    def _person(p: Any) -> PersonRecord:
        return PersonRecord(person_id=p.person_id, family_id=p.family_id, nik=p.nik, kk=p.kk, full_name=p.full_name,
                            sex=p.sex, birth_date=p.birth_date, relationship=p.relationship, region_code=p.region_code,
                            address=p.address, rt=p.rt, rw=p.rw, is_deceased=bool(p.is_deceased))

    def _family(self, record: Any) -> FamilyRecord | None:
        if record is None:
            return None
        f = record.family
        values = f.model_dump()
        return FamilyRecord(family_id=f.family_id, kk=f.kk, region_code=f.region_code, address=f.address, rt=f.rt,
                            rw=f.rw, values={k: values[k] for k in FAMILY_VALUES if k in values},
                            members=tuple(self._person(m) for m in record.members))

    def family(self, family_id: int) -> FamilyRecord | None:
        from dtsen.serve.lookups import family_by_id

        with self.releases.acquire() as h:
            return self._family(family_by_id(h, family_id))

    def person_by_nik(self, nik: str) -> PersonRecord | None:
        from dtsen.serve.lookups import persons_by_nik

        with self.releases.acquire() as h:
            found = persons_by_nik(h, nik)
        return self._person(found[0]) if len(found) == 1 else None

    def family_by_kk(self, kk: str) -> FamilyRecord | None:
        from dtsen.serve.lookups import family_by_kk

        with self.releases.acquire() as h:
            return self._family(family_by_kk(h, kk))

    def candidates(self, region_prefix: str) -> list[Candidate]:
        return ReleaseRegistry(self.path).candidates(region_prefix)
