"""What a verified case changes in the registry, and how a visit's answers become those changes.

A change is one family or one person and the canonical fields the case settles for it
(`dtsen.schema`), with what the next build needs to attach it: the family's KK, or the person's
identity (NIK, name, sex, birth date, as the release holds them when the visit is recorded).
Changes are kept as data in the case, signed in an approval batch as canonical JSON, and written
by the export as rows of the field-check sources (`dtsen.workflow.export`).

The visit answers (`VisitAnswers`, from the web form or an ODK/Kobo submission) become changes
in `changes_from_visit`:

family not found     the family's `family_status` becomes TIDAK_DITEMUKAN (retired)
moved, destination unknown   `family_status` PINDAH
moved to a known place       the family's and every living member's region code and address
members deceased     each named member `is_deceased` (with the date when known)
corrected values     the family's dwelling, utilities, assets and programmes; a member's fields
new members / family a person (or a family with its KK) not yet in the registry
found                `family_status` AKTIF (so that an earlier TIDAK_DITEMUKAN is undone)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dtsen import schema
from dtsen.errors import ProblemLog
from dtsen.workflow.errors import InvalidCaseInput
from dtsen.workflow.registry import FamilyRecord

REGION = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
IDENTIFIER = r"^\d{16}$"
Value = str | int | float | bool | None

# The fields a case may change, per level (the canonical names of dtsen.schema).
FAMILY_CHANGE_FIELDS: tuple[str, ...] = (
    "region_code", "address", "rt", "rw", "household_size", "floor_area", "floor_type", "wall_type", "roof_type",
    "ownership", "water_source", "sanitation", "lighting", "electricity_va", "electricity_kwh", "cooking_fuel",
    "has_motorbike", "has_car", "has_fridge", "has_ac", "has_land", "livestock", "has_gold", "pkh", "bpnt", "pbi_jk",
    "family_status",
)
PERSON_CHANGE_FIELDS: tuple[str, ...] = (
    "relationship", "marital_status", "education", "occupation", "disability", "region_code", "address", "rt", "rw",
    "is_deceased", "death_date", "birth_place",
)
IDENTITY_FIELDS: tuple[str, ...] = ("nik", "kk", "full_name", "sex", "birth_date")


def _check_value(level: schema.Level, name: str, value: Any, where: str, log: ProblemLog) -> Value:
    """The value in its canonical type (dates as YYYY-MM-DD), or a problem."""
    spec = schema.FIELDS[level].get(name)
    if spec is None:
        log.add(f"unknown {level} field {name!r}", where=where)
        return None
    if value is None:
        return None
    kind = spec.dtype
    ok = True
    out: Value = None
    if kind == "bool":
        ok, out = isinstance(value, bool), value
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000_000
        out = value if ok else None
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= float(value) <= 1e12
        out = float(value) if ok else None
    elif kind == "date":
        try:
            out = dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            ok = False
    else:
        ok = isinstance(value, str) and 0 < len(value.strip()) <= 200
        out = value.strip().upper() if ok and spec.vocabulary else (value.strip() if ok else None)
        if ok and spec.vocabulary and out not in spec.vocabulary:
            log.add(f"{name} must be one of {', '.join(spec.vocabulary)}", where=where)
            return None
        if ok and name == "region_code" and not re.match(REGION, str(out)):
            log.add("region_code must be a village code PP.KK.CC.DDDD", where=where)
            return None
    if not ok:
        log.add(f"{name} must be a {kind}", where=where)
        return None
    return out


def check_fields(level: schema.Level, fields: Mapping[str, Any], allowed: Sequence[str], where: str,
                 log: ProblemLog) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, value in fields.items():
        if name not in allowed:
            log.add(f"{level} field {name!r} cannot be changed by a case", where=f"{where}.{name}",
                    hint=f"fields: {', '.join(allowed)}")
            continue
        checked = _check_value(level, name, value, f"{where}.{name}", log)
        if checked is not None:
            out[name] = checked
    return out


class Identity(BaseModel):
    """How the next build finds a person: as the release holds them (or as proposed, when new)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nik: str | None = None
    kk: str | None = None
    full_name: str | None = None
    sex: str | None = None
    birth_date: str | None = None


