"""Known answers for the deterministic NIK pass and the attachment of family-level records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from dtsen.engine import Engine
from dtsen.link.cluster import enforce_cannot_links
from dtsen.link.deterministic import (
    LINKING_METHODS,
    apart_within_clusters,
    nik_pass,
    source_rank,
    veto_different_niks,
)
from dtsen.link.families import attach_family_records, family_members

D = dt.date
NIK_A = "3204054505900001"  # a woman born 05-05-1990
NIK_T = "3204051203150001"


def _records(rows: Sequence[tuple[str, str, str | None, str | None, str, D | None]]) -> pa.Table:
    keys, sources, niks, names, sexes, dobs = zip(*rows, strict=True)
    return pa.table(
        {
            "record_key": list(keys),
            "source": list(sources),
            "nik": list(niks),
            "name": list(names),
            "name_tokens": [n.split() if n else [] for n in names],
            "name_phonetic": [n.replace("OE", "U") if n else None for n in names],
            "sex": list(sexes),
            "birth_date": pa.array(list(dobs), pa.date32()),
            "observed_at": pa.array([D(2025, 6, 30)] * len(rows), pa.date32()),
        }
    )


ROWS = [
    # one woman in three sources: the Dukcapil record anchors
    ("a1", "dukcapil", NIK_A, "SITI NUR AISYAH", "P", D(1990, 5, 5)),
    ("a2", "dtks", NIK_A, "NUR AISYAH", "P", D(1990, 5, 5)),  # a name part dropped
    ("a3", "bpjs", NIK_A, "SITI NUR AISAH", "P", None),  # a typo, birth date unknown
    ("a4", "dtks", NIK_A, "SITI NUR AISYAH", "P", D(1990, 5, 5)),
    # someone else carrying her NIK (a mis-keyed or duplicated number): a conflict
    ("x1", "dtks", NIK_A, "BAMBANG SUTRISNO", "L", D(1971, 2, 9)),
    # day and month swapped still agrees; old spelling agrees by sound
    ("t1", "dukcapil", NIK_T, "SUKARNO", "L", D(2015, 3, 12)),
    ("t2", "dtks", NIK_T, "SOEKARNO", "L", D(2015, 12, 3)),
    # without a valid NIK: alone, for the probabilistic pass
    ("n1", "dtks", None, "SUKARNO", "L", D(2015, 3, 12)),
    ("n2", "dtks", "32040512031500", "SUKARNO", "L", D(2015, 3, 12)),
    # a NIK seen once: its own node
    ("s1", "bpjs", "3204050101800002", "ASEP", "L", D(1980, 1, 1)),
]


def test_nik_pass_known_answer(engine: Engine) -> None:
    t = engine.from_arrow(_records(ROWS))
    ranks = source_rank({"dukcapil": {"nik": 1.0}, "bpjs": {"nik": 0.8}, "dtks": {"nik": 0.6}})
    assert ranks == {"dukcapil": 0, "bpjs": 1, "dtks": 2}
    det = nik_pass(t, ranks)
    got = {
        r["record_key"]: (r["node_key"], r["method"], r["nik_conflict"])
        for r in engine.con.to_pyarrow(det.assignment).to_pylist()
    }
    assert got == {
        "a1": ("a1", "nik", False),
        "a2": ("a1", "nik", False),
        "a3": ("a1", "nik", False),
        "a4": ("a1", "nik", False),
        "x1": ("x1", "alone", True),
        "t1": ("t1", "nik", False),
        "t2": ("t1", "nik", False),
        "n1": ("n1", "alone", False),
        "n2": ("n2", "alone", False),
        "s1": ("s1", "alone", False),
    }
    conflicts = engine.con.to_pyarrow(det.conflicts).to_pylist()
    assert conflicts == [{"nik": NIK_A, "records": 5, "conflicting": 1}]


def test_names_spaced_differently_agree_closely_under_a_year_typo(duck: Engine) -> None:
    nik = "3204266111980001"  # a woman born 21-11-1998
    rows = [
        ("z1", "dukcapil", nik, "ZAENABOLIVIA", "P", D(1998, 11, 21)),
        ("z2", "dtks", nik, "ZAENAB OLIVIA", "P", D(1989, 11, 21)),  # the year's digits swapped
        ("z3", "dtks", nik, "ZAENAB RAHAYU", "P", D(1989, 11, 21)),  # not the same letters: someone else
    ]
    det = nik_pass(duck.from_arrow(_records(rows)), {"dukcapil": 0, "dtks": 1})
    got = {r["record_key"]: (r["node_key"], r["nik_conflict"]) for r in duck.con.to_pyarrow(det.assignment).to_pylist()}
    assert got == {"z1": ("z1", False), "z2": ("z1", False), "z3": ("z3", True)}


def test_a_repeated_word_counts_once_on_both_engines(engine: Engine) -> None:
    """Ibis writes the word intersection as a filter on DuckDB (a repeated word counted twice) and
    as ARRAY_INTERSECT on Spark (once): the test counts distinct words, so both engines agree."""
    nik = "3209011701060001"  # a man born 17-01-2006
    rows = [
        ("m1", "dukcapil", nik, "MUHAMMAD", "L", D(2006, 1, 17)),
        ("m2", "dtks", nik, "MUHAMMAD MUHAMMAD", "L", D(2006, 1, 17)),  # the same word, twice
        ("m3", "dtks", nik, "BUDI SANTOSO", "L", D(2006, 1, 17)),  # someone else
    ]
    det = nik_pass(engine.from_arrow(_records(rows)), {"dukcapil": 0, "dtks": 1})
    got = {r["record_key"]: (r["node_key"], r["nik_conflict"]) for r in engine.con.to_pyarrow(det.assignment).to_pylist()}
    assert got == {"m1": ("m1", False), "m2": ("m1", False), "m3": ("m3", True)}


def test_anchor_is_the_most_trusted_source(duck: Engine) -> None:
    # Dukcapil says BAMBANG; two DTKS records say otherwise: the DTKS ones are the conflict
    rows = [
        ("d", "dukcapil", NIK_A, "BAMBANG", "L", D(1971, 2, 9)),
        ("e", "dtks", NIK_A, "SITI AMINAH", "P", D(1990, 5, 5)),
        ("f", "dtks", NIK_A, "SITI AMINAH", "P", D(1990, 5, 5)),
    ]
    det = nik_pass(duck.from_arrow(_records(rows)), {"dukcapil": 0, "dtks": 1})
    got = {r["record_key"]: (r["node_key"], r["nik_conflict"]) for r in duck.con.to_pyarrow(det.assignment).to_pylist()}
    assert got == {"d": ("d", False), "e": ("e", True), "f": ("f", True)}


def test_family_records_attach_by_strongest_evidence(duck: Engine) -> None:
    kk_new, kk_old, kk_other = "3204051111250001", "3204050101100001", "3204059999990001"
    persons = duck.from_arrow(
        pa.table(
            {
                "person_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
                "family_id": pa.array([10, 10, 20, 30, 40], pa.int64()),
                "kk": [kk_new, kk_new, kk_other, None, None],
            }
        )
    )
    person_links = duck.from_arrow(
        pa.table(
            {
                "record_key": ["p1", "p1old", "p2", "p3", "p4", "p5"],
                "person_id": pa.array([1, 1, 2, 3, 4, 5], pa.int64()),
                "kk": [kk_new, kk_old, kk_new, kk_other, None, None],
                "nik": ["3204050101700001", None, None, "3204050202800002", None, None],
                "name": ["ASEP", "ASEP", "IMAS", "DEDI", "UJANG", "ENDANG"],
                "region_code": ["32.04.05.2001"] * 4 + ["32.04.05.2002"] * 2,
                "address": ["JL MELATI 1", "JL LAMA 9", "JL MELATI 1", "JL MAWAR 2", "KP CIBODAS", "KP CIBODAS"],
                # two families in one kampung: only the RT tells them apart
                "rt": ["001", "001", "001", "002", "003", "004"],
                "rw": ["001"] * 6,
            }
        )
    )
    fam = duck.from_arrow(
        pa.table(
            {
                "record_key": ["f_kk", "f_old", "f_head", "f_name", "f_addr", "f_rt", "f_shared", "f_none"],
                "kk": [kk_new, kk_old, None, None, None, None, None, None],
                "nik": [None, None, "3204050202800002", None, None, None, None, None],
                "name": ["X", "Y", "Z", "UJANG", "PEMILIK KONTRAKAN", "JURAGAN", "JURAGAN", "NOBODY"],
                "region_code": ["32.04.05.2001"] * 3
                + ["32.04.05.2002", "32.04.05.2001"]
                + ["32.04.05.2002"] * 2
                + ["32.04.05.2009"],
                "address": [None, None, None, None, "JL MAWAR 2", "KP CIBODAS", "KP CIBODAS", "JL ENTAH"],
                "rt": [None, None, None, None, None, "004", None, None],
                "rw": [None, None, None, None, None, "001", None, None],
            }
        )
    )
    got = {
        r["record_key"]: (r["family_id"], r["method"])
        for r in duck.con.to_pyarrow(attach_family_records(fam, person_links, persons)).to_pylist()
    }
    assert got == {
        "f_kk": (10, "kk"),
        "f_old": (10, "kk_old"),
        "f_head": (20, "head"),
        "f_name": (30, "name"),
        "f_addr": (20, "address"),
        "f_rt": (40, "address"),
        "f_shared": (None, "unlinked"),  # two families at that address, no RT to choose
        "f_none": (None, "unlinked"),
    }
    members = {r["member_key"]: r["cluster"] for r in duck.con.to_pyarrow(family_members(persons)).to_pylist()}
    assert members == {"1": f"kk:{kk_new}", "2": f"kk:{kk_new}", "3": f"kk:{kk_other}", "4": "p:4", "5": "p:5"}


def test_pairs_of_different_niks_are_vetoed_or_sent_to_review(duck: Engine) -> None:
    def node(key: str, source: str, nik: str | None, name: str) -> dict[str, object]:
        return {
            "unique_id": key,
            "source": source,
            "nik": nik,
            "name": name,
            "name_tokens": name.split(),
            "name_phonetic": name,
        }

    nodes = duck.from_arrow(
        pa.Table.from_pylist(
            [
                node("twin_a", "dukcapil", "3204054505100001", "PUTRI ANGGRAENI"),
                node("twin_b", "dukcapil", "3204054505100002", "DEWI ANGGRAENI"),
                node("same_day", "dukcapil", "3204054505100003", "PUTRI"),  # a namesake in the registry
                node("typo", "dtks", "3204054505100009", "PUTRI ANGGRAENI"),  # a mistyped NIK, outside it
                node("no_nik", "dtks", None, "DEWI ANGGRAINI"),
            ]
        )
    )
    pairs = [("twin_a", "twin_b"), ("twin_a", "same_day"), ("twin_a", "typo"), ("twin_b", "no_nik")]
    edges = duck.from_arrow(
        pa.table(
            {
                "record_key_l": [a for a, _ in pairs],
                "record_key_r": [b for _, b in pairs],
                "match_probability": [0.999] * len(pairs),
                "method": ["splink"] * len(pairs),
            }
        )
    )
    out = veto_different_niks(edges, nodes, ["dukcapil"])
    got = {
        (r["record_key_l"], r["record_key_r"]): (r["method"], r["match_probability"])
        for r in duck.con.to_pyarrow(out).to_pylist()
    }
    assert got == {
        ("twin_a", "twin_b"): ("nik_name_veto", 0.999),
        ("twin_a", "same_day"): ("two_registry_niks", 0.999),
        ("twin_a", "typo"): ("splink", 0.999),
        ("twin_b", "no_nik"): ("splink", 0.999),
    }
    assert set(LINKING_METHODS) == {"splink", "review"}


NIK_R = "3204056103100001"  # a woman born 21-03-2010
NIK_P = "3204054505100007"  # a woman born 05-05-2010


def test_a_mistyped_birth_year_or_a_miscoded_sex_under_one_nik_is_one_person(duck: Engine) -> None:
    """The NIK encodes birth date and sex: with the names agreeing, a record that slipped on one
    of them joins its NIK group; one whose name disagrees too is a conflict, for review."""
    rows = [
        ("r1", "dukcapil", NIK_R, "RINA MARLINA", "P", D(2010, 3, 21)),
        ("r2", "dtks", NIK_R, "RINA MARLINA", "P", D(2001, 3, 21)),  # 21/03/2001 for 21-03-2010
        ("r3", "regsosek_art", NIK_R, "RINA MARLINA", "L", D(2010, 3, 21)),  # sex miscoded
        ("r4", "bpjs", NIK_R, "MARLINA RINA", "L", D(2010, 8, 21)),  # words swapped; month and sex slipped
        ("r5", "dtks", NIK_R, "RINI MARLINA", "P", D(2001, 3, 21)),  # a name typo AND a year typo: apart
        ("r6", "dtks", NIK_R, "RINA", "P", D(2001, 3, 21)),  # one word of her name and another year: apart
        # twins of other sexes, the brother's record carrying his sister's NIK: apart
        ("p1", "dukcapil", NIK_P, "PUTRI", "P", D(2010, 5, 5)),
        ("p2", "dtks", NIK_P, "PUTRA", "L", D(2010, 5, 5)),
        # a whole other birth date with the same name is not a slip: apart
        ("p3", "bpjs", NIK_P, "PUTRI", "P", D(1985, 11, 30)),
    ]
    ranks = {"dukcapil": 0, "regsosek_art": 1, "bpjs": 2, "dtks": 3}
    det = nik_pass(duck.from_arrow(_records(rows)), ranks)
    got = {r["record_key"]: (r["node_key"], r["nik_conflict"]) for r in duck.con.to_pyarrow(det.assignment).to_pylist()}
    assert got == {
        "r1": ("r1", False),
        "r2": ("r1", False),
        "r3": ("r1", False),
        "r4": ("r1", False),
        "r5": ("r5", True),
        "r6": ("r6", True),
        "p1": ("p1", False),
        "p2": ("p2", True),
        "p3": ("p3", True),
    }
    pairs = sorted((r["record_key"], r["anchor_key"]) for r in duck.con.to_pyarrow(det.pairs).to_pylist())
    assert pairs == [("p2", "p1"), ("p3", "p1"), ("r5", "r1"), ("r6", "r1")]


def test_a_node_without_nik_does_not_chain_two_people_together(duck: Engine) -> None:
    """Three women born the same day in one village, each in the civil registry with her own NIK;
    the welfare list's record of one of them lost its NIK to Excel. Scored against each, that
    record is above the threshold (same birth date and village outweigh the other names), so the
    connected components hold all four. The two registry women whose names disagree, and the two
    namesakes in the registry, are kept apart; the record without a NIK stays with its strongest
    edge. A NIK typo whose name agrees is not split off."""

    def node(key: str, source: str, nik: str | None, name: str) -> dict[str, object]:
        return {"unique_id": key, "source": source, "nik": nik, "name": name, "name_tokens": name.split(),
                "name_phonetic": name}

    nodes = duck.from_arrow(pa.Table.from_pylist([
        node("hasna", "dukcapil", "3204466906080006", "HASNA"),
        node("ulva", "dukcapil", "3204466906080005", "ULVA SURYATMI"),
        node("hasna2", "dukcapil", "3204466906080001", "HASNA"),  # a namesake in the registry
        node("hasna_dtks", "dtks", None, "HASNA"),  # the NIK withheld as damaged
        node("rina", "dukcapil", "3204466906080007", "RINA"),
        node("rina_typo", "dtks", "3204466906080070", "RINA"),  # a mistyped NIK, the same woman
    ]))  # fmt: skip
    clusters = duck.from_arrow(pa.table({
        "node_key": ["hasna", "ulva", "hasna2", "hasna_dtks", "rina", "rina_typo"],
        "cluster": ["c1", "c1", "c1", "c1", "c2", "c2"],
    }))  # fmt: skip
    apart = duck.con.to_pyarrow(apart_within_clusters(clusters, nodes, ["dukcapil"])).to_pylist()
    assert sorted((r["node_l"], r["node_r"]) for r in apart) == [
        ("hasna", "hasna2"),  # two registry NIKs
        ("hasna", "ulva"),  # other NIKs and other names
        ("hasna2", "ulva"),
    ]
    edges = duck.from_arrow(pa.table({
        "unique_id_l": ["hasna_dtks", "hasna_dtks", "hasna_dtks", "rina"],
        "unique_id_r": ["hasna", "ulva", "hasna2", "rina_typo"],
        "match_probability": [0.99999, 0.971, 0.995, 0.98],
    }))  # fmt: skip
    cannot = pa.table({"node_l": [r["node_l"] for r in apart], "node_r": [r["node_r"] for r in apart]})
    out = enforce_cannot_links(duck, clusters, edges, cannot, 0.9)
    got = {r["node_key"]: r["cluster"] for r in duck.con.to_pyarrow(out).to_pylist()}
    assert got["hasna_dtks"] == got["hasna"]
    assert len({got["hasna"], got["ulva"], got["hasna2"]}) == 3
    assert got["rina"] == got["rina_typo"] == "c2"
