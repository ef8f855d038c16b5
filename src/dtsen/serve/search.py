"""Search persons or families by their attributes: the query layer behind DCI's `expression`
and `predicate` searches (and any list with conditions).

A query is a small tree: `Criterion(attribute, op, value)`, `AllOf`, `AnyOf`, `Not`. It is turned
into one parameterised SQL WHERE clause over the serving index: attribute names come from a
fixed table (`ATTRIBUTES`), operators from another, and every value is a bound parameter, so
nothing a caller sends becomes SQL text. Ages are turned into birth-date bounds on the release's
as-of date; regions into code ranges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import QueryInputError, check_page
from dtsen.serve.models import Family, Page, Person
from dtsen.serve.regions import RegionPrefixError, prefix_range

Entity = Literal["person", "family"]
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
OPS: dict[str, str] = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass(frozen=True)
class Criterion:
    attribute: str
    op: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    item: Query


Query = Criterion | AllOf | AnyOf | Not


@dataclass(frozen=True)
class Attribute:
    column: str  # SQL column of the joined tables: p (persons), f (families)
    kind: Literal["int", "float", "text", "bool", "date", "age", "region", "sex"]
    description: str


_FAMILY_SIDE: dict[str, Attribute] = {
    "decile": Attribute("f.decile", "int", "national welfare decile of the family (1 = poorest tenth)"),
    "poverty_score": Attribute("f.decile", "int", "DCI poverty score: the family's national decile (1 = poorest)"),
    "poor": Attribute("f.poor", "bool", "below the poverty line"),
    "extreme_poor": Attribute("f.extreme_poor", "bool", "below the extreme-poverty line"),
    "group_size": Attribute("f.size", "int", "living members of the family"),
    "predicted_consumption": Attribute("f.predicted_consumption", "float", "PMT consumption per person (Rp/month)"),
    "pkh": Attribute("f.pkh", "bool", "receives PKH"),
    "bpnt": Attribute("f.bpnt", "bool", "receives BPNT / sembako"),
    "pbi_jk": Attribute("f.pbi_jk", "bool", "receives PBI-JK"),
    "head_sex": Attribute("f.head_sex", "sex", "sex of the head of the family"),
    "head_age": Attribute("f.head_age", "float", "age of the head of the family"),
    "children": Attribute("f.children", "int", "children in the family"),
    "elderly": Attribute("f.elderly", "int", "elderly members"),
    "disabled": Attribute("f.disabled", "int", "members with a disability"),
    "urban": Attribute("f.urban", "bool", "lives in an urban village"),
    "kk": Attribute("f.kk", "text", "KK number"),
    "family_id": Attribute("f.family_id", "int", "family id"),
}
ATTRIBUTES: dict[Entity, dict[str, Attribute]] = {
    "person": {
        "age": Attribute("p.birth_date", "age", "age in completed years on the release's as-of date"),
        "gender": Attribute("p.sex", "sex", "sex: L (male) or P (female)"),
        "sex": Attribute("p.sex", "sex", "sex: L (male) or P (female)"),
        "birth_date": Attribute("p.birth_date", "date", "birth date (YYYY-MM-DD)"),
        "location": Attribute("p.region_code", "region", "region code prefix where the person lives"),
        "region": Attribute("p.region_code", "region", "region code prefix where the person lives"),
        "district": Attribute("p.region_code", "region", "district code (PP.KK.CC)"),
        "nik": Attribute("p.nik", "text", "NIK"),
        "person_id": Attribute("p.person_id", "int", "person id"),
        "is_deceased": Attribute("p.is_deceased", "bool", "reported deceased"),
        "relationship": Attribute("p.relationship", "text", "relationship to the head, as on the KK"),
        **_FAMILY_SIDE,
    },
    "family": {
        "location": Attribute("f.region_code", "region", "region code prefix where the family lives"),
        "region": Attribute("f.region_code", "region", "region code prefix where the family lives"),
        "district": Attribute("f.region_code", "region", "district code (PP.KK.CC)"),
        **_FAMILY_SIDE,
    },
}
_SEX = {"l": "L", "m": "L", "male": "L", "laki-laki": "L", "laki laki": "L", "1": "L",
        "p": "P", "f": "P", "female": "P", "perempuan": "P", "2": "P"}


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


class _Compiler:
    def __init__(self, entity: Entity, as_of: dt.date) -> None:
        self.attributes = ATTRIBUTES[entity]
        self.as_of = as_of
        self.params: list[Any] = []

    def __call__(self, q: Query) -> str:
        if isinstance(q, AllOf):
            return "(" + " AND ".join(self(i) for i in q.items) + ")" if q.items else "1"
        if isinstance(q, AnyOf):
            return "(" + " OR ".join(self(i) for i in q.items) + ")" if q.items else "0"
        if isinstance(q, Not):
            return f"(NOT {self(q.item)})"
        return self.criterion(q)

    def criterion(self, c: Criterion) -> str:
        attr = self.attributes.get(c.attribute)
        if attr is None:
            raise QueryInputError(f"unknown attribute {c.attribute!r}; known: {', '.join(sorted(self.attributes))}")
        if c.op != "in" and c.op not in OPS:
            raise QueryInputError(f"unknown operator {c.op!r}; known: {', '.join([*OPS, 'in'])}")
        if c.op == "in":
            values = c.value if isinstance(c.value, list | tuple) else [c.value]
            if not values:
                return "0"
            return "(" + " OR ".join(self.criterion(Criterion(c.attribute, "eq", v)) for v in values) + ")"
        if attr.kind == "region":
            if c.op not in ("eq", "ne"):
                raise QueryInputError(f"{c.attribute} takes eq, ne or in (a region code prefix), not {c.op}")
            try:
                lo, hi = prefix_range(str(c.value))
            except RegionPrefixError as exc:
                raise QueryInputError(str(exc)) from None
            self.params += [lo, hi]
            inside = f"({attr.column} >= ? AND {attr.column} < ?)"
            return inside if c.op == "eq" else f"(NOT coalesce({inside}, 0))"
        if attr.kind == "age":
            return self.age(attr.column, c.op, c.value)
        self.params.append(self.value(attr, c))
        return f"({attr.column} {OPS[c.op]} ?)"

    def value(self, attr: Attribute, c: Criterion) -> Any:
        v = c.value
        try:
            if attr.kind == "int":  # a fractional bound ("2.5") compares as it is
                number = float(v) if not isinstance(v, bool) else float("nan")
                if number != number:
                    raise ValueError(v)
                return int(number) if number.is_integer() else number
            if attr.kind == "float":
                return float(v)
            if attr.kind == "bool":
                if isinstance(v, bool):
                    return int(v)
                text = str(v).strip().lower()
                if text not in ("true", "false", "1", "0", "ya", "tidak"):
                    raise ValueError(text)
                return int(text in ("true", "1", "ya"))
            if attr.kind == "date":
                return dt.date.fromisoformat(str(v)[:10]).isoformat()
            if attr.kind == "sex":
                return _SEX[str(v).strip().lower()]
        except (ValueError, KeyError, TypeError):
            raise QueryInputError(f"{c.attribute}: {v!r} is not a valid {attr.kind} value") from None
        return str(v)

    def age(self, column: str, op: str, value: Any) -> str:
        try:
            n = int(float(str(value)))
        except ValueError:
            raise QueryInputError(f"age: {value!r} is not a number of years") from None

        def at_least(years: int) -> str:  # age >= years
            self.params.append(_years_before(self.as_of, years).isoformat())
            return f"({column} <= ?)"

        def below(years: int) -> str:  # age < years
            self.params.append(_years_before(self.as_of, years).isoformat())
            return f"({column} > ?)"

        if op == "ge":
            return at_least(n)
        if op == "gt":
            return at_least(n + 1)
        if op == "lt":
            return below(n)
        if op == "le":
            return below(n + 1)
        first = at_least(n)
        second = below(n + 1)
        both = f"({first} AND {second})"
        return both if op == "eq" else f"(NOT coalesce({both}, 0))"


def _as_of(h: ReleaseHandle) -> dt.date:
    text = h.meta.get("as_of")
    return dt.date.fromisoformat(text) if text else dt.date.today()


def search(
    h: ReleaseHandle,
    entity: Entity,
    query: Query,
    *,
    regions: list[str] | None = None,
    order_by: list[tuple[str, bool]] | None = None,
    offset: int = 0,
    limit: int = 100,
    max_limit: int = 1000,
) -> Page[Person] | Page[Family]:
    """Persons (or families) matching `query`, within `regions` (code prefixes; none: all), a
    page at a time. `order_by`: (attribute, descending) pairs; the id breaks ties."""
    check_page(offset, limit, max_limit)
    compiler = _Compiler(entity, _as_of(h))
    where = compiler(query)
    if regions:
        where = f"({where}) AND " + compiler(AnyOf(tuple(Criterion("region", "eq", r) for r in regions)))
    key = "p.person_id" if entity == "person" else "f.family_id"
    order = []
    for name, desc in order_by or []:
        attr = compiler.attributes.get(name)
        if attr is None or attr.kind == "region":
            raise QueryInputError(f"cannot sort by {name!r}")
        order.append(f"{attr.column} {'DESC' if desc else 'ASC'}")
    order.append(key)
    if entity == "person":
        base = "FROM persons p LEFT JOIN families f ON f.family_id = p.family_id"
        select = "SELECT p.*"
    else:
        base = "FROM families f"
        select = "SELECT f.*"
    params = compiler.params
    total = int(h.scalar(f"SELECT count(*) {base} WHERE {where}", params))
    rows = h.rows(f"{select} {base} WHERE {where} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                  [*params, limit, offset])
    if entity == "person":
        return Page[Person](release_id=h.release_id, items=[Person.model_validate(r) for r in rows], total=total,
                            offset=offset, limit=limit)
    return Page[Family](release_id=h.release_id, items=[Family.model_validate(r) for r in rows], total=total,
                        offset=offset, limit=limit)


def check_query(entity: Entity, query: Query) -> None:
    """Raise `QueryInputError` when `query` names an unknown attribute, operator or a bad value."""
    _Compiler(entity, dt.date.today())(query)


def matching_ids(h: ReleaseHandle, entity: Entity, query: Query, ids: list[int]) -> set[int]:
    """Which of `ids` (person or family ids) match `query` in the handle's release."""
    if not ids:
        return set()
    import json

    compiler = _Compiler(entity, _as_of(h))
    where = compiler(query)
    key = "p.person_id" if entity == "person" else "f.family_id"
    base = ("FROM persons p LEFT JOIN families f ON f.family_id = p.family_id" if entity == "person"
            else "FROM families f")
    sql = f"SELECT {key} {base} WHERE {key} IN (SELECT value FROM json_each(?)) AND ({where})"
    return {int(r[key.split(".")[1]]) for r in h.rows(sql, [json.dumps(ids), *compiler.params])}
