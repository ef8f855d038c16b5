"""How well a linkage run found the true persons and families of synthetic data (issue 3, section 5).

`dtsen synth` writes the truth: for every row of every source file, the person and family it
came from and the errors planted in it. This module joins a run's `links` table to that truth
on (source, file, sheet, row) and scores it:

- pairwise precision, recall and F1 (over pairs of records put in one cluster), computed by
  counting cluster sizes, never by listing the pairs;
- B-cubed precision, recall and F1 (per record: the share of its predicted cluster that is its
  true cluster, and the share of its true cluster that it was put with);
- the share of true clusters reproduced exactly;
- for each planted error kind, how many records carrying it were quarantined, linked, wrongly
  split from their true cluster, or wrongly merged with another one.

Persons are scored on person-level records; families on all records (person- and family-level)
against the true family. A truth row with no link was quarantined at ingest: it is scored as a
person (and a family) of its own, so that dropping a row costs recall, as losing a person from
the registry does (issue 12). `persons_accepted` scores only the rows ingest accepted, for
comparison. All heavy work runs as Ibis group-bys and joins on the engine; only a few
aggregates come to Python.

Where a measure has nothing to measure, it is perfect: precision is 1.0 when no pairs were
predicted, recall is 1.0 when there are no true pairs; F1 is 0.0 when both P and R are 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis import _

from dtsen.engine import Engine
from dtsen.errors import DtsenError

TRUTH_FILE = "records.parquet"
NO_ERROR = "none"
LEVELS = ("person", "family")
_KEY = ("source", "file", "_sheet", "row")
_TRUTH_COLUMNS = ("source", "file", "sheet", "row", "person_id", "family_id", "errors")
_LINK_COLUMNS = ("source", "file", "sheet", "row", "level", "person_id", "family_id")
_MISS_COUNTS = ("records", "quarantined", "linked", "split", "merged")
_DIGITS = 6


class TruthError(DtsenError):
    """The synthetic ground truth is missing or malformed."""


class TruthMismatchError(TruthError):
    """The links do not belong to the synthetic data the truth describes."""


@dataclass(frozen=True)
class ClusterScores:
    """The accuracy of one level of clustering (persons or families) against the truth."""

    records: int  # truth records at this level (all scored; a quarantined one alone)
    linked: int  # of which in the links
    quarantined: int  # of which not in the links
    true_clusters: int  # true persons / families among the linked records
    predicted_clusters: int  # predicted persons / families among the linked records
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    exact_clusters: int  # true clusters whose linked records form exactly one predicted cluster
    exact_share: float  # exact_clusters / true_clusters

    def to_dict(self) -> dict[str, int | float]:
        return {f.name: _json_number(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class LinkEvaluation:
    """The scores of a linkage run against the synthetic ground truth."""

    persons: ClusterScores  # over every person row read, a quarantined row a person of its own
    families: ClusterScores  # over every row read
    misses: pa.Table  # kind, level, records, quarantined, linked, split, merged
    persons_accepted: ClusterScores  # over the person rows ingest accepted only

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain ints and floats rounded to 6 decimals."""
        return {
            "persons": self.persons.to_dict(),
            "families": self.families.to_dict(),
            "persons_accepted": self.persons_accepted.to_dict(),
            "misses": self.misses.to_pylist(),
        }


def load_truth(engine: Engine, truth_dir: Path) -> ir.Table:
    """Read the truth records written by `dtsen synth` (`truth_dir` is DIR/truth or DIR itself)."""
    truth_dir = Path(truth_dir)
    candidates = [truth_dir / TRUTH_FILE, truth_dir / "truth" / TRUTH_FILE]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise TruthError(f"no ground truth at {candidates[0]}: evaluate works on data made by `dtsen synth`")
    table = engine.read_parquet(path)
    missing = [c for c in _TRUTH_COLUMNS if c not in table.columns]
    if missing:
        raise TruthError(f"{path}: the truth records lack the column(s) {', '.join(missing)}")
    return table


