"""A family's welfare: its decile and poverty flags, why it has its rank, and whether a programme
takes it.

The explanation is `dtsen.welfare.explain.explain_family` with the release's own PMT model
(`releases/<id>/model/<model_id>/`) and the predictor values written into the serving index
(`features.parquet`, computed from the release's persons and families as `dtsen rank` computes
them). Eligibility is `dtsen.welfare.targeting.eligibility` evaluated on the family's row: the
verdict is exactly the recipient list's, and each condition of the rule is evaluated alone the
same way, to say why.
"""

from __future__ import annotations

import threading
import types
import typing
from typing import Any

import pyarrow as pa

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import family_by_id
from dtsen.serve.models import (
    Condition,
    Contribution,
    Eligibility,
    Family,
    Programmes,
    RankExplanation,
    WelfareStatus,
)
from dtsen.welfare.settings import ProgrammeRule


class FamilyNotFoundError(DtsenError):
    """No family with this id in the release."""


def _family(h: ReleaseHandle, family_id: int) -> Family:
    record = family_by_id(h, family_id)
    if record is None:
        raise FamilyNotFoundError(f"keluarga {family_id} tidak ada di rilis {h.release_id} / "
                                  f"no family {family_id} in release {h.release_id}")
    return record.family


def welfare_status(h: ReleaseHandle, family_id: int) -> WelfareStatus:
    f = _family(h, family_id)
    return WelfareStatus(
        release_id=h.release_id, family_id=f.family_id, region_code=f.region_code, persons=f.size,
        decile=f.decile, decile_province=f.decile_province, decile_regency=f.decile_regency,
        rank_province=f.rank_province, rank_regency=f.rank_regency, predicted_consumption=f.predicted_consumption,
        poverty_line=f.poverty_line, extreme_line=f.extreme_line, poor=f.poor, extreme_poor=f.extreme_poor,
        ranked=f.decile is not None, model_id=f.model_id, programmes=Programmes(pkh=f.pkh, bpnt=f.bpnt, pbi_jk=f.pbi_jk),
    )


# -- a small engine per thread, for one-row evaluations ----------------------------------------------

_LOCAL = threading.local()


def local_engine() -> Engine:
    """An in-memory DuckDB engine of this thread (one thread, small memory), kept for reuse."""
    eng: Engine | None = getattr(_LOCAL, "engine", None)
    if eng is None:
        eng = Engine.duckdb(memory_limit="512MB", threads=1)
        _LOCAL.engine = eng
    return eng


_ARROW: dict[type, pa.DataType] = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}


def _arrow_type(annotation: Any) -> pa.DataType:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if isinstance(annotation, types.UnionType) and args else annotation
    return _ARROW.get(base, pa.string())


def family_row(f: Family) -> pa.Table:
    """The family as a one-row Arrow table typed like the release's ranked families (plus
    `persons`, the living members, as the ranking writes it)."""
    fields = [pa.field(name, _arrow_type(info.annotation)) for name, info in Family.model_fields.items()]
    schema = pa.schema([*fields, pa.field("persons", pa.int64())])
    row = {**f.model_dump(), "persons": f.size}
    return pa.Table.from_pylist([row], schema=schema)


# -- explanation ------------------------------------------------------------------------------------


def explain_rank(h: ReleaseHandle, family_id: int, engine: Engine | None = None) -> RankExplanation:
    """What places the family in its decile, predictor by predictor (see the module docstring)."""
    from dtsen.welfare.artefact import load_artefact
    from dtsen.welfare.explain import ExplainFamilyError, explain_family

    f = _family(h, family_id)
    model_id = f.model_id or (h.manifest.get("models") or {}).get("pmt")
    if h.release_dir is None or not model_id:
        raise ExplainFamilyError(f"release {h.release_id}: no PMT model to explain family {family_id} with")
    model = load_artefact(h.release_dir / "model" / str(model_id))
    own = engine is None
    eng = engine or Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        features = eng.read_parquet(h.features_path)
        ranking = eng.from_arrow(family_row(f), name="_serve_explain_row")
        ex = explain_family(eng, model, features, ranking, f.family_id)
    finally:
        if own:
            eng.close()
    return RankExplanation(
        release_id=h.release_id, family_id=ex.family_id, model_id=ex.model_id, base=ex.base,
        predicted_consumption=ex.predicted_consumption, decile=ex.decile, ranking=ex.ranking,
        contributions=[Contribution(predictor=c.predictor, value=c.value, contribution=c.contribution,
                                    average=c.average) for c in ex.contributions],
    )


