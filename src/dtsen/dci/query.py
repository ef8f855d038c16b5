"""DCI queries onto the serving layer's query tree (`dtsen.serve.search`).

idtype-value  `{"type": T, "value": V}`: T is an identifier type. NIN, NIK and UIN are the NIK
              (a person); HOUSEHOLD_ID, KK and FAMILY_CARD the nomor KK (a family); DTSEN_PERSON_ID
              and DTSEN_FAMILY_ID the registry's own ids. Other types (MOBILE, EMAIL, ...) are not
              held by the registry and are refused.
expression    `{"type": "...:expression", "value": {"expression": {"collection": C, "query": Q}}}`
              with Q in the MongoDB style: `{"$and": [...]}`, `{"$or": [...]}`, `{"$not": {...}}`,
              `{attribute: {"$lt": 5}}` ($eq $ne $lt $lte $gt $gte $in), `{attribute: value}` (equal).
              C = Group or Household searches families, anything else persons.
predicate     a list of `{"seq_num", "expression1": {attribute_name, operator, attribute_value},
              "condition": and|or|not, "expression2": {...}}`: each item is expression1, or
              expression1 AND/OR expression2, or expression1 AND NOT expression2; the items, in
              seq_num order, must all hold.

Attributes are those of `dtsen.serve.search.ATTRIBUTES`: `age`, `gender`/`sex`, `poverty_score` (the
family's national decile, 1 = poorest tenth), `location`/`region`/`district` (a region code prefix),
`group_size`, `decile`, `poor`, `extreme_poor`, `birth_date` and more. An unknown attribute, operator
or value raises `QueryError` (the search is answered `rjct.search_criteria.invalid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dtsen.errors import DtsenError
from dtsen.serve.search import AllOf, AnyOf, Criterion, Entity, Not, Query

IdKind = Literal["nik", "kk", "person_id", "family_id"]
ID_TYPES: dict[str, IdKind] = {
    "NIN": "nik", "NIK": "nik", "UIN": "nik", "NATIONALID": "nik", "NATIONAL_ID": "nik",
    "HOUSEHOLD_ID": "kk", "KK": "kk", "FAMILY_CARD": "kk", "NO_KK": "kk",
    "DTSEN_PERSON_ID": "person_id", "DTSEN_FAMILY_ID": "family_id",
}  # fmt: skip
_OPS = {"$eq": "eq", "$ne": "ne", "$lt": "lt", "$lte": "le", "$le": "le", "$gt": "gt", "$gte": "ge", "$ge": "ge",
        "$in": "in"}
_PREDICATE_OPS = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "lte": "le", "gt": "gt", "ge": "ge", "gte": "ge",
                  "in": "in"}
GROUP_COLLECTIONS = frozenset({"group", "household", "family", "keluarga", "srgroup"})


class QueryError(DtsenError):
    """A DCI query cannot be turned into a search: it names something the registry does not hold."""


@dataclass(frozen=True)
class IdLookup:
    kind: IdKind
    value: str


def id_type(name: str) -> IdKind:
    key = str(name).split(":")[-1].strip().upper()
    kind = ID_TYPES.get(key)
    if kind is None:
        raise QueryError(f"identifier type {name!r} is not held by this registry; use one of {', '.join(ID_TYPES)}")
    return kind


def idtype_value(query: Any) -> IdLookup:
    if not isinstance(query, dict) or "type" not in query or "value" not in query:
        raise QueryError("an idtype-value query is {\"type\": ..., \"value\": ...}")
    value = query["value"]
    if isinstance(value, dict | list) or value is None:
        raise QueryError("the identifier value must be a string or a number")
    return IdLookup(id_type(str(query["type"])), str(value).strip())


def _mongo(q: Any) -> Query:
    if not isinstance(q, dict) or not q:
        raise QueryError("each expression is an object such as {\"poverty_score\": {\"$lt\": 5}}")
    parts: list[Query] = []
    for key, value in q.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} takes a non-empty list")
            items = tuple(_mongo(v) for v in value)
            parts.append(AllOf(items) if key == "$and" else AnyOf(items))
        elif key == "$not":
            parts.append(Not(_mongo(value)))
        elif key.startswith("$"):
            raise QueryError(f"unknown operator {key!r}")
        elif isinstance(value, dict):
            for op, operand in value.items():
                if op not in _OPS:
                    raise QueryError(f"unknown operator {op!r} for {key!r}; known: {', '.join(_OPS)}")
                parts.append(Criterion(key, _OPS[op], operand))
        else:
            parts.append(Criterion(key, "eq", value))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def expression(query: Any) -> tuple[Entity, Query]:
    """(entity, query) of an expression query."""
    value = query.get("value") if isinstance(query, dict) else None
    expr = value.get("expression") if isinstance(value, dict) else None
    if isinstance(expr, dict) and "query" not in expr and "collection" not in expr:
        expr = {"query": expr}
    if not isinstance(expr, dict) or "query" not in expr:
        raise QueryError("an expression query is {\"type\": ..., \"value\": {\"expression\": {\"collection\": ..., "
                         "\"query\": {...}}}}")
    collection = str(expr.get("collection") or "Member").split(":")[-1].lower()
    entity: Entity = "family" if collection in GROUP_COLLECTIONS else "person"
    return entity, _mongo(expr["query"])


def _predicate_expression(e: Any) -> Criterion:
    if not isinstance(e, dict) or not {"attribute_name", "operator", "attribute_value"} <= set(e):
        raise QueryError("a predicate expression has attribute_name, operator and attribute_value")
    op = _PREDICATE_OPS.get(str(e["operator"]).lower())
    if op is None:
        raise QueryError(f"unknown operator {e['operator']!r}; known: {', '.join(_PREDICATE_OPS)}")
    return Criterion(str(e["attribute_name"]), op, e["attribute_value"])


def predicate(query: Any) -> Query:
    if not isinstance(query, list) or not query:
        raise QueryError("a predicate query is a non-empty list of {seq_num, expression1, condition, expression2}")
    items: list[tuple[float, Query]] = []
    for i, item in enumerate(query):
        if not isinstance(item, dict) or "expression1" not in item:
            raise QueryError("each predicate needs expression1")
        first: Query = _predicate_expression(item["expression1"])
        condition = str(item.get("condition") or "").lower()
        if item.get("expression2") is not None:
            second = _predicate_expression(item["expression2"])
            if condition in ("", "and"):
                first = AllOf((first, second))
            elif condition == "or":
                first = AnyOf((first, second))
            elif condition == "not":
                first = AllOf((first, Not(second)))
            else:
                raise QueryError(f"unknown condition {condition!r}; use and, or, not")
        elif condition == "not":
            first = Not(first)
        seq = item.get("seq_num", i)
        items.append((float(seq) if isinstance(seq, int | float) else float(i), first))
    ordered = tuple(q for _, q in sorted(items, key=lambda x: x[0]))
    return ordered[0] if len(ordered) == 1 else AllOf(ordered)