def evaluate_links(engine: Engine, links: ir.Table, truth_records: ir.Table) -> LinkEvaluation:
    """Score `links` (the linkage output) against `truth_records` (from `load_truth`)."""
    missing = [c for c in _LINK_COLUMNS if c not in links.columns]
    if missing:
        raise TruthMismatchError(f"the links table lacks the column(s) {', '.join(missing)}")
    truth = _keyed_truth(truth_records)
    keyed_links = _keyed_links(links)
    _check_links(keyed_links, truth)
    records = engine.materialize(_join_truth(truth, keyed_links))
    totals, linked_n = _level_totals(records)

    people = records.filter(records._level == "person")
    person_cells = engine.materialize(_cells(people, "_pred_person", "_true_person"))
    family_cells = engine.materialize(_cells(records, "_pred_family", "_true_family"))
    accepted_cells = _cells(people.filter(people._linked), "_pred_person", "_true_person")
    sums = _cell_sums({"person": person_cells, "family": family_cells, "accepted": accepted_cells})
    persons = _scores(sums["person"], totals["person"], linked_n["person"])
    families = _scores(sums["family"], totals["person"] + totals["family"], linked_n["person"] + linked_n["family"])
    accepted = _scores(sums["accepted"], linked_n["person"], linked_n["person"])
    misses = _misses(records, person_cells, family_cells)
    return LinkEvaluation(persons=persons, families=families, misses=misses, persons_accepted=accepted)


# -- keys and the join ------------------------------------------------------------------------


def _sheet_key(t: ir.Table) -> ir.StringValue:
    return t.sheet.cast("string").fill_null("")


def _cluster_key(t: ir.Table, id_column: str) -> ir.StringValue:
    """A cluster id as a string; a record without one is a cluster of its own."""
    alone = ibis.literal("r:").concat(
        t.source, ibis.literal("|"), t.file, ibis.literal("|"), t._sheet, ibis.literal("|"), t.row.cast("string")
    )
    return t[id_column].isnull().ifelse(alone, ibis.literal("c:").concat(t[id_column].cast("string")))


def _keyed_truth(truth: ir.Table) -> ir.Table:
    t = truth.mutate(_sheet=_sheet_key(truth), row=truth.row.cast("int64"))
    return t.select(
        "source",
        "file",
        "_sheet",
        "row",
        _level=t.person_id.isnull().ifelse(ibis.literal("family"), ibis.literal("person")),
        _true_person=_cluster_key(t, "person_id"),
        _true_family=_cluster_key(t, "family_id"),
        _errors=t.errors,
    )


def _keyed_links(links: ir.Table) -> ir.Table:
    t = links.mutate(_sheet=_sheet_key(links), row=links.row.cast("int64"))
    return t.select(
        _l_source=t.source,
        _l_file=t.file,
        _l_sheet=t._sheet,
        _l_row=t.row,
        _l_level=t.level,
        _pred_person=_cluster_key(t, "person_id"),
        _pred_family=_cluster_key(t, "family_id"),
    )


def _link_predicates(truth: ir.Table, links: ir.Table) -> list[ir.BooleanValue]:
    return [truth[k] == links["_l_" + k.lstrip("_")] for k in _KEY]


def _join_truth(truth: ir.Table, links: ir.Table) -> ir.Table:
    """One row per truth record: its true and predicted clusters, and whether it was linked."""
    joined = truth.left_join(links, _link_predicates(truth, links))
    # a quarantined row is a person and a family of its own
    alone = ibis.literal("q:").concat(
        joined.source, ibis.literal("|"), joined.file, ibis.literal("|"), joined._sheet, ibis.literal("|"),
        joined.row.cast("string"),
    )
    return joined.select(
        *_KEY,
        "_level",
        "_errors",
        "_true_person",
        "_true_family",
        _pred_person=joined._pred_person.fill_null(alone),
        _pred_family=joined._pred_family.fill_null(alone),
        _link_level=joined._l_level,
        _linked=joined._l_source.notnull(),
    )


def _example(t: ir.Table, columns: tuple[str, ...]) -> str:
    row = t.order_by(list(columns)).limit(1).to_pyarrow().to_pylist()[0]
    source, file, sheet, line = (row[c] for c in columns)
    return f"{file}{f' sheet {sheet!r}' if sheet else ''} row {line} (source {source})"


