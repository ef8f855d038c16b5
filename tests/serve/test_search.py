"""Attribute search (the query layer behind DCI expressions and predicates)."""

from __future__ import annotations

import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import QueryInputError
from dtsen.serve.search import AllOf, AnyOf, Criterion, Not, search


def ids(page: object) -> list[int]:
    items = page.items  # type: ignore[attr-defined]
    return [getattr(x, "person_id", None) or x.family_id for x in items]


def test_age_is_counted_on_the_release_date(r1: ReleaseHandle) -> None:
    # as of 2025-06-30: RINA (2010-07-01) is 14; AHMAD (1980-05-17) is 45
    assert ids(search(r1, "person", Criterion("age", "lt", 15))) == [3]
    assert ids(search(r1, "person", Criterion("age", "eq", 14))) == [3]
    assert ids(search(r1, "person", Criterion("age", "eq", 45))) == [1]
    assert ids(search(r1, "person", Criterion("age", "ge", 75))) == [5, 6]
    assert ids(search(r1, "person", Criterion("age", "gt", 75))) == [6]


def test_family_attributes_and_location(r1: ReleaseHandle) -> None:
    poor_here = AllOf((Criterion("poverty_score", "le", 2), Criterion("location", "eq", "32")))
    assert ids(search(r1, "person", poor_here)) == [1, 2, 3]
    assert ids(search(r1, "family", Criterion("decile", "le", 2))) == [10, 13]
    assert ids(search(r1, "family", Criterion("group_size", "ge", 2))) == [10, 11]
    assert ids(search(r1, "family", Criterion("pkh", "eq", "true"))) == [10]


def test_gender_not_and_in(r1: ReleaseHandle) -> None:
    assert ids(search(r1, "person", Criterion("gender", "eq", "female"))) == [2, 3, 4, 6]
    assert ids(search(r1, "person", AllOf((Criterion("sex", "eq", "P"), Not(Criterion("location", "eq", "32.04.01")))))) == [4]
    assert ids(search(r1, "person", Criterion("location", "in", ["33", "32.04.01.2002"]))) == [6, 7]
    either = AnyOf((Criterion("age", "lt", 15), Criterion("is_deceased", "eq", True)))
    assert ids(search(r1, "person", either)) == [3, 6]


def test_scope_sort_and_pages(r1: ReleaseHandle) -> None:
    everyone = AllOf(())
    assert search(r1, "person", everyone, regions=["32.04.02"]).total == 2
    page = search(r1, "person", everyone, order_by=[("birth_date", True)], limit=2, offset=1)
    assert ids(page) == [2, 4] and page.total == 7  # youngest first: 3 (2010), then 2 and 4 (1982, by id), 1


def test_bad_queries_are_refused(r1: ReleaseHandle) -> None:
    with pytest.raises(QueryInputError, match="unknown attribute"):
        search(r1, "person", Criterion("password", "eq", "x"))
    with pytest.raises(QueryInputError, match="unknown operator"):
        search(r1, "person", Criterion("age", "like", 3))
    with pytest.raises(QueryInputError, match="not a number"):
        search(r1, "person", Criterion("age", "lt", "old"))
    with pytest.raises(QueryInputError, match="region"):
        search(r1, "person", Criterion("location", "eq", "central_region"))
    # a value is a parameter, never SQL
    assert search(r1, "person", Criterion("nik", "eq", "1' OR '1'='1")).total == 0