# -- eligibility ------------------------------------------------------------------------------------


def _parts(rule: ProgrammeRule) -> list[tuple[str, Any, list[str], ProgrammeRule]]:
    """(condition, required, fields it reads, a rule with only that condition) for each part."""
    parts: list[tuple[str, Any, list[str], ProgrammeRule]] = [
        ("ranked", "ranked, with a living member", ["decile", "persons", "all_deceased"], ProgrammeRule()),
        ("deciles", list(rule.deciles), ["decile"], ProgrammeRule(deciles=rule.deciles)),
    ]
    if rule.any_of:
        parts.append(("any_of", list(rule.any_of), list(rule.any_of), ProgrammeRule(any_of=rule.any_of)))
    parts += [(f"minimum.{k}", v, [k], ProgrammeRule(minimum={k: v})) for k, v in rule.minimum.items()]
    parts += [(f"maximum.{k}", v, [k], ProgrammeRule(maximum={k: v})) for k, v in rule.maximum.items()]
    parts += [(f"equals.{k}", v, [k], ProgrammeRule(equals={k: v})) for k, v in rule.equals.items()]
    if rule.regions:
        parts.append(("regions", list(rule.regions), ["region_code"], ProgrammeRule(regions=rule.regions)))
    return parts


class UnknownProgrammeError(DtsenError):
    """The project has no programme of that name."""


def programme_rule(programmes: dict[str, ProgrammeRule], name: str) -> ProgrammeRule:
    """The rule of programme `name` from the settings' `[programmes.NAME]` sections."""
    rule = programmes.get(name)
    if rule is None:
        known = ", ".join(sorted(programmes)) or "none"
        raise UnknownProgrammeError(f"program {name!r} tidak dikenal / unknown programme {name!r}; known: {known}")
    return rule


def eligibility(h: ReleaseHandle, family_id: int, programme: str, rule: ProgrammeRule,
                engine: Engine | None = None) -> Eligibility:
    """Whether the programme's rule takes the family, and which conditions hold.

    `eligible` is the rule's verdict (the quota is not applied: it depends on every other
    family; the recipient list of `dtsen target` applies it). A family that is not ranked, or
    has no living member, is never eligible; its other conditions are then not evaluated
    (`met` is None)."""
    from dtsen.welfare.targeting import eligibility as rule_eligibility

    f = _family(h, family_id)
    eng = engine or local_engine()
    t = eng.from_arrow(family_row(f), name="_serve_family_row")  # replaced at each call: nothing piles up
    parts = _parts(rule)
    exprs = {"_all": rule_eligibility(t, rule, programme)}
    exprs.update({f"_p{i}": rule_eligibility(t, sub, programme) for i, (_, _, _, sub) in enumerate(parts)})
    result = t.select(**exprs).to_pyarrow().to_pylist()[0]
    values = {**f.model_dump(), "persons": f.size}
    ranked = bool(result["_p0"])
    conditions = []
    for i, (name, required, fields, _) in enumerate(parts):
        value: Any = values.get(fields[0]) if len(fields) == 1 else {k: values.get(k) for k in fields}
        met = bool(result[f"_p{i}"]) if (ranked or i == 0) else None
        conditions.append(Condition(condition=name, required=required, value=value, met=met))
    eligible = bool(result["_all"])
    if eligible:
        reason = "memenuhi semua syarat / meets every condition"
    elif not ranked:
        reason = "keluarga tidak diperingkat atau tanpa anggota hidup / not ranked, or no living member"
    else:
        failed = ", ".join(c.condition for c in conditions if c.met is False)
        reason = f"tidak memenuhi / fails: {failed}"
    return Eligibility(release_id=h.release_id, family_id=f.family_id, programme=programme, eligible=eligible,
                       decile=f.decile, conditions=conditions, reason=reason)
