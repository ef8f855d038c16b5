"""What the workflow needs to know of the registry: a family with its members, a person by NIK,
the ground-check candidates of a region. `Registry` is the interface; `ReleaseRegistry` answers
from a published release's Parquet tables.

`ReleaseRegistry` reads with filters (only the row groups and rows that match), which is fine for
the workflow's few lookups per request; the serving index (`dtsen.serve`, point lookups that
never scan Parquet) is the faster answer and can stand behind the same interface.

A sealed release (`vault.release`) holds tokens in place of NIK, KK, names and addresses: given
the project's keyring, `ReleaseRegistry` finds a NIK or KK by its token and decrypts the found
rows' values from the release's vault (the few records a request is about, by id), so that the
workflow sees the same records as on a plain release. Without a keyring it refuses to answer
(`SealedReleaseError`) rather than give records with their names missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from dtsen.errors import DtsenError
from dtsen.release.store import ReleaseStore

if TYPE_CHECKING:
    from dtsen.config import Settings
    from dtsen.vault.keyring import Keyring

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


class SealedReleaseError(DtsenError):
    """A sealed release was asked for records without the keys to open its vault."""


def _manifest(release_dir: Path) -> dict[str, Any]:
    import json

    path = release_dir / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


class ReleaseRegistry:
    """The registry of one published release directory (`releases/R0003`); `keyring` opens the
    vault of a sealed release (see the module docstring)."""

    def __init__(self, release_dir: Path, keyring: Keyring | None = None) -> None:
        self.path = Path(release_dir)
        manifest = _manifest(self.path)
        self.release_id = str(manifest.get("release_id") or self.path.name)
        self.sealed = bool(manifest.get("vault"))
        self.keyring = keyring

    def _keyring(self) -> Keyring:
        if self.keyring is None:
            raise SealedReleaseError(
                f"rilis {self.release_id} tersegel (vault.release) / release {self.release_id} is sealed: its names "
                "and numbers are in its vault; open the registry with the project's keys (Keyring.from_settings)")
        return self.keyring

    def _where(self, column: str, kind: str, value: str) -> Any:
        """The filter for `column == value`: on its token in a sealed release."""
        if not self.sealed:
            return pc.field(column) == pa.scalar(value, pa.string())
        from dtsen.release.sealing import TOKEN_SUFFIX
        from dtsen.vault.tokens import tokens

        token = tokens(self._keyring().token_keys(), kind, pa.array([value], pa.string()))[0].as_py()
        if token is None:  # nothing left of it after normalising: no token, no match
            return pc.scalar(False)
        return pc.field(f"{column}{TOKEN_SUFFIX}") == pa.scalar(token, pa.string())

    def _unseal(self, name: str, id_column: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`rows` of table `name` with their identifying values decrypted from the vault."""
        if not self.sealed or not rows:
            return rows
        from dtsen.release.sealing import IDENTIFYING, VAULT_DIR
        from dtsen.vault.vault import ReleaseVault

        path = self.path / VAULT_DIR / f"{name}.parquet"
        with ReleaseVault.open(self._keyring(), self.release_id) as vault:
            fields = [f for f in vault.metadata(path)["fields"] if f in IDENTIFYING]
            values = vault.lookup(path, [r[id_column] for r in rows], fields)
        out = []
        for row in rows:
            row = {**row, **values.get(row[id_column], {})}
            if isinstance(row.get("birth_date"), str):
                row["birth_date"] = dt.date.fromisoformat(row["birth_date"])
            out.append(row)
        return out

    def family(self, family_id: int) -> FamilyRecord | None:
        rows = _rows(self.path / "families.parquet", (*FAMILY_COLUMNS, *FAMILY_VALUES),
                     pc.field("family_id") == pa.scalar(int(family_id), pa.int64()))
        if not rows:
            return None
        row = self._unseal("families", "family_id", rows[:1])[0]
        members = self._unseal("persons", "person_id", _rows(
            self.path / "persons.parquet", PERSON_COLUMNS, pc.field("family_id") == pa.scalar(int(family_id), pa.int64())))
        return FamilyRecord(
            family_id=int(row["family_id"]), kk=row.get("kk"), region_code=row.get("region_code"),
            address=row.get("address"), rt=row.get("rt"), rw=row.get("rw"),
            values={k: row[k] for k in FAMILY_VALUES if k in row},
            members=tuple(sorted((_person(m) for m in members), key=lambda p: p.person_id)))

    def person_by_nik(self, nik: str) -> PersonRecord | None:
        rows = _rows(self.path / "persons.parquet", PERSON_COLUMNS, self._where("nik", "nik", nik))
        return _person(self._unseal("persons", "person_id", rows)[0]) if len(rows) == 1 else None

    def family_by_kk(self, kk: str) -> FamilyRecord | None:
        rows = _rows(self.path / "families.parquet", ("family_id",), self._where("kk", "kk", kk))
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


def current_registry(release_dir: Path, settings: Settings | None = None) -> ReleaseRegistry | None:
    """The registry of the release store's current release (read afresh each call, so that a
    newly published release is seen at once); None when nothing is published. A sealed release
    opens its vault with the keys of `settings`' project."""
    store = ReleaseStore(release_dir)
    current = store.current()
    if current is None:
        return None
    reg = ReleaseRegistry(store.path(current))
    if reg.sealed and settings is not None:
        from dtsen.vault.keyring import Keyring

        reg.keyring = Keyring.from_settings(settings)
    return reg


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
