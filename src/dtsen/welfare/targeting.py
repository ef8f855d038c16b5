"""Programme targeting: a rule as one Ibis condition, the recipient list within quota, a simulation.

A programme rule (`ProgrammeRule`, section `[programmes.NAME]` of the project file) is data;
this module turns it into expressions over the ranked-families table written by
`dtsen.welfare.ranking` (one row per golden family).

Eligible    every condition of the rule holds: national decile within `deciles`; at least one
            `any_of` count above zero; each `minimum` / `maximum` bound (inclusive); each
            `equals` value; region code starting with one of `regions`. A null value fails
            its condition. A family with a null decile or predicted consumption (unranked),
            with all members deceased, or with no living member (persons = 0) is never
            eligible.
Priority    poorest first: predicted_consumption ascending, ties by family_id ascending, the
            same order on every engine.
Quota       strict priority order: families are taken in priority order while the cumulative
            units (families, or persons when unit = "person") stay within the quota; the first
            family that does not fit closes the list, and every family after it stays out even
            if it would fit on its own (a smaller family later never jumps a poorer family
            that missed out). As every unit count is at least 1, this is exactly
            `cumulative_units <= quota`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from dtsen.engine import Engine, as_int64
from dtsen.errors import DtsenError, ProblemLog
from dtsen.export import Column, Kind, write_csv_batches
from dtsen.welfare.settings import ProgrammeRule

# Columns of the ranked table that every rule reads, whatever it names.
BASE_COLUMNS: tuple[str, ...] = (
    "family_id",
    "decile",
    "predicted_consumption",
    "persons",
    "all_deceased",
    "region_code",
)
RECIPIENT_COLUMNS: tuple[str, ...] = (
    "programme",
    "priority",
    "family_id",
    "kk",
    "region_code",
    "regency_code",
    "district_code",
    "decile",
    "predicted_consumption",
    "persons",
    "units",
    "cumulative_units",
    "within_quota",
)
# Headers of the CSV for people (Excel at a district office); the Parquet keeps the English names.
CSV_HEADERS: dict[str, str] = {
    "programme": "program",
    "priority": "prioritas",
    "family_id": "id_keluarga",
    "kk": "no_kk",
    "region_code": "kode_desa",
    "regency_code": "kode_kabupaten_kota",
    "district_code": "kode_kecamatan",
    "decile": "desil",
    "predicted_consumption": "perkiraan_pengeluaran_per_kapita",
    "persons": "jumlah_anggota",
    "units": "jumlah_unit",
    "cumulative_units": "kumulatif_unit",
}
# Codes Excel would turn into numbers or dates (a 16-digit KK loses its last digits; "11.01.01"
# becomes a date): written as ="..." in the CSV so that Excel keeps them as text.
CSV_TEXT_COLUMNS: tuple[str, ...] = ("kk", "region_code", "regency_code", "district_code")
# Fields that are the registry's estimate of welfare itself: the truth replaces them when the
# exclusion error is measured (see `simulate`).
WELFARE_FIELDS: frozenset[str] = frozenset(
    {
        "predicted_consumption",
        "decile",
        "decile_province",
        "decile_regency",
        "rank_province",
        "rank_regency",
        "poor",
        "extreme_poor",
    }
)
TRUTH_COLUMNS: tuple[str, ...] = ("family_id", "true_decile", "true_extreme_poor", "true_persons")
_REGION_PREFIX = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


class TargetingError(DtsenError):
    """A programme rule cannot be applied: it names a missing field, or a value of the wrong kind."""


# -- eligibility ------------------------------------------------------------------------------


def _named_fields(rule: ProgrammeRule) -> list[tuple[str, str]]:
    """(part, field) for every field the rule names."""
    return [("any_of", f) for f in rule.any_of] + [
        (part, f) for part in ("minimum", "maximum", "equals") for f in getattr(rule, part)
    ]


def _equals_fits(dtype: dt.DataType, value: str | bool | int) -> bool:
    if dtype.is_boolean():
        return isinstance(value, bool)
    if dtype.is_string():
        return isinstance(value, str)
    if dtype.is_numeric():
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def check_rule(ranked: ir.Table, name: str, rule: ProgrammeRule) -> None:
    """Raise `TargetingError` listing every field of the rule that `ranked` cannot answer."""
    log = ProblemLog()
    schema = ranked.schema()
    where = f"programme {name!r}" if name else "programme rule"
    for column in BASE_COLUMNS:
        if column not in schema:
            log.add(f"the ranked table has no column {column!r}, which every rule reads", where=where)
    for part, fname in _named_fields(rule):
        if fname not in schema:
            log.add(
                f"{part} names field {fname!r}, which is not a column of the ranked table",
                where=where,
                hint=f"columns: {', '.join(ranked.columns)}",
            )
            continue
        dtype = schema[fname]
        if part in ("any_of", "minimum", "maximum") and not dtype.is_numeric():
            log.add(f"{part} needs a number field; {fname!r} is {dtype}", where=where)
        if part == "equals" and not _equals_fits(dtype, rule.equals[fname]):
            log.add(f"equals gives {rule.equals[fname]!r} for field {fname!r}, which is {dtype}", where=where)
    for prefix in rule.regions:
        if not _REGION_PREFIX.match(prefix):
            log.add(f"region prefix {prefix!r} is not a region code such as '32' or '32.04' or '32.04.01'", where=where)
    log.raise_if_any(TargetingError, f"{where} cannot be applied to the ranked table")


def _conditions(ranked: ir.Table, rule: ProgrammeRule, *, welfare: bool) -> ir.BooleanValue:
    """The rule's field conditions (any_of, minimum, maximum, equals, regions), each null-safe;
    with `welfare` False, conditions on WELFARE_FIELDS are left out."""
    conds: list[ir.BooleanValue] = []
    keep = (lambda f: True) if welfare else (lambda f: f not in WELFARE_FIELDS)
    counts = [ranked[f] > 0 for f in rule.any_of if keep(f)]
    if counts:
        conds.append(ibis.or_(*counts))
    conds += [ranked[f] >= v for f, v in rule.minimum.items() if keep(f)]
    conds += [ranked[f] <= v for f, v in rule.maximum.items() if keep(f)]
    conds += [ranked[f] == ibis.literal(v, type=ranked[f].type()) for f, v in rule.equals.items() if keep(f)]
    if rule.regions:
        conds.append(ibis.or_(*[ranked.region_code.startswith(p) for p in rule.regions]))
    # each condition alone is filled: a null value fails its own condition, not its neighbours'
    return ibis.and_(ibis.literal(True), *[c.fill_null(False) for c in conds])


def _ranked_and_alive(ranked: ir.Table) -> ir.BooleanValue:
    """Ranked (decile and a finite predicted consumption) with a living member."""
    pc_ = ranked.predicted_consumption.cast("float64")
    ok = (
        ranked.decile.notnull()
        & pc_.notnull()
        & ~pc_.isnan()
        & ~pc_.isinf()
        & (ranked.persons > 0)
        & ~ranked.all_deceased
    )
    return ok.fill_null(False)


def eligibility(ranked: ir.Table, rule: ProgrammeRule, name: str = "") -> ir.BooleanValue:
    """Whether each family of `ranked` is eligible for the programme (never null).

    Raises `TargetingError` when the rule names a field that is not a column of `ranked`, gives
    an `equals` value of the wrong kind, or has a malformed region prefix.
    """
    check_rule(ranked, name, rule)
    lo, hi = rule.deciles
    in_deciles = ranked.decile.between(lo, hi).fill_null(False)
    return _ranked_and_alive(ranked) & in_deciles & _conditions(ranked, rule, welfare=True)


# -- the recipient list -----------------------------------------------------------------------


def select_recipients(ranked: ir.Table, name: str, rule: ProgrammeRule) -> ir.Table:
    """The eligible families in priority order, with the quota applied (RECIPIENT_COLUMNS).

    programme         the programme's name
    priority          1, 2, ... in priority order (poorest first, ties by family_id)
    units             1 (unit = "family") or persons (unit = "person")
    cumulative_units  units of this family and of every family before it
    within_quota      cumulative_units <= quota (strict priority order, see the module
                      docstring); True for every family when the rule has no quota

    Every eligible family is listed, also those beyond the quota, so that the waiting list is
    known; the recipients are the rows with within_quota.
    """
    missing = [c for c in ("kk", "regency_code", "district_code") if c not in ranked.columns]
    if missing:
        raise TargetingError(f"programme {name!r}: the ranked table lacks the column(s) {', '.join(missing)}")
    t = ranked.filter(eligibility(ranked, rule, name))
    units = t.persons.cast("int64") if rule.unit == "person" else as_int64(ibis.literal(1, type="int64"))
    t = t.mutate(_units=units)
    order = [t.predicted_consumption, t.family_id]
    priority = ibis.row_number().over(ibis.window(order_by=order)) + 1
    cumulative = t._units.sum().over(ibis.cumulative_window(order_by=order))
    t = t.mutate(_priority=as_int64(priority), _cumulative=as_int64(cumulative))
    within = ibis.literal(True) if rule.quota is None else t._cumulative <= rule.quota
    out = t.select(
        programme=ibis.literal(name, type="string"),
        priority=t._priority,
        family_id=t.family_id.cast("int64"),
        kk=t.kk.cast("string"),
        region_code=t.region_code.cast("string"),
        regency_code=t.regency_code.cast("string"),
        district_code=t.district_code.cast("string"),
        decile=t.decile.cast("int64"),
        predicted_consumption=t.predicted_consumption.cast("float64"),
        persons=t.persons.cast("int64"),
        units=t._units,
        cumulative_units=t._cumulative,
        within_quota=within,
    )
    return out.order_by("priority")


# -- the simulation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegencyCoverage:
    regency_code: str
    families: int
    persons: int
    units: int
    cost: float


@dataclass(frozen=True)
class TruthComparison:
    """The list against the true welfare; shares are None when their denominator is zero."""

    inclusion_error: float | None
    exclusion_error: float | None
    extreme_poor_coverage: float | None
    covered_persons: int
    covered_persons_outside: int
    target_persons: int
    target_persons_excluded: int
    target_persons_missing: int
    extreme_poor_persons: int
    extreme_poor_persons_covered: int


@dataclass(frozen=True)
class Simulation:
    """What a recipient list does: who is covered, what it costs, and (with a truth) its errors."""

    programme: str
    unit: str
    deciles: tuple[int, int]
    quota: int | None
    benefit: float
    eligible_families: int
    eligible_persons: int
    families: int
    persons: int
    units: int
    cost: float
    by_regency: list[RegencyCoverage] = field(default_factory=list)
    truth: TruthComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deciles"] = list(self.deciles)
        return data


def _row(table: ir.Table) -> dict[str, Any]:
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows[0]


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _compare_truth(covered: ir.Table, rule: ProgrammeRule, truth: ir.Table, ranked: ir.Table) -> TruthComparison:
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise TargetingError(f"the truth table lacks the column(s) {', '.join(missing)}; it needs {TRUTH_COLUMNS}")
    lo, hi = rule.deciles
    tr = truth.select(
        _t_id=truth.family_id.cast("int64"),
        _t_decile=truth.true_decile.cast("int64"),
        _t_extreme=truth.true_extreme_poor.fill_null(False),
        _t_persons=truth.true_persons.cast("int64").fill_null(0),
    )
    cov = covered.select(_c_id=covered.family_id, _c_persons=covered.persons)

    # inclusion: covered persons (as the registry counts them) whose true decile is outside
    inc = cov.left_join(tr, cov._c_id == tr._t_id)
    outside = ~inc._t_decile.between(lo, hi).fill_null(False)
    a = _row(
        inc.aggregate(
            persons=inc._c_persons.sum(),
            outside=outside.ifelse(inc._c_persons, 0).sum(),
        )
    )

    # exclusion: true persons in the deciles who meet the rule's other conditions, not covered
    meets = ranked.select(_r_id=ranked.family_id.cast("int64"), _r_meets=_conditions(ranked, rule, welfare=False))
    keys = cov.select(_k_id=cov._c_id)
    ex = tr.left_join(meets, tr._t_id == meets._r_id)
    ex = ex.left_join(keys, ex._t_id == keys._k_id)
    absent = ex._r_id.isnull()
    target = ex._t_decile.between(lo, hi).fill_null(False) & (absent | ex._r_meets.fill_null(False))
    covered_flag = ex._k_id.notnull()
    b = _row(
        ex.aggregate(
            target=target.ifelse(ex._t_persons, 0).sum(),
            excluded=(target & ~covered_flag).ifelse(ex._t_persons, 0).sum(),
            missing=(target & absent).ifelse(ex._t_persons, 0).sum(),
            extreme=ex._t_extreme.ifelse(ex._t_persons, 0).sum(),
            extreme_covered=(ex._t_extreme & covered_flag).ifelse(ex._t_persons, 0).sum(),
        )
    )
    covered_persons, covered_outside = _int(a["persons"]), _int(a["outside"])
    target_persons, excluded = _int(b["target"]), _int(b["excluded"])
    extreme, extreme_covered = _int(b["extreme"]), _int(b["extreme_covered"])
    return TruthComparison(
        inclusion_error=_share(covered_outside, covered_persons),
        exclusion_error=_share(excluded, target_persons),
        extreme_poor_coverage=_share(extreme_covered, extreme),
        covered_persons=covered_persons,
        covered_persons_outside=covered_outside,
        target_persons=target_persons,
        target_persons_excluded=excluded,
        target_persons_missing=_int(b["missing"]),
        extreme_poor_persons=extreme,
        extreme_poor_persons_covered=extreme_covered,
    )


def simulate(
    recipients: ir.Table,
    rule: ProgrammeRule,
    truth: ir.Table | None = None,
    *,
    ranked: ir.Table | None = None,
) -> Simulation:
    """Coverage and cost of a recipient list (from `select_recipients`), and its errors.

    Covered families are the rows with within_quota. families, persons and units count them
    (persons as the registry counts them); cost = benefit x units (Rp per year);
    eligible_families / eligible_persons count every eligible row, also beyond the quota;
    by_regency splits the covered figures by regency_code.

    With `truth` (one row per true family: family_id, null when the registry missed the
    family; true_decile; true_extreme_poor; true_persons) and `ranked` (the ranked table the
    list was drawn from, needed to evaluate the rule's conditions), persons counted as:

    inclusion_error        covered persons whose family's true_decile is outside the rule's
                           deciles (or who have no true family: the registry's family is not in
                           the truth), over covered persons. Weights: the registry's persons.
    exclusion_error        target persons not covered, over target persons. The target group is
                           the true families whose true_decile is within the rule's deciles and
                           that meet the rule's non-welfare conditions (any_of, minimum, maximum,
                           equals on fields outside WELFARE_FIELDS, and regions), evaluated on
                           the family's row in `ranked`, a null value failing; a true family that
                           is not in `ranked` (null family_id, or an id the ranked table lacks) is
                           in the target group when its true_decile is within the deciles.
                           Weights: true_persons.
    extreme_poor_coverage  covered true_persons of the truly extremely poor families, over all
                           true_persons of the truly extremely poor (whatever the rule says).

    A share whose denominator is zero is None. Raises `TargetingError` when `truth` lacks a
    column or is given without `ranked`.
    """
    within = recipients.within_quota
    totals = _row(
        recipients.aggregate(
            programme=recipients.programme.max(),
            eligible_families=recipients.count(),
            eligible_persons=recipients.persons.sum(),
            families=within.ifelse(1, 0).sum(),
            persons=within.ifelse(recipients.persons, 0).sum(),
            units=within.ifelse(recipients.units, 0).sum(),
        )
    )
    covered = recipients.filter(within)
    per = covered.group_by("regency_code").aggregate(
        families=covered.count(), persons=covered.persons.sum(), units=covered.units.sum()
    )
    regencies = [
        RegencyCoverage(
            regency_code=r["regency_code"],
            families=_int(r["families"]),
            persons=_int(r["persons"]),
            units=_int(r["units"]),
            cost=rule.benefit * _int(r["units"]),
        )
        for r in per.order_by("regency_code").to_pyarrow().to_pylist()
    ]
    comparison = None
    if truth is not None:
        if ranked is None:
            raise TargetingError(
                "simulate: a truth table needs the ranked table too (ranked=...), "
                "to evaluate the rule's conditions on the families it missed"
            )
        comparison = _compare_truth(covered, rule, truth, ranked)
    units = _int(totals["units"])
    return Simulation(
        programme=totals["programme"] or "",
        unit=rule.unit,
        deciles=rule.deciles,
        quota=rule.quota,
        benefit=rule.benefit,
        eligible_families=_int(totals["eligible_families"]),
        eligible_persons=_int(totals["eligible_persons"]),
        families=_int(totals["families"]),
        persons=_int(totals["persons"]),
        units=units,
        cost=rule.benefit * units,
        by_regency=regencies,
        truth=comparison,
    )


# -- writing ----------------------------------------------------------------------------------


def _csv_columns(excel_text: bool) -> list[Column]:
    """The CSV columns: Indonesian headers, codes kept as text in Excel when `excel_text`."""
    code: Kind = "code" if excel_text else "text"
    return [
        Column(header, code if name in CSV_TEXT_COLUMNS else "text" if name == "programme" else "number", key=name)
        for name, header in CSV_HEADERS.items()
    ]


def _whole_rupiah(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with predicted consumption in whole Rupiah."""
    i = batch.schema.get_field_index("predicted_consumption")
    rounded = pc.cast(pc.round(batch.column(i)), pa.int64())
    return batch.set_column(i, "predicted_consumption", rounded)