def _check_links(links: ir.Table, truth: ir.Table) -> None:
    """Every link must be one truth row, and no truth row may be linked twice."""
    lkeys = ("_l_source", "_l_file", "_l_sheet", "_l_row")
    stray = links.anti_join(truth, _link_predicates(truth, links))
    groups = links.group_by(list(lkeys)).aggregate(_n=links.count())
    twice = groups.filter(groups._n > 1)
    counts = ibis.union(
        stray.aggregate(_what=ibis.literal("stray"), _count=stray.count()),
        twice.aggregate(_what=ibis.literal("twice"), _count=twice.count()),
        distinct=False,
    )
    found = {r["_what"]: int(r["_count"] or 0) for r in counts.to_pyarrow().to_pylist()}
    if found.get("stray"):
        raise TruthMismatchError(
            f"{found['stray']} link(s) name a source row that is not in the ground truth, "
            f"e.g. {_example(stray, lkeys)}: the run is not of this synthetic data"
        )
    if found.get("twice"):
        raise TruthMismatchError(
            f"{found['twice']} source row(s) appear more than once in the links, e.g. {_example(twice, lkeys)}"
        )


def _level_totals(records: ir.Table) -> tuple[dict[str, int], dict[str, int]]:
    """Truth records per level, and of them linked; raises when a record is linked at another
    level than its true one."""
    is_wrong = records._linked & (records._link_level != records._level).fill_null(True)
    agg = records.group_by("_level").aggregate(
        _records=records.count(), _wrong=is_wrong.ifelse(1, 0).sum(), _linked_n=records._linked.ifelse(1, 0).sum()
    )
    rows = agg.to_pyarrow().to_pylist()
    n_wrong = sum(int(r["_wrong"] or 0) for r in rows)
    if n_wrong:
        wrong = records.filter(is_wrong).order_by(list(_KEY)).limit(1)
        row = wrong.select(*_KEY, "_level", "_link_level").to_pyarrow().to_pylist()[0]
        raise TruthMismatchError(
            f"{n_wrong} link(s) are at another level than in the ground truth, e.g. "
            f"{row['file']} row {row['row']} (source {row['source']}) is {row['_level']}-level "
            f"but linked as {row['_link_level']!r}"
        )
    out = dict.fromkeys(LEVELS, 0)
    out.update({r["_level"]: int(r["_records"]) for r in rows})
    linked = dict.fromkeys(LEVELS, 0)
    linked.update({r["_level"]: int(r["_linked_n"] or 0) for r in rows})
    return out, linked


# -- clusters and scores ----------------------------------------------------------------------


def _cells(linked: ir.Table, pred: str, true: str) -> ir.Table:
    """One row per (predicted cluster, true cluster) that share records: n, and both cluster sizes."""
    cells = linked.group_by([linked[pred].name("_pred"), linked[true].name("_true")]).aggregate(_n=linked.count())
    psize = cells.group_by("_pred").aggregate(_pred_size=cells._n.sum())
    tsize = cells.group_by("_true").aggregate(_true_size=cells._n.sum())
    with_p = cells.inner_join(psize, "_pred")
    return with_p.inner_join(tsize, "_true").select("_pred", "_true", "_n", "_pred_size", "_true_size")


def _ratio(num: float, den: float, empty: float) -> float:
    return num / den if den else empty


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _cell_sums(cells: dict[str, ir.Table]) -> dict[str, dict[str, Any]]:
    """The sums the scores are made of, for each cells table, in one query."""
    parts = []
    for label, c in cells.items():
        n, ps, ts = c._n, c._pred_size, c._true_size
        parts.append(
            c.aggregate(
                _label=ibis.literal(label),
                linked=n.sum(),
                tp2=(n * (n - 1)).sum(),
                pred2=(n * (ps - 1)).sum(),  # = sum over predicted clusters of P(P-1)
                true2=(n * (ts - 1)).sum(),
                b3p=(n * n / ps).sum(),
                b3r=(n * n / ts).sum(),
                pred_clusters=c._pred.nunique(),
                true_clusters=c._true.nunique(),
                exact=((n == ps) & (n == ts)).ifelse(1, 0).sum(),
            )
        )
    rows = ibis.union(*parts, distinct=False).to_pyarrow().to_pylist()
    return {r.pop("_label"): r for r in rows}


