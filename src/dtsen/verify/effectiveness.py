"""How many true errors a ground-check campaign finds: the risk score against chance.

Measured on the synthetic truth that `dtsen synth` writes (truth/records.parquet,
truth/persons.parquet, truth/families.parquet). `true_errors` says, per golden family worth a
visit (`dtsen.verify.risk.checkable`), whether its record holds a true error that matters,
and which kinds (";"-joined, in the order of ERROR_KINDS):

no_true_family        the golden family maps to no true family (`golden_family_truth`:
                      none of its records has a true family);
duplicate             another golden family keeps its true family (a duplicate family);
deceased_listed_alive a member the registry lists alive truly died (golden person -> true
                      person by majority vote of its linked person records, ties: the smaller
                      true person id; the true person's is_deceased);
recipient_all_died    the registry lists the family as a recipient (PKH, BPNT or PBI-JK) while
                      all members of its true family died (true living_members = 0);
stale_village         the true family moved (truth families `moved`) and the registry's village
                      is not the true one;
eligibility_flip      predicted decile <= 4 but true decile > 4, or the reverse (true deciles of
                      `family_truth`; a family without both is not counted here);
welfare_field         a welfare field of WELFARE_FIELDS (the ones the form confirms) differs from
                      the true family's, a missing registry value included.

Columns: family_id, error (any kind but eligibility_flip: the record itself is wrong),
misranked (eligibility_flip: the record may be right and the PMT wrong), kinds, region_code
(the registry's village, for the all-random draw). The issue asks for errors of the record
("this record is probably wrong in a way that matters"), so `error` is the headline;
`effectiveness(..., include_misranking=True)` counts misranked families as found errors too.

`effectiveness(candidates, errors)` counts, among the candidates' "risk" visits and among their
"random" visits, the visits to a family with a true error, per 100 visits, and their ratio.
Because the random share of a campaign is small, it also draws an all-random campaign of the
same size: per village, as many families as the village has candidates, drawn from the
village's families in `errors` by the same hash order as `draw_candidates` (MD5 of
"<seed>:<family_id>"), and gives its rate and the risk rate's ratio to it. Issue 5's target is a
ratio of at least 3 (`target_met` uses the all-random draw, the larger sample).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.link.evaluation import TruthError, load_truth
from dtsen.release.tables import ReleaseTables
from dtsen.verify.campaign import RANDOM, RISK, random_key
from dtsen.verify.risk import checkable, receives_any
from dtsen.verify.xlsform import WELFARE_FIELDS
from dtsen.welfare.truth import family_truth, golden_family_truth, load_truth_families

ERROR_KINDS: tuple[str, ...] = (
    "no_true_family",
    "duplicate",
    "deceased_listed_alive",
    "recipient_all_died",
    "stale_village",
    "eligibility_flip",
    "welfare_field",
)
ERROR_COLUMNS: tuple[str, ...] = ("family_id", "error", "misranked", "kinds", "region_code")
# The PMT's own misranking: not an error of the record, which a visit corrects only by
# re-measuring the family; counted apart (see the module docstring).
MISRANKED = "eligibility_flip"
TARGET_RATIO = 3.0
ELIGIBLE_UP_TO = 4
PERSONS_FILE = "persons.parquet"


def load_truth_persons(engine: Engine, truth_dir: Path) -> ir.Table:
    """The true persons written by `dtsen synth` (`truth_dir` is DIR/truth or DIR itself)."""
    truth_dir = Path(truth_dir)
    candidates = [truth_dir / PERSONS_FILE, truth_dir / "truth" / PERSONS_FILE]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise TruthError(f"no true persons at {candidates[0]}: the effectiveness works on data made by `dtsen synth`")
    table = engine.read_parquet(path)
    missing = [c for c in ("person_id", "is_deceased") if c not in table.columns]
    if missing:
        raise TruthError(f"{path}: the true persons lack the column(s) {', '.join(missing)}")
    return table


def _person_truth(engine: Engine, links: ir.Table, truth_records: ir.Table) -> ir.Table:
    """Per golden person: its true person (majority of its linked person records)."""
    t = truth_records.filter(truth_records.person_id.notnull())
    t = t.select(
        _ts=t.source.cast("string"),
        _tf=t.file.cast("string"),
        _tsh=t.sheet.cast("string").fill_null(""),
        _tr=t.row.cast("int64"),
        _tpid=t.person_id.cast("int64"),
    )
    lk = links.filter(links.person_id.notnull())
    j = lk.join(
        t,
        [
            lk.source == t._ts,
            lk.file == t._tf,
            lk.sheet.cast("string").fill_null("") == t._tsh,
            lk.row.cast("int64") == t._tr,
        ],
    )
    votes = j.group_by(_gpid=j.person_id.cast("int64"), _tpid=j._tpid).aggregate(_n=j.count())
    w = ibis.window(group_by=votes._gpid, order_by=[votes._n.desc(), votes._tpid])
    best = votes.mutate(_r=ibis.row_number().over(w))
    return engine.materialize(best.filter(best._r == 0).select("_gpid", "_tpid"))


def _set(t: ir.Table, fid: ir.IntegerValue, flag: str) -> ir.Table:
    s = t.select(_fid=fid.cast("int64")).distinct()
    return s.select(**{f"_{flag}_fid": s._fid, flag: ibis.literal(True)})


def true_errors(engine: Engine, tables: ReleaseTables, truth_dir: Path) -> ir.Table:
    """Per checkable golden family: family_id, error, kinds, region_code (module docstring)."""
    truth_records = load_truth(engine, truth_dir)
    truth_families = load_truth_families(engine, truth_dir)
    truth_persons = load_truth_persons(engine, truth_dir)
    golden = engine.materialize(golden_family_truth(engine, tables.links, truth_records))
    deciles = family_truth(engine, tables.links, truth_records, truth_families, golden=golden)
    deciles = deciles.filter(deciles.family_id.notnull()).select(_dfid="family_id", _true_decile="true_decile")

    ptruth = _person_truth(engine, tables.links, truth_records)
    tp = truth_persons.select(_tp_id=truth_persons.person_id.cast("int64"), _tdead=truth_persons.is_deceased)
    p = tables.persons.filter(tables.persons.family_id.notnull() & ~tables.persons.is_deceased.fill_null(False))
    p = p.join(ptruth, p.person_id.cast("int64") == ptruth._gpid).join(tp, ptruth._tpid == tp._tp_id)
    p = p.filter(p._tdead.fill_null(False))
    dead_alive = _set(p, p.family_id, "deceased_listed_alive")

    tf = truth_families.select(
        _tf_id=truth_families.family_id.cast("int64"),
        _t_living=truth_families.living_members.cast("int64"),
        _t_moved=truth_families.moved.fill_null(False) if "moved" in truth_families.columns else ibis.literal(False),
        _t_region=truth_families.region_code.cast("string"),
        **{f"_t_{f.name}": truth_families[f.name] for f in WELFARE_FIELDS},
    )
    fam = tables.families.select(
        _gf_id=tables.families.family_id.cast("int64"),
        **{f"_g_{f.name}": tables.families[f.name] for f in WELFARE_FIELDS},
    )

    r = tables.ranking.filter(checkable(tables.ranking))
    r = r.mutate(_receives=receives_any(r))
    g = golden.select(_g_fid=golden.family_id, _true_fid=golden.true_family_id, _dup=golden.duplicate)
    j = r.left_join(g, r.family_id == g._g_fid)
    j = j.left_join(tf, j._true_fid == tf._tf_id)
    j = j.left_join(fam, j.family_id == fam._gf_id)
    j = j.left_join(deciles, j.family_id == deciles._dfid)
    j = j.left_join(dead_alive, j.family_id == dead_alive._deceased_listed_alive_fid)

    differs: ir.BooleanValue = ibis.literal(False)
    for f in WELFARE_FIELDS:
        gv, tv = j[f"_g_{f.name}"], j[f"_t_{f.name}"]
        differs = differs | (tv.notnull() & (gv.isnull() | (gv != tv)).fill_null(True))
    predicted_in = j.decile <= ELIGIBLE_UP_TO
    truly_in = j._true_decile <= ELIGIBLE_UP_TO
    mapped = j._true_fid.notnull()
    kinds: dict[str, ir.BooleanValue] = {
        "no_true_family": ~mapped,
        "duplicate": j._dup.fill_null(False),
        "deceased_listed_alive": j.deceased_listed_alive.fill_null(False),
        "recipient_all_died": mapped & j._receives & (j._t_living == 0).fill_null(False),
        "stale_village": mapped & j._t_moved.fill_null(False) & (j.region_code != j._t_region).fill_null(True),
        "eligibility_flip": (predicted_in != truly_in).fill_null(False),
        "welfare_field": mapped & differs,
    }
    j = j.mutate(**{f"_k_{k}": v.fill_null(False) for k, v in kinds.items()})
    any_error: ir.BooleanValue = ibis.literal(False)
    named: ir.StringValue = ibis.literal("", "string")
    for k in ERROR_KINDS:
        if k != MISRANKED:
            any_error = any_error | j[f"_k_{k}"]
        named = named.concat(ibis.ifelse(j[f"_k_{k}"], ibis.literal(k + ";"), ibis.literal("")))
    return j.select(
        family_id=j.family_id.cast("int64"),
        error=any_error,
        misranked=j[f"_k_{MISRANKED}"],
        kinds=named.re_replace(";$", ""),
        region_code=j.region_code.cast("string"),
    )


def _rate(found: int, visits: int) -> float | None:
    return None if visits == 0 else round(100.0 * found / visits, 6)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 6)


def _kind_counts(kinds: ir.StringValue) -> dict[str, ir.IntegerScalar]:
    padded = ibis.literal(";").concat(kinds, ibis.literal(";"))
    return {f"_n_{k}": padded.contains(f";{k};").cast("int64").sum() for k in ERROR_KINDS}


def effectiveness(
    candidates: ir.Table, errors: ir.Table, *, seed: int = 42, include_misranking: bool = False
) -> dict[str, Any]:
    """True errors found per 100 visits: risk visits, random visits, an all-random draw of the
    same size (per village), and the ratios. `seed` is the draw's (`VerifySettings.seed`).

    Keys: risk_visits, risk_found, risk_per_100, random_visits, random_found, random_per_100,
    ratio (risk / random), all_random_visits, all_random_found, all_random_per_100,
    ratio_all_random (risk / all-random), by_kind (per error kind: risk_per_100 and
    all_random_per_100, visits to a family with that kind), target (3.0), target_met
    (ratio_all_random >= 3).
    A rate over no visits, and a ratio over a zero or missing rate, is None. With
    `include_misranking`, a misranked family (the PMT's error) counts as a found error too."""
    if include_misranking:
        errors = errors.mutate(error=errors.error.fill_null(False) | errors.misranked.fill_null(False))
    e = errors.select(
        _efid=errors.family_id.cast("int64"), _err=errors.error.fill_null(False), _kinds=errors.kinds.fill_null("")
    )
    c = candidates.left_join(e, candidates.family_id.cast("int64") == e._efid)
    by_sel = c.group_by(_sel=c.selection).aggregate(
        _visits=c.count(), _found=c._err.fill_null(False).cast("int64").sum(), **_kind_counts(c._kinds)
    )
    per_sel = {row["_sel"]: row for row in by_sel.to_pyarrow().to_pylist()}
    counts = {sel: (int(row["_visits"]), int(row["_found"] or 0)) for sel, row in per_sel.items()}

    size = candidates.group_by(_v=candidates.region_code).aggregate(_k=candidates.count())
    pool = errors.mutate(_key=random_key(errors.family_id, seed))
    w = ibis.window(group_by=pool.region_code, order_by=[pool._key, pool.family_id])
    pool = pool.mutate(_pos=ibis.row_number().over(w))
    drawn = pool.join(size, pool.region_code == size._v)
    drawn = drawn.filter(drawn._pos < drawn._k)
    totals = drawn.aggregate(
        _visits=drawn.count(),
        _found=drawn.error.fill_null(False).cast("int64").sum(),
        **_kind_counts(drawn.kinds.fill_null("")),
    )
    row = totals.to_pyarrow().to_pylist()[0]
    all_visits, all_found = int(row["_visits"] or 0), int(row["_found"] or 0)

    risk_visits, risk_found = counts.get(RISK, (0, 0))
    random_visits, random_found = counts.get(RANDOM, (0, 0))
    risk_rate = _rate(risk_found, risk_visits)
    random_rate = _rate(random_found, random_visits)
    all_rate = _rate(all_found, all_visits)
    ratio_all = _ratio(risk_rate, all_rate)
    return {
        "risk_visits": risk_visits,
        "risk_found": risk_found,
        "risk_per_100": risk_rate,
        "random_visits": random_visits,
        "random_found": random_found,
        "random_per_100": random_rate,
        "ratio": _ratio(risk_rate, random_rate),
        "all_random_visits": all_visits,
        "all_random_found": all_found,
        "all_random_per_100": all_rate,
        "ratio_all_random": ratio_all,
        "by_kind": {
            k: {
                "risk_per_100": _rate(int(per_sel.get(RISK, {}).get(f"_n_{k}") or 0), risk_visits),
                "all_random_per_100": _rate(int(row[f"_n_{k}"] or 0), all_visits),
            }
            for k in ERROR_KINDS
        },
        "target": TARGET_RATIO,
        "target_met": ratio_all is not None and ratio_all >= TARGET_RATIO,
    }
