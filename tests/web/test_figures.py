"""What the overview may show: small counts hidden, and no small count recoverable from the shown
ones (sums over regions, deciles summing to the ranked families, a share's complement)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dtsen.quality.suppress import Key, LinkedCounts, protect
from dtsen.web.views.figures import CHILD, DECILE_FAMILIES, QUANTITIES, SHARES, WIDTH, ReleaseFigures


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
    assert not any(f.hidden_of(node) for node in f.counts)


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


def random_release(seed: int) -> list[dict[str, Any]]:
    """A nation of one province, two regencies, two or three districts each, one to four villages
    each, with village counts drawn small and large (consistent: deciles sum to the ranked)."""
    rng = random.Random(seed)
    villages: dict[str, dict[str, int]] = {}
    for r in ("32.04", "32.73"):
        for d in range(1, rng.randint(2, 3) + 1):
            for v in range(1, rng.randint(1, 4) + 1):
                deciles = [rng.choice((0, 0, 1, 2, 3, 5, 8, 12, 15, 30)) for _ in range(10)]
                ranked = sum(deciles)
                poor = rng.randint(0, ranked)
                extreme = rng.randint(0, poor)
                persons = ranked * 3 + rng.randint(0, 5)
                poor_p = min(persons, poor * 3)
                villages[f"{r}.{d:02d}.{2000 + v}"] = {
                    "persons_living": persons, "families": ranked + rng.randint(0, 2), "family_persons": persons,
                    "families_ranked": ranked, "poor_families": poor, "extreme_families": extreme,
                    "poor_persons": poor_p, "extreme_persons": min(poor_p, extreme * 3),
                    "pkh_families": rng.randint(0, poor), "bpnt_families": rng.randint(0, ranked),
                    "pbi_jk_families": rng.randint(0, ranked), **dict(zip(DECILE_FAMILIES, deciles, strict=True))}
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for code, counts in villages.items():
        for level, width in WIDTH.items():
            node = (level, code[:width])
            into = totals.setdefault(node, dict.fromkeys(QUANTITIES, 0))
            for q in QUANTITIES:
                into[q] += counts.get(q, 0)
    return [row(level, region, **c) for (level, region), c in totals.items()]


def everything_a_reader_knows(f: ReleaseFigures) -> LinkedCounts:
    """Every count of every page with its true value, the ones the pages show, and all equations."""
    values: dict[Key, int] = {}
    shown: set[Key] = set()
    eqs: list[dict[Key, int]] = []
    for (level, region), counts in f.counts.items():
        for q, v in counts.items():
            values[(level, region, q)] = v
            if f.figure(level, region, q).value is not None:
                shown.add((level, region, q))
        for n, d in SHARES.items():
            values[(level, region, f"{d}-{n}")] = counts[d] - counts[n]
            eqs.append({(level, region, d): 1, (level, region, n): -1, (level, region, f"{d}-{n}"): -1})
        eqs.append({(level, region, "families_ranked"): 1, **{(level, region, q): -1 for q in DECILE_FAMILIES}})
        if level in CHILD:
            kids = f.child_regions(level, region)
            for q in QUANTITIES:
                eqs.append({(level, region, q): 1, **{(CHILD[level], k, q): -1 for k in kids}})
    return LinkedCounts(values, frozenset(shown), eqs)


@pytest.mark.parametrize("seed", range(8))
def test_no_small_count_follows_from_all_the_pages_together(seed: int) -> None:
    f = ReleaseFigures("R1", random_release(seed), 10)
    known = everything_a_reader_knows(f)
    assert any(0 < v < 10 for v in known.values.values())  # there is something to protect
    # the scorecards' exact check over the whole release: nothing more would need hiding
    assert protect(known, 10) == frozenset()
    assert len(known.shown) > len(known.values) // 3  # and much is still shown
