"""Region summaries with small counts suppressed as on the scorecards."""

from __future__ import annotations

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.summaries import region_summary


def test_summary_with_a_low_threshold_shows_the_counts(r1: ReleaseHandle) -> None:
    s = region_summary(r1, "32.04", threshold=2)
    assert (s.region, s.level, s.release_id) == ("32.04", "regency", "R0001")
    assert s.counts["persons"].value == 6 and s.counts["persons"].shown == "6"
    assert s.counts["families"].value == 3
    # one deceased person of six: 1 is under the threshold 2 -> hidden
    assert s.counts["persons_deceased"].value is None and s.counts["persons_deceased"].shown == "<2"
    # five living of six: the complement (1) is small, so the count beside its total is hidden
    assert s.counts["persons_living"].value is None and s.counts["persons_living"].shown == "\u2013"
    deciles = {d.decile: d for d in s.deciles}
    assert deciles[2].persons.value == 3 and deciles[6].persons.value == 2
    assert deciles[2].families.shown == "<2" and deciles[5].families.shown == "0"
    assert "persons_deceased" in s.suppressed and "persons" not in s.suppressed
    nik = next(q for q in s.quality if q.indicator == "nik_valid")
    assert nik.value == 1.0 and nik.shown == "100,0%"


def test_summary_with_the_default_threshold_hides_small_counts(r1: ReleaseHandle) -> None:
    s = region_summary(r1, "32.04")
    assert s.threshold == 10
    assert s.counts["persons"].value is None and s.counts["persons"].shown == "<10"
    assert s.counts["poor_families"].value is None
    assert all(d.families.value in (0, None) for d in s.deciles)
    nik = next(q for q in s.quality if q.indicator == "nik_valid")
    assert nik.value is None and nik.shown == "\u2013"  # 6 of 6: the denominator is small


def test_national_quality_and_means(r1: ReleaseHandle) -> None:
    s = region_summary(r1, "")
    assert s.level == "national"
    q = {x.indicator: x for x in s.quality}
    assert q["nik_valid"].numerator.value == 50 and q["nik_valid"].denominator.value == 60
    assert q["nik_valid"].shown == "83,3%"
    assert q["staleness_mean_days"].value == 100.0 and q["staleness_mean_days"].shown == "100,0"


def test_region_without_anyone(r1: ReleaseHandle) -> None:
    s = region_summary(r1, "35.01")
    assert s.counts["persons"].value == 0 and s.counts["persons"].shown == "0" and s.quality == []


def test_one_small_decile_cannot_be_recovered_from_the_others() -> None:
    from dtsen.serve.aggregates import COUNTS
    from dtsen.serve.summaries import _hide_cells

    row = dict.fromkeys(COUNTS, 0)
    row.update(families=40, families_ranked=40, decile_1_families=3, decile_2_families=12, decile_3_families=25)
    counts = _hide_cells(row, threshold=10)
    # 40 - 12 - 25 = 3: with decile 1 alone hidden it would be read off; decile 2 (the smallest) goes too
    assert counts["decile_1_families"].value is None and counts["decile_2_families"].value is None
    assert counts["decile_3_families"].value == 25 and counts["families_ranked"].value == 40
    row.update(decile_1_families=3, decile_2_families=4, decile_3_families=33)
    two = _hide_cells(row, threshold=10)  # two hidden already: their sum is known, neither one
    assert [two[f"decile_{d}_families"].value for d in (1, 2, 3)] == [None, None, 33]