class Change(BaseModel):
    """One family or person and the fields a case settles for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: Literal["family", "person"]
    family_id: int | None = None  # None: a family not yet in the registry
    person_id: int | None = None  # person changes: None for a person not yet in the registry
    kk: str | None = None  # the family's KK (how the build attaches a family row)
    region_code: str | None = None  # where the family (or person) lives once changed
    identity: Identity | None = None  # person changes
    fields: dict[str, Value] = Field(default_factory=dict)

    @property
    def is_new(self) -> bool:
        return (self.family_id if self.entity == "family" else self.person_id) is None


# -- the visit's answers ------------------------------------------------------------------------

class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberDeath(_Answer):
    person_id: int = Field(ge=1)
    death_date: dt.date | None = None


class MemberUpdate(_Answer):
    person_id: int = Field(ge=1)
    fields: dict[str, Any] = Field(default_factory=dict, max_length=len(PERSON_CHANGE_FIELDS))


class NewPerson(_Answer):
    nik: str = Field(pattern=IDENTIFIER)
    full_name: str = Field(min_length=1, max_length=200)
    sex: Literal["L", "P"]
    birth_date: dt.date
    relationship: str = Field(min_length=1, max_length=40)
    fields: dict[str, Any] = Field(default_factory=dict, max_length=len(PERSON_CHANGE_FIELDS))


class NewFamily(_Answer):
    kk: str = Field(pattern=IDENTIFIER)
    region_code: str = Field(pattern=REGION)
    address: str | None = Field(None, max_length=300)
    rt: str | None = Field(None, max_length=3, pattern=r"^\d{1,3}$")
    rw: str | None = Field(None, max_length=3, pattern=r"^\d{1,3}$")


class Moved(_Answer):
    """Where the family went; no region code: the destination is unknown (or outside the registry)."""

    region_code: str | None = Field(None, pattern=REGION)
    address: str | None = Field(None, max_length=300)
    rt: str | None = Field(None, max_length=3, pattern=r"^\d{1,3}$")
    rw: str | None = Field(None, max_length=3, pattern=r"^\d{1,3}$")


class VisitAnswers(_Answer):
    """What the officer found (the web form, or an ODK/Kobo submission read by `dtsen workflow
    import-visits`)."""

    visited_on: dt.date
    found: bool = True
    moved: Moved | None = None
    deceased: list[MemberDeath] = Field(default_factory=list, max_length=50)
    family_fields: dict[str, Any] = Field(default_factory=dict, max_length=len(FAMILY_CHANGE_FIELDS))
    member_updates: list[MemberUpdate] = Field(default_factory=list, max_length=50)
    new_family: NewFamily | None = None
    new_persons: list[NewPerson] = Field(default_factory=list, max_length=30)
    unresolved: list[str] = Field(default_factory=list, max_length=50,
                                  description="What the visit could not settle (e.g. a death whose member "
                                              "could not be matched); verification waits until it is empty.")
    notes: str = Field("", max_length=2000)
    form: Literal["web", "odk"] = "web"
    officer: str | None = Field(None, max_length=64, description="The field officer's id on the form (ODK).")

    @field_validator("visited_on")
    @classmethod
    def _not_future(cls, v: dt.date) -> dt.date:
        if v > dt.date.today() + dt.timedelta(days=1):
            raise ValueError("the visit date is in the future")
        return v


def _identity(p: Any) -> Identity:
    birth = p.birth_date.isoformat() if p.birth_date is not None else None
    return Identity(nik=p.nik, kk=p.kk, full_name=p.full_name, sex=p.sex, birth_date=birth)


def changes_from_visit(answers: VisitAnswers, family: FamilyRecord | None) -> list[Change]:
    """The changes a visit settles, for the release family it was about (None: a new family).
    InvalidCaseInput lists every answer that does not fit (a member of another family, a value
    outside its vocabulary, a new family without its KK, ...)."""
    log = ProblemLog()
    out: list[Change] = []
    kk: str | None
    region: str | None
    if family is None:
        if answers.new_family is None:
            log.add("a case about a family not in the registry needs new_family (its KK and village)",
                    where="new_family")
            log.raise_if_any(InvalidCaseInput, "the visit's answers cannot be used")
        nf = answers.new_family
        assert nf is not None
        fields = check_fields("family", answers.family_fields, FAMILY_CHANGE_FIELDS, "family_fields", log)
        fields.update({k: v for k, v in (("address", nf.address), ("rt", nf.rt), ("rw", nf.rw)) if v})
        fields["family_status"] = "AKTIF"
        out.append(Change(entity="family", kk=nf.kk, region_code=nf.region_code, fields=fields))
        kk, region = nf.kk, nf.region_code
        if not answers.new_persons:
            log.add("a new family needs its members (new_persons), the head at least", where="new_persons")
        if answers.deceased or answers.member_updates or answers.moved or not answers.found:
            log.add("a family not in the registry has no members to update, and is found where it is proposed",
                    where="deceased")
    else:
        kk, region = family.kk, family.region_code
        if not answers.found:
            if answers.moved or answers.deceased or answers.member_updates or answers.family_fields or answers.new_persons:
                log.add("a family that was not found has no other answers", where="found")
            out.append(Change(entity="family", family_id=family.family_id, kk=kk, region_code=region,
                              fields={"family_status": "TIDAK_DITEMUKAN"}))
            log.raise_if_any(InvalidCaseInput, "the visit's answers cannot be used")
            return out
        fields = check_fields("family", answers.family_fields, FAMILY_CHANGE_FIELDS, "family_fields", log)
        for name in ("region_code", "family_status"):
            if name in answers.family_fields:
                log.add(f"{name} follows from `found` and `moved`, not from family_fields", where=f"family_fields.{name}")
                fields.pop(name, None)
        moved_fields: dict[str, Value] = {}
        if answers.moved is not None and answers.moved.region_code is None:
            if answers.family_fields or answers.member_updates or answers.new_persons or answers.moved.address:
                log.add("a family that moved away to an unknown place has no other answers (give the new "
                        "village to move it)", where="moved")
            fields = {"family_status": "PINDAH"}
        else:
            fields["family_status"] = "AKTIF"
            if answers.moved is not None:
                mv = answers.moved
                region = mv.region_code
                moved_fields = {"region_code": mv.region_code, "address": mv.address, "rt": mv.rt, "rw": mv.rw}
                moved_fields = {k: v for k, v in moved_fields.items() if v is not None}
                fields.update(moved_fields)
        out.append(Change(entity="family", family_id=family.family_id, kk=kk, region_code=region, fields=fields))
        touched: dict[int, dict[str, Value]] = {}
        for i, d in enumerate(answers.deceased):
            m = family.member(d.person_id)
            if m is None:
                log.add(f"person {d.person_id} is not a member of family {family.family_id}", where=f"deceased[{i}]")
                continue
            touched.setdefault(m.person_id, {}).update(
                {"is_deceased": True, **({"death_date": d.death_date.isoformat()} if d.death_date else {})})
        for i, u in enumerate(answers.member_updates):
            m = family.member(u.person_id)
            if m is None:
                log.add(f"person {u.person_id} is not a member of family {family.family_id}",
                        where=f"member_updates[{i}]")
                continue
            touched.setdefault(m.person_id, {}).update(
                check_fields("person", u.fields, PERSON_CHANGE_FIELDS, f"member_updates[{i}].fields", log))
        if moved_fields:
            for m in family.members:
                if not m.is_deceased and not touched.get(m.person_id, {}).get("is_deceased"):
                    touched.setdefault(m.person_id, {}).update(moved_fields)
        for person_id in sorted(touched):
            m = family.member(person_id)
            assert m is not None
            out.append(Change(entity="person", family_id=family.family_id, person_id=person_id, kk=m.kk or kk,
                              region_code=str(touched[person_id].get("region_code") or m.region_code or "") or None,
                              identity=_identity(m), fields=touched[person_id]))
    for i, p in enumerate(answers.new_persons):
        fields = check_fields("person", p.fields, PERSON_CHANGE_FIELDS, f"new_persons[{i}].fields", log)
        rel = _check_value("person", "relationship", p.relationship, f"new_persons[{i}].relationship", log)
        if rel is not None:
            fields["relationship"] = rel
        fields["is_deceased"] = False
        out.append(Change(entity="person", family_id=None if family is None else family.family_id, kk=kk,
                          region_code=region, fields=fields,
                          identity=Identity(nik=p.nik, kk=kk, full_name=p.full_name.strip().upper(), sex=p.sex,
                                            birth_date=p.birth_date.isoformat())))
    if answers.unresolved:
        log.add(f"{len(answers.unresolved)} answer(s) are not settled yet: {'; '.join(answers.unresolved)}",
                where="unresolved")
    log.raise_if_any(InvalidCaseInput, "the visit's answers cannot be used")
    return out


# -- canonical form -----------------------------------------------------------------------------

def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII only (the same bytes for the same content)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def dump_changes(changes: Sequence[Change]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


def load_changes(data: Sequence[Mapping[str, Any]] | None) -> list[Change]:
    return [Change.model_validate(d) for d in data or ()]
