"""What the overview may show: small counts hidden, and no small count recoverable from the shown
ones (sums over regions, deciles summing to the ranked families, a share's complement)."""

from __future__ import annotations

from typing import Any

from dtsen.web.views.figures import DECILE_FAMILIES, QUANTITIES, ReleaseFigures


def row(level: str, region: str, **counts: int) -> dict[str, Any]:
    return {"level": level, "region": region, **dict.fromkeys(QUANTITIES, 0), **counts}


def regency(d1: dict[str, int], d2: dict[str, int], *, no_region: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """A nation of one province of one regency of two districts (no villages)."""
    total = {k: d1.get(k, 0) + d2.get(k, 0) for k in set(d1) | set(d2)}
    national = {k: v + (no_region or {}).get(k, 0) for k, v in total.items()}
    return [row("national", "", **national), row("province", "32", **total), row("regency", "32.04", **total),
            row("district", "32.04.01", **d1), row("district", "32.04.02", **d2)]


def test_a_small_district_is_not_recoverable_from_the_regency_total() -> None:
    f = ReleaseFigures("R1", regency({"extreme_persons": 3, "family_persons": 50},
                                     {"extreme_persons": 40, "family_persons": 400}), 10)
    assert f.figure("district", "32.04.01", "extreme_persons").shown == "<10"
    other = f.figure("district", "32.04.02", "extreme_persons")
    total = f.figure("regency", "32.04", "extreme_persons")
    assert other.value is None or total.value is None  # 43 - 40 would give the 3 back
    assert (other.shown, total.shown) == ("–", "43")  # the smaller one goes
    assert f.figure("district", "32.04.02", "family_persons").shown == "400"  # nothing else is touched


def test_large_counts_stay_shown() -> None:
    f = ReleaseFigures("R1", regency({"persons_living": 120, "families": 30}, {"persons_living": 80, "families": 20}),
                       10)
    assert [f.figure("district", d, "persons_living").shown for d in ("32.04.01", "32.04.02")] == ["120", "80"]
    assert f.figure("regency", "32.04", "persons_living").shown == "200"
    assert f.figure("regency", "32.04", "families").value == 50
    assert not f.hidden


def test_one_small_decile_hides_a_second_one() -> None:
    deciles = dict(zip(DECILE_FAMILIES, (5, 20, 20, 20, 20, 20, 20, 20, 20, 30), strict=True))
    ranked = sum(deciles.values())
    f = ReleaseFigures("R1", [row("national", "", families_ranked=ranked, **deciles)], 10)
    shown = [f.figure("national", "", d).shown for d in DECILE_FAMILIES]
    assert shown[0] == "<10"
    assert shown.count("–") == 1  # one more decile hidden, so that the total minus the others is not 5
    assert f.figure("national", "", "families_ranked").shown == "195"


def test_a_share_with_a_small_complement_is_hidden() -> None:
    f = ReleaseFigures("R1", [row("national", "", poor_persons=45, family_persons=50, extreme_persons=12)], 10)
    assert f.share("national", "", "poor_persons") == "–"  # 50 - 45 = 5 others
    assert f.share("national", "", "extreme_persons") == "24,0%"


def test_records_without_a_region_do_not_hide_the_regions_below() -> None:
    f = ReleaseFigures("R1", regency({"persons_living": 150}, {"persons_living": 147},
                                     no_region={"persons_living": 3}), 10)
    assert f.figure("national", "", "persons_living").shown == "300"
    assert f.figure("province", "32", "persons_living").shown == "297"
    assert f.figure("regency", "32.04", "persons_living").shown == "297"


def test_children_are_listed_under_their_parent() -> None:
    f = ReleaseFigures("R1", regency({"families": 12}, {"families": 30}), 10)
    assert f.child_regions("regency", "32.04") == ["32.04.01", "32.04.02"]
    assert f.child_regions("national", "") == ["32"]
    assert f.child_regions("district", "32.04.01") == []
