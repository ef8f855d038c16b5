"""Risk signals: which golden families are probably wrong in a way that matters (issue 5, section 3).

`risk_signals` gives one row per family worth a ground check: every ranked family with a
living member, plus the families whose members all died but that still receive a programme.
Each signal is a boolean column; `score` is the weighted sum of the signals that fired
(weights from `settings.verify.weights`, laid over `DEFAULT_WEIGHTS`); `signals` names the
signals that fired, ";"-joined in the order of `SIGNALS` ("" when none did).

The signals, precisely ("member" is a golden person whose `family_id` is the family's):

conflict                 a conflict row (trusted sources disagree, `dtsen.consolidate.conflicts`)
                         on the family itself (entity "family") or on one of its members
                         (entity "person"), whatever the field.
low_confidence_link      a member's record was linked by Splink (links: level "person", method
                         "splink") with match_probability < LOW_CONFIDENCE (0.95), or a member's
                         record was linked by a clerical review decision (method "review").
stale                    the family's newest observation is older than
                         `settings.quality.stale_after_days` before the registry's as-of date.
                         The newest observation is the latest `observed_at` of any accepted record
                         linked to the family or to one of its members (`tables.records` joined to
                         `tables.links` on source, file, sheet and row), or of any surviving value
                         of the family or its members (`tables.provenance`), whichever is later. A
                         family with no dated observation at all is stale.
suspected_deceased       any of: a conflict row on a member's `is_deceased`; a member whose
                         surviving `is_deceased` is held by fewer sources than hold a value for it
                         (provenance: agreeing_sources < candidate_sources: one source reports a
                         death that another does not); a living member older than 100 years on
                         the as-of date with no record from a civil-registry source (the sources
                         of `settings.survivorship.deaths_from`, Dukcapil); a member whose
                         relationship is KEPALA_KELUARGA and who is deceased; or the family's
                         members all deceased (`all_deceased`).
rich_recipient           receives PKH, BPNT or PBI-JK and is ranked in national desil 6-10.
poor_not_receiving       extremely poor by predicted consumption (`extreme_poor`) and receives
                         none of PKH, BPNT, PBI-JK.
near_threshold           predicted consumption within NEAR_SHARE (5%) of a programme threshold:
                         |c - t| <= 0.05 * t for t the largest predicted consumption ranked in
                         desil 4 (the PKH / sembako boundary) or in desil 5 (the PBI-JK boundary),
                         both taken over the whole ranking.
implausible_composition  among the living members: no member with relationship KEPALA_KELUARGA,
                         more than one, one aged under 16; more than 15 living members; or a child
                         (under 15) with no member aged ADULT_FROM (17) or more. Families without
                         a living member never have this signal (they have suspected_deceased).
incomplete_welfare       the golden family lacks at least INCOMPLETE_FROM (3) of the dwelling and
                         asset fields of INCOMPLETE_FIELDS: its rank rests on imputed values (no
                         source has described its house), so a visit is the only way to rank it.
uncertain_poverty        the family's probability of being under the poverty line (`p_poor`) or the
                         extreme-poverty line (`p_extreme`), from its prediction and the model's
                         residual spread (`dtsen.welfare.probability`), lies in UNCERTAIN (0.2 to
                         0.8): the model cannot tell which side of the line it is on, and a visit
                         can (a family at 0.45 is a case; one at 0.95 is poor for sure and one at
                         0.02 surely not). A ranking without these columns never has the signal.

Ages are completed years on the registry's as-of date (`tables.as_of`). Everything runs on the
engine as joins and group-bys, identically on DuckDB and Spark.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from dtsen.config import Settings
from dtsen.consolidate.families import age_on
from dtsen.engine import Engine, as_float64, as_int64
from dtsen.errors import SettingsError
from dtsen.release.tables import ReleaseTables, linked_record_dates

SIGNALS: tuple[str, ...] = (
    "conflict",
    "low_confidence_link",
    "stale",
    "suspected_deceased",
    "rich_recipient",
    "poor_not_receiving",
    "near_threshold",
    "implausible_composition",
    "incomplete_welfare",
    "uncertain_poverty",
)
INCOMPLETE_FIELDS: tuple[str, ...] = (
    "floor_area", "floor_type", "wall_type", "roof_type", "water_source", "sanitation", "lighting",
    "cooking_fuel", "has_motorbike", "has_fridge", "has_land",
)  # fmt: skip
INCOMPLETE_FROM = 3
# Default weights: roughly how often a visit prompted by the signal found a true error that
# matters, measured on the synthetic `make demo` regency (seed 42; errors as defined in
# `dtsen.verify.effectiveness`), with a floor for the signals about money going to the wrong
# family. Measured there (record errors and misranking together): incomplete_welfare and stale
# found an error on every visit; near a programme threshold, 44%; an implausible composition,
# 42%; a rich recipient, 39%; a suspected death, 31%; a conflict between sources, 26% (the base
# rate of all families: 25%). A project re-weighs them from its own field results with
# `[verify] weights`.
DEFAULT_WEIGHTS: dict[str, float] = {
    "conflict": 0.5,
    "low_confidence_link": 1.0,
    "stale": 3.0,
    "suspected_deceased": 1.5,
    "rich_recipient": 1.5,
    "poor_not_receiving": 2.0,
    "near_threshold": 1.5,
    "implausible_composition": 1.5,
    "incomplete_welfare": 3.0,
    # not yet measured in the field: as near_threshold, whose question (which side of a line) it asks
    "uncertain_poverty": 1.5,
}
RISK_COLUMNS: tuple[str, ...] = ("family_id", "region_code", "kk", "decile", "persons", *SIGNALS, "score", "signals")

HEAD = "KEPALA_KELUARGA"
LOW_CONFIDENCE = 0.95
NEAR_SHARE = 0.05
RICH_FROM_DECILE = 6
OLDEST_UNCONFIRMED = 100
YOUNGEST_HEAD = 16
LARGEST_FAMILY = 15
CHILD_BELOW = 15
ADULT_FROM = 17
PROGRAMMES: tuple[str, ...] = ("pkh", "bpnt", "pbi_jk")
UNCERTAIN = (0.2, 0.8)


class RiskSettingsError(SettingsError):
    """`[verify] weights` names a signal that does not exist."""


def signal_weights(settings: Settings) -> dict[str, float]:
    """The weight of every signal: `settings.verify.weights` over `DEFAULT_WEIGHTS`."""
    given = settings.verify.weights
    unknown = sorted(set(given) - set(SIGNALS))
    if unknown:
        raise RiskSettingsError(
            f"{settings.where('verify', 'weights')}: unknown risk signal(s) {', '.join(unknown)} "
            f"(known: {', '.join(SIGNALS)})"
        )
    return {s: float(given.get(s, DEFAULT_WEIGHTS[s])) for s in SIGNALS}


def receives_any(t: ir.Table) -> ir.BooleanValue:
    """The family receives PKH, BPNT or PBI-JK."""
    out: ir.BooleanValue = ibis.literal(False)
    for p in PROGRAMMES:
        out = out | t[p].fill_null(False)
    return out


def checkable(ranking: ir.Table) -> ir.BooleanValue:
    """A ranked family worth a visit: it has a living member, or all died and it still receives."""
    return (ranking.persons.fill_null(0) > 0) | (ranking.all_deceased.fill_null(False) & receives_any(ranking))


def _family_set(ids: ir.IntegerValue, flag: str) -> ir.Table:
    """Distinct family ids as a (family_id, flag=True) table to left-join."""
    t = ids.name("_fid").as_table().distinct()
    t = t.filter(t._fid.notnull())
    return t.select(**{f"_{flag}_fid": t._fid.cast("int64"), flag: ibis.literal(True)})


def _members(tables: ReleaseTables) -> ir.Table:
    p = tables.persons.filter(tables.persons.family_id.notnull())
    return p.select(
        person_id=p.person_id.cast("int64"),
        _mfid=p.family_id.cast("int64"),
        _dead=p.is_deceased.fill_null(False),
        _head=(p.relationship == HEAD).fill_null(False),
        _age=age_on(p.birth_date, tables.as_of),
    )


def _person_family(t: ir.Table) -> ir.IntegerValue:
    """For rows of `t` with (entity, id): the family the row is about (itself, or its person's)."""
    return ibis.ifelse(t.entity == "family", t.id.cast("int64"), t._mfid)


def _with_member_family(t: ir.Table, members: ir.Table) -> ir.Table:
    m = members.select(_pid=members.person_id, _mfid=members._mfid)
    return t.left_join(m, (t.entity == "person") & (t.id.cast("int64") == m._pid))


def _conflict_families(tables: ReleaseTables, members: ir.Table) -> tuple[ir.Table, ir.Table]:
    c = _with_member_family(tables.conflicts, members)
    fid = _person_family(c)
    any_conflict = _family_set(fid, "conflict")
    deaths = c.filter((c.entity == "person") & (c.field == "is_deceased"))
    death_conflict = _family_set(deaths._mfid, "death_conflict")
    return any_conflict, death_conflict


def _low_link_families(tables: ReleaseTables) -> ir.Table:
    lk = tables.links
    weak = (lk.method == "splink") & (lk.match_probability < LOW_CONFIDENCE)
    low = lk.filter((lk.level == "person") & (weak | (lk.method == "review")).fill_null(False))
    return _family_set(low.family_id, "low_confidence_link")


def _newest_observation(tables: ReleaseTables, members: ir.Table) -> ir.Table:
    pv = _with_member_family(tables.provenance, members)
    seen = pv.select(_fid=_person_family(pv), _seen=pv.observed_at.cast("date"))
    parts = [seen]
    dates = linked_record_dates(tables)
    if dates is not None:
        parts.append(dates.select(_fid=dates.family_id, _seen=dates.observed_at))
    allseen = ibis.union(*parts, distinct=False) if len(parts) > 1 else seen
    allseen = allseen.filter(allseen._fid.notnull())
    return allseen.group_by(_ob_fid=allseen._fid).aggregate(_newest=allseen._seen.max())


def _member_flags(tables: ReleaseTables, members: ir.Table, registry: list[str]) -> ir.Table:
    lk = tables.links.filter(tables.links.person_id.notnull() & tables.links.source.isin(registry or [""]))
    confirmed = lk.select(_cpid=lk.person_id.cast("int64")).distinct().mutate(_confirmed=ibis.literal(True))
    m = members.left_join(confirmed, members.person_id == confirmed._cpid)
    living = ~m._dead
    old_unconfirmed = living & (m._age > OLDEST_UNCONFIRMED).fill_null(False) & m._confirmed.isnull()

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.fill_null(False).cast("int64").sum()

    return m.group_by(_mf_fid=m._mfid).aggregate(
        _heads=count(living & m._head),
        _young_heads=count(living & m._head & (m._age < YOUNGEST_HEAD)),
        _children=count(living & (m._age < CHILD_BELOW)),
        _adults=count(living & (m._age >= ADULT_FROM)),
        _old_unconfirmed=count(old_unconfirmed),
        _dead_heads=count(m._dead & m._head),
    )


def _death_disagreement(tables: ReleaseTables, members: ir.Table) -> ir.Table:
    pv = tables.provenance
    pv = pv.filter(
        (pv.entity == "person")
        & (pv.field == "is_deceased")
        & (pv.agreeing_sources.fill_null(0) < pv.candidate_sources.fill_null(0))
    )
    j = _with_member_family(pv, members)
    return _family_set(j._mfid, "death_disagreement")


def _flags(t: ir.Table, name: str) -> ir.BooleanValue:
    return t[name].fill_null(False)


def risk_signals(engine: Engine, tables: ReleaseTables, settings: Settings) -> ir.Table:
    """One row per checkable family (see `checkable`): RISK_COLUMNS (module docstring)."""
    weights = signal_weights(settings)
    members = _members(tables)
    registry = list(settings.survivorship.deaths_from)
    cutoff = tables.as_of - dt.timedelta(days=settings.quality.stale_after_days)

    r = tables.ranking
    pc = r.predicted_consumption.cast("float64")
    whole = ibis.window()
    r = r.mutate(
        _t4=ibis.ifelse(r.decile == 4, pc, ibis.null("float64")).max().over(whole),
        _t5=ibis.ifelse(r.decile == 5, pc, ibis.null("float64")).max().over(whole),
        _pc=pc,
        _receives=receives_any(r),
    )
    r = r.filter(checkable(r))

    any_conflict, death_conflict = _conflict_families(tables, members)
    low = _low_link_families(tables)
    newest = _newest_observation(tables, members)
    mflags = _member_flags(tables, members, registry)
    disagreement = _death_disagreement(tables, members)

    j = r.left_join(any_conflict, r.family_id == any_conflict._conflict_fid)
    j = j.left_join(death_conflict, j.family_id == death_conflict._death_conflict_fid)
    j = j.left_join(low, j.family_id == low._low_confidence_link_fid)
    j = j.left_join(newest, j.family_id == newest._ob_fid)
    j = j.left_join(mflags, j.family_id == mflags._mf_fid)
    j = j.left_join(disagreement, j.family_id == disagreement._death_disagreement_fid)
    fam = tables.families
    missing = sum(
        (fam[f].isnull().cast("int64") for f in INCOMPLETE_FIELDS if f in fam.columns), ibis.literal(0, "int64")
    )
    incomplete = fam.select(_inc_fid=fam.family_id, _missing=missing)
    j = j.left_join(incomplete, j.family_id == incomplete._inc_fid)

    def near(t: ir.FloatingValue) -> ir.BooleanValue:
        return (j._pc - t).abs() <= t * NEAR_SHARE

    living = j.persons.fill_null(0) > 0
    heads = j._heads.fill_null(0)
    uncertain: ir.BooleanValue = ibis.literal(False)
    for column in ("p_poor", "p_extreme"):
        if column in j.columns:
            p = j[column].cast("float64")
            uncertain = uncertain | ((p >= UNCERTAIN[0]) & (p <= UNCERTAIN[1])).fill_null(False)
    head_age_young = (j.head_age < YOUNGEST_HEAD).fill_null(False)
    signals: dict[str, ir.BooleanValue] = {
        "conflict": _flags(j, "conflict"),
        "low_confidence_link": _flags(j, "low_confidence_link"),
        "stale": (j._newest < cutoff).fill_null(True),
        "suspected_deceased": (
            _flags(j, "death_conflict")
            | _flags(j, "death_disagreement")
            | (j._old_unconfirmed.fill_null(0) > 0)
            | (j._dead_heads.fill_null(0) > 0)
            | j.all_deceased.fill_null(False)
        ),
        "rich_recipient": j._receives & (j.decile >= RICH_FROM_DECILE).fill_null(False),
        "poor_not_receiving": j.extreme_poor.fill_null(False) & ~j._receives,
        "near_threshold": (j._pc.notnull() & (near(j._t4).fill_null(False) | near(j._t5).fill_null(False))),
        "implausible_composition": living
        & (
            (heads != 1)
            | (j._young_heads.fill_null(0) > 0)
            | head_age_young
            | (j.persons > LARGEST_FAMILY)
            | ((j._children.fill_null(0) > 0) & (j._adults.fill_null(0) == 0))
        ),
        "incomplete_welfare": living & (j._missing.fill_null(len(INCOMPLETE_FIELDS)) >= INCOMPLETE_FROM),
        "uncertain_poverty": living & uncertain,
    }
    j = j.mutate(**{name: cond.fill_null(False) for name, cond in signals.items()})
    score: ir.FloatingValue = ibis.literal(0.0, "float64")
    named: ir.StringValue = ibis.literal("", "string")
    for name in SIGNALS:
        score = score + ibis.ifelse(j[name], ibis.literal(weights[name], "float64"), ibis.literal(0.0, "float64"))
        named = named.concat(ibis.ifelse(j[name], ibis.literal(name + ";"), ibis.literal("")))
    return j.select(
        family_id=j.family_id.cast("int64"),
        region_code=j.region_code.cast("string"),
        kk=j.kk.cast("string"),
        decile=as_int64(j.decile),
        persons=as_int64(j.persons),
        **{name: j[name] for name in SIGNALS},
        score=as_float64(score.round(6)),
        signals=named.re_replace(";$", ""),
    )