def _scores(agg: dict[str, Any], records: int, linked: int) -> ClusterScores:
    v = {k: (x or 0) for k, x in agg.items()}
    scored = int(v["linked"])  # the records in the cells
    tp, pred_pairs, true_pairs = int(v["tp2"]) // 2, int(v["pred2"]) // 2, int(v["true2"]) // 2
    precision = _ratio(tp, pred_pairs, 1.0)
    recall = _ratio(tp, true_pairs, 1.0)
    b3p = _ratio(float(v["b3p"]), scored, 1.0)
    b3r = _ratio(float(v["b3r"]), scored, 1.0)
    return ClusterScores(
        records=records,
        linked=linked,
        quarantined=records - linked,
        true_clusters=int(v["true_clusters"]),
        predicted_clusters=int(v["pred_clusters"]),
        true_pairs=true_pairs,
        predicted_pairs=pred_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        bcubed_precision=b3p,
        bcubed_recall=b3r,
        bcubed_f1=_f1(b3p, b3r),
        exact_clusters=int(v["exact"]),
        exact_share=_ratio(int(v["exact"]), int(v["true_clusters"]), 1.0),
    )


# -- misses by planted error ------------------------------------------------------------------


def _record_flags(records: ir.Table, person_cells: ir.Table, family_cells: ir.Table) -> ir.Table:
    """Per truth record: linked, wrongly split, wrongly merged (persons by person, families by family)."""
    cells = ibis.union(
        person_cells.mutate(_cell_level=ibis.literal("person")),
        family_cells.mutate(_cell_level=ibis.literal("family")),
        distinct=False,
    )
    r = records.mutate(
        _pred=(records._level == "person").ifelse(records._pred_person, records._pred_family),
        _true=(records._level == "person").ifelse(records._true_person, records._true_family),
    )
    # a quarantined record is a cluster of its own; split and merged count linked records only
    j = r.left_join(cells, [r._level == cells._cell_level, r._pred == cells._pred, r._true == cells._true])
    linked = j._linked
    return j.select(
        *_KEY,
        "_level",
        "_errors",
        _is_linked=linked.ifelse(1, 0),
        _is_split=(linked & (j._n < j._true_size)).fill_null(False).ifelse(1, 0),
        _is_merged=(linked & (j._n < j._pred_size)).fill_null(False).ifelse(1, 0),
    )


def _misses(records: ir.Table, person_cells: ir.Table, family_cells: ir.Table) -> pa.Table:
    flags = _record_flags(records, person_cells, family_cells)
    no_errors = flags._errors.isnull() | (flags._errors.length() == 0)
    plain = flags.filter(no_errors).mutate(_kind=ibis.literal(NO_ERROR)).drop("_errors")
    planted = flags.filter(~no_errors).mutate(_kind=_._errors.unnest()).drop("_errors").distinct()
    kinds = ibis.union(plain, planted, distinct=False)
    agg = kinds.group_by([kinds._kind.name("kind"), kinds._level.name("level")]).aggregate(
        records=kinds.count(),
        linked=kinds._is_linked.sum(),
        split=kinds._is_split.sum(),
        merged=kinds._is_merged.sum(),
    )
    rows = agg.to_pyarrow().to_pylist()
    for row in rows:
        for c in ("records", "linked", "split", "merged"):
            row[c] = int(row[c] or 0)
        row["quarantined"] = row["records"] - row["linked"]
    rows.sort(key=lambda r: (LEVELS.index(r["level"]), r["kind"] == NO_ERROR, r["kind"]))
    schema = pa.schema([("kind", pa.string()), ("level", pa.string())] + [(c, pa.int64()) for c in _MISS_COUNTS])
    return pa.Table.from_pylist([{c: row[c] for c in schema.names} for row in rows], schema=schema)