def write_recipients(
    engine: Engine,
    recipients: ir.Table,
    simulation: Simulation,
    out_dir: Path,
    *,
    excel_text: bool = True,
) -> dict[str, Path]:
    """Write the within-quota list and the simulation into `out_dir` (one directory per programme).

    parquet     recipients.parquet/ (a directory, as `Engine.write_parquet` writes), every
                RECIPIENT_COLUMNS column under its English name, in priority order
    csv         recipients.csv, written by `dtsen.export` (UTF-8 with a byte-order mark, CRLF, no
                cell a formula): comma-delimited, Indonesian headers (CSV_HEADERS), predicted consumption in
                whole Rupiah, and, with `excel_text`, KK and region codes written as ="..." so
                that Excel keeps them as text (it would round a 16-digit KK and read "11.01.01"
                as a date); within_quota is left out (every row is within the quota)
    simulation  simulation.json: `simulation.to_dict()`
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    listed = recipients.filter(recipients.within_quota).select(*RECIPIENT_COLUMNS)
    parquet = engine.write_parquet(listed, out / "recipients.parquet", order_by=["priority"])
    files = sorted(str(f) for f in parquet.glob("*.parquet"))
    csv_path = out / "recipients.csv"
    batches = pads.dataset(files, format="parquet").to_batches() if files else ()
    write_csv_batches(csv_path, _csv_columns(excel_text), (_whole_rupiah(b) for b in batches))
    json_path = out / "simulation.json"
    json_path.write_text(json.dumps(simulation.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"parquet": parquet, "csv": csv_path, "simulation": json_path}
