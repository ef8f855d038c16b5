"""Known-answer tests of the linkage evaluation against a hand-made ground truth."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.engine import Engine
from dtsen.link.evaluation import (
    LinkEvaluation,
    SharedNiks,
    TruthError,
    TruthMismatchError,
    evaluate_links,
    family_attachment,
    load_truth,
    shared_niks,
)

PF = "p/people.csv"  # a CSV source: sheet is null
FF = "f/families.xlsx"  # an Excel source: sheet 'S1'

# (source, file, sheet, row, true person, true family, planted errors)
TRUTH = [
    ("p", PF, None, 2, 1, 10, []),
    ("p", PF, None, 3, 1, 10, ["title"]),
    ("p", PF, None, 4, 1, 10, ["name_typo"]),
    ("p", PF, None, 5, 2, 10, []),
    ("p", PF, None, 6, 2, 10, ["dob_swapped"]),
    ("p", PF, None, 7, 3, 20, []),
    ("p", PF, None, 8, 4, 20, ["name_typo", "title"]),
    ("p", PF, None, 9, 5, 30, ["nik_excel_damaged"]),  # quarantined: not in the links
    ("p", PF, None, 10, 5, 30, None),
    ("f", FF, "S1", 2, None, 10, []),
    ("f", FF, "S1", 3, None, 20, ["stale_kk"]),
    ("f", FF, "S1", 4, None, 30, []),
]

# (source, file, sheet, row, level, predicted person, predicted family)
# persons: row 4 wrongly split from person 1; rows 7 and 8 (persons 3 and 4) wrongly merged.
# families: row 10 wrongly merged into family 10's cluster; family record f3 split from family 20.
LINKS = [
    ("p", PF, None, 2, "person", 101, 100),
    ("p", PF, None, 3, "person", 101, 100),
    ("p", PF, None, 4, "person", 102, 100),
    ("p", PF, None, 5, "person", 103, 100),
    ("p", PF, None, 6, "person", 103, 100),
    ("p", PF, None, 7, "person", 104, 200),
    ("p", PF, None, 8, "person", 104, 200),
    ("p", PF, None, 10, "person", 105, 100),
    ("f", FF, "S1", 2, "family", None, 100),
    ("f", FF, "S1", 3, "family", None, 300),
    ("f", FF, "S1", 4, "family", None, 400),
]


def truth_table(rows: list[tuple] = TRUTH) -> pa.Table:
    names = ["source", "file", "sheet", "row", "person_id", "family_id", "errors"]
    schema = pa.schema(
        [("source", pa.string()), ("file", pa.string()), ("sheet", pa.string()), ("row", pa.int64()),
         ("person_id", pa.int64()), ("family_id", pa.int64()), ("errors", pa.list_(pa.string()))]
    )  # fmt: skip
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows], schema=schema)


def links_table(rows: list[tuple] = LINKS) -> pa.Table:
    names = ["source", "file", "sheet", "row", "level", "person_id", "family_id"]
    schema = pa.schema(
        [("source", pa.string()), ("file", pa.string()), ("sheet", pa.string()), ("row", pa.int64()),
         ("level", pa.string()), ("person_id", pa.int64()), ("family_id", pa.int64())]
    )  # fmt: skip
    t = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows], schema=schema)
    n = t.num_rows
    t = t.append_column("record_key", pa.array([f"{i:016x}" for i in range(n)]))
    t = t.append_column("match_probability", pa.array([1.0] * n))
    return t.append_column("method", pa.array(["nik"] * n))


def run(engine: Engine, links: pa.Table, truth: pa.Table) -> LinkEvaluation:
    return evaluate_links(engine, engine.from_arrow(links), engine.from_arrow(truth))


def f(x: Fraction) -> float:
    return float(x)


def test_known_answer(engine: Engine) -> None:
    ev = run(engine, links_table(), truth_table())
    p = ev.persons
    # over every row read: the quarantined row 9 is a person of its own (q9)
    # cells (pred, true): n -- (101,1):2 (102,1):1 (103,2):2 (104,3):1 (104,4):1 (105,5):1 (q9,5):1
    assert (p.records, p.linked, p.quarantined) == (9, 8, 1)
    assert (p.true_clusters, p.predicted_clusters) == (5, 6)
    assert (p.true_positive_pairs, p.predicted_pairs, p.true_pairs) == (2, 3, 5)
    assert p.precision == pytest.approx(f(Fraction(2, 3)), abs=1e-12)
    assert p.recall == pytest.approx(0.4, abs=1e-12)
    assert p.f1 == pytest.approx(0.5, abs=1e-12)
    # per record |pred & true| / |pred|: 1,1,1,1,1,1/2,1/2,1,1 ; / |true|: 2/3,2/3,1/3,1,1,1,1,1/2,1/2
    assert p.bcubed_precision == pytest.approx(f(Fraction(8, 9)), abs=1e-12)
    assert p.bcubed_recall == pytest.approx(f(Fraction(20, 27)), abs=1e-12)
    assert p.bcubed_f1 == pytest.approx(f(Fraction(80, 99)), abs=1e-12)
    assert (p.exact_clusters, p.exact_share) == (1, pytest.approx(0.2, abs=1e-12))

    # over the accepted rows only, as before issue 12: row 9 left out
    a = ev.persons_accepted
    assert (a.records, a.linked, a.quarantined) == (8, 8, 0)
    assert (a.true_positive_pairs, a.predicted_pairs, a.true_pairs) == (2, 3, 4)
    assert a.f1 == pytest.approx(f(Fraction(4, 7)), abs=1e-12)
    assert a.bcubed_f1 == pytest.approx(f(Fraction(35, 41)), abs=1e-12)
    assert (a.exact_clusters, a.exact_share) == (2, pytest.approx(0.4, abs=1e-12))

    fam = ev.families
    # cells: (100,10):6 (100,30):1 (200,20):2 (300,20):1 (400,30):1 (q9,30):1
    assert (fam.records, fam.linked, fam.quarantined) == (12, 11, 1)
    assert (fam.true_clusters, fam.predicted_clusters) == (3, 5)
    assert (fam.true_positive_pairs, fam.predicted_pairs, fam.true_pairs) == (16, 22, 21)
    assert fam.precision == pytest.approx(f(Fraction(8, 11)), abs=1e-12)
    assert fam.recall == pytest.approx(f(Fraction(16, 21)), abs=1e-12)
    assert fam.f1 == pytest.approx(f(Fraction(32, 43)), abs=1e-12)
    assert fam.bcubed_precision == pytest.approx(f(Fraction(6, 7)), abs=1e-12)
    assert fam.bcubed_recall == pytest.approx(f(Fraction(13, 18)), abs=1e-12)
    assert (fam.exact_clusters, fam.exact_share) == (0, 0.0)

    # kind, level, records, quarantined, linked, split, merged
    assert [tuple(r.values()) for r in ev.misses.to_pylist()] == [
        ("dob_swapped", "person", 1, 0, 1, 0, 0),
        ("name_typo", "person", 2, 0, 2, 1, 1),  # row 4 split, row 8 merged
        ("nik_excel_damaged", "person", 1, 1, 0, 0, 0),
        ("title", "person", 2, 0, 2, 1, 1),  # row 3 split (its person is spread), row 8 merged
        ("none", "person", 4, 0, 4, 2, 1),  # rows 2, 5, 7, 10 (null errors): rows 2 and 10 split, row 7 merged
        ("stale_kk", "family", 1, 0, 1, 1, 0),
        ("none", "family", 2, 0, 2, 1, 1),  # f2 merged with row 10, f4 split from row 10
    ]


def test_perfect_linkage_and_json(duck: Engine) -> None:
    truth = truth_table()
    links = truth.select(["source", "file", "sheet", "row", "person_id", "family_id"])
    level = pa.array(["person" if v is not None else "family" for v in truth["person_id"].to_pylist()])
    ev = run(duck, links.append_column("level", level), truth)
    for s in (ev.persons, ev.families):
        assert (s.precision, s.recall, s.f1, s.bcubed_f1, s.exact_share) == (1.0, 1.0, 1.0, 1.0, 1.0)
        assert s.quarantined == 0
    assert sum(ev.misses["split"].to_pylist()) + sum(ev.misses["merged"].to_pylist()) == 0
    d = json.loads(json.dumps(ev.to_dict()))
    assert d["persons"]["true_pairs"] == 5  # row 9 is linked here too
    assert d["misses"][0] == {
        "kind": "dob_swapped", "level": "person", "records": 1, "quarantined": 0, "linked": 1, "split": 0, "merged": 0
    }  # fmt: skip


def test_to_dict_rounds(duck: Engine) -> None:
    d = run(duck, links_table(), truth_table()).to_dict()
    assert d["persons"]["precision"] == 0.666667
    assert d["families"]["bcubed_precision"] == round(6 / 7, 6)
    assert d["persons_accepted"]["precision"] == 0.666667
    assert isinstance(d["persons"]["records"], int)


def test_nothing_linked_together(duck: Engine) -> None:
    """Every record alone (and null ids): no predicted pairs, so precision 1, recall 0."""
    rows = [(*r[:4], r[4], None, None) for r in LINKS]
    ev = run(duck, links_table(rows), truth_table())
    assert (ev.persons.predicted_pairs, ev.persons.precision, ev.persons.recall, ev.persons.f1) == (0, 1.0, 0.0, 0.0)
    assert ev.persons.predicted_clusters == 9  # with the quarantined row 9
    assert ev.families.predicted_clusters == 12
    assert ev.persons.bcubed_precision == 1.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([("p", PF, None, 99, "person", 1, 1)], r"1 link\(s\) name a source row that is not in the ground truth, e\.g\. p/people\.csv row 99"),
        ([("f", FF, "Other", 2, "family", None, 1)], r"1 link\(s\).*f/families\.xlsx sheet 'Other' row 2"),
        ([LINKS[0]], r"1 source row\(s\) appear more than once in the links, e\.g\. p/people\.csv row 2"),
    ],
)  # fmt: skip
def test_links_not_of_this_truth(duck: Engine, extra: list[tuple], message: str) -> None:
    with pytest.raises(TruthMismatchError, match=message):
        run(duck, links_table(LINKS + extra), truth_table())


def test_wrong_level(duck: Engine) -> None:
    rows = [(*r[:4], "family", None, r[6]) if r[3] == 3 and r[0] == "p" else r for r in LINKS]
    with pytest.raises(TruthMismatchError, match=r"1 link\(s\).*p/people\.csv row 3 .* is person-level"):
        run(duck, links_table(rows), truth_table())


def test_load_truth(duck: Engine, tmp_path: Path) -> None:
    with pytest.raises(
        TruthError, match=r"no ground truth at .*records\.parquet: evaluate works on data made by `dtsen synth`"
    ):
        load_truth(duck, tmp_path)
    (tmp_path / "truth").mkdir()
    pq.write_table(truth_table(), tmp_path / "truth" / "records.parquet")
    for where in (tmp_path, tmp_path / "truth"):
        assert load_truth(duck, where).count().to_pyarrow().as_py() == len(TRUTH)
    pq.write_table(truth_table().drop(["errors"]), tmp_path / "truth" / "records.parquet")
    with pytest.raises(TruthError, match="lack the column"):
        load_truth(duck, tmp_path)


def test_shared_niks(duck: Engine) -> None:
    nik_a, nik_b, nik_c = "3204056103100001", "3204051503800002", "3204050101900003"
    persons = pa.table(
        {
            "person_id": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
            "nik": [nik_a, nik_a, nik_b, nik_b, nik_c, None, None],
            # one person split in two (the same name); two people on one NIK (other names); one holder
            "full_name": ["RINA MARLINA", "RINA MARLINA", "BAMBANG", "SITI AMINAH", "ASEP", "ASEP", "ASEP"],
        }
    )
    assert shared_niks(duck.from_arrow(persons)) == SharedNiks(niks=2, names_agree=1)
    assert shared_niks(duck.from_arrow(persons.slice(2))).to_dict() == {"niks": 1, "names_agree": 0}


def test_family_attachment(duck: Engine) -> None:
    # f2 (family 10) went to 100, where family 10's persons are: right; f3 (family 20) to 300, but
    # family 20's persons are in 200: wrong; f4 (family 30) to 400, family 30's persons in 100: wrong
    got = family_attachment(duck.from_arrow(links_table()), duck.from_arrow(truth_table()))
    assert (got.records, got.attached, got.right) == (3, 3, 1)
    assert got.share == pytest.approx(1 / 3)
    rows = [(*r[:6], None) if r[0] == "f" and r[3] == 4 else r for r in LINKS]  # f4 left unattached
    got = family_attachment(duck.from_arrow(links_table(rows)), duck.from_arrow(truth_table()))
    assert got.to_dict() == {"records": 3, "attached": 2, "right": 1, "share": round(1 / 3, 6)}