@dataclass(frozen=True)
class FamilyAttachment:
    """Family-level records (PLN, programme lists, census households) and the family they went to."""

    records: int  # family-level truth records
    attached: int  # of which attached to some family
    right: int  # of which attached to the family most of their true family's person records are in

    @property
    def share(self) -> float:
        return self.right / self.records if self.records else 1.0

    def to_dict(self) -> dict[str, int | float]:
        return {"records": self.records, "attached": self.attached, "right": self.right,
                "share": round(self.share, _DIGITS)}  # fmt: skip


def family_attachment(links: ir.Table, truth_records: ir.Table) -> FamilyAttachment:
    """How many family-level records were attached to the right family: the predicted family
    that holds most of the person-level records of their true family."""
    t = truth_records.mutate(_sheet=_sheet_key(truth_records), row=truth_records.row.cast("int64"))
    t = t.select("source", "file", "_sheet", "row", _fam=t.family_id, _person=t.person_id)
    ln = links.mutate(_sheet=_sheet_key(links), row=links.row.cast("int64"))
    ln = ln.select(_l_source=ln.source, _l_file=ln.file, _l_sheet=ln._sheet, _l_row=ln.row, _pred=ln.family_id)
    j = t.left_join(ln, _link_predicates(t, ln))
    people = j.filter(j._person.notnull() & j._pred.notnull())
    votes = people.group_by(["_fam", "_pred"]).aggregate(_n=people.count())
    best = votes.mutate(_rank=ibis.row_number().over(group_by=votes._fam, order_by=[votes._n.desc(), votes._pred]))
    best = best.filter(best._rank == 0).select(_bfam="_fam", _best="_pred")
    fam = j.filter(j._person.isnull())
    fam = fam.left_join(best, fam._fam == best._bfam)
    agg = fam.aggregate(
        _records=fam.count(),
        _attached=fam._pred.notnull().ifelse(1, 0).sum(),
        _right=(fam._pred == fam._best).fill_null(False).ifelse(1, 0).sum(),
    ).to_pyarrow().to_pylist()[0]
    return FamilyAttachment(int(agg["_records"] or 0), int(agg["_attached"] or 0), int(agg["_right"] or 0))


@dataclass(frozen=True)
class SharedNiks:
    """NIKs that more than one golden person holds (issue 12's target: none whose names agree)."""

    niks: int  # NIKs held by two or more persons
    names_agree: int  # of which at least two holders' names agree (the deterministic pass's test)

    def to_dict(self) -> dict[str, int]:
        return {"niks": self.niks, "names_agree": self.names_agree}


def shared_niks(persons: ir.Table) -> SharedNiks:
    """Count the NIKs held by several golden persons (`persons`: person_id, nik, full_name), and
    those with two holders whose names agree by the deterministic pass's test on the standardized
    names (the same, the same sound, at most two edits or one in four letters, or one name's
    words inside the other's): one person split in two."""
    from dtsen.link.deterministic import names_agree
    from dtsen.standardize.names import standardize_name

    p = persons.filter(persons.nik.notnull())
    multi = p.group_by("nik").aggregate(_n=p.count())
    multi = multi.filter(multi._n > 1).select("nik")
    held = p.join(multi, "nik")
    std = standardize_name(held.full_name)
    held = held.select(pid=held.person_id, nik=held.nik, name=std.name, tokens=std.tokens, phonetic=std.phonetic)
    left = held.select(nik="nik", pid_l="pid", name="name", name_tokens="tokens", name_phonetic="phonetic")
    right = held.select(nik_r="nik", pid_r="pid", name_a="name", name_tokens_a="tokens", name_phonetic_a="phonetic")
    j = left.join(right, [left.nik == right.nik_r, left.pid_l < right.pid_r])
    agreeing = j.filter(names_agree(j) & j.name.notnull() & j.name_a.notnull()).select("nik").distinct()
    counts = ibis.union(
        multi.aggregate(_what=ibis.literal("niks"), _count=multi.count()),
        agreeing.aggregate(_what=ibis.literal("agree"), _count=agreeing.count()),
        distinct=False,
    )
    found = {r["_what"]: int(r["_count"] or 0) for r in counts.to_pyarrow().to_pylist()}
    return SharedNiks(niks=found.get("niks", 0), names_agree=found.get("agree", 0))


def _json_number(x: int | float) -> int | float:
    return round(x, _DIGITS) if isinstance(x, float) else int(x)
