"""The registry as one source alone would have it: the value of integration as a number.

`dtsen evaluate welfare` ranks the integrated registry and, for comparison, what the best
single family-level source (Regsosek, DTKS, P3KE, ...) would give on its own. This module builds
that single-source view of the golden families:

- a golden family is in it only when the source has a record linked to it; the families the
  source does not cover are absent, so the evaluation counts them as unranked;
- the family attributes (dwelling, utilities, assets, programme memberships and the stated
  household size: SOURCE_FIELDS) come from that source's record alone, as the source last saw
  them: its record with the latest `observed_at` (ties: the smallest file, sheet and row). A
  field the source does not have is null;
- the composition (size, children, elderly, ..., head_person_id, head_sex) and the KK, region,
  address, RT/RW and survey consumption, weight and reported head (`reported_head_*`) stay the golden
  ones: composition is a property of the linked persons, and only the family attributes are swapped. `sources` is 1 and `records`
  counts the source's records of the family.

The result has the columns of the golden families table, so that
`dtsen.welfare.predictors.family_features` takes it unchanged.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.config import Settings
from dtsen.consolidate.families import FAMILY_GOLDEN_FIELDS
from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.link.evaluation import _sheet_key

# Golden fields kept from the registry: identity and location, and the survey's measurement.
KEPT_FIELDS: frozenset[str] = frozenset(
    {"kk", "region_code", "address", "rt", "rw", "consumption_per_capita", "survey_weight",
     "reported_head_sex", "reported_head_age", "reported_head_education"}
)
# The family attributes a single source supplies.
SOURCE_FIELDS: tuple[str, ...] = tuple(f for f in FAMILY_GOLDEN_FIELDS if f not in KEPT_FIELDS)
# The welfare fields: what a source must know (at least MIN_WELFARE_FIELDS of) to rank families.
WELFARE_FIELDS: tuple[str, ...] = tuple(
    f for f in SOURCE_FIELDS if f not in {"household_size", "pkh", "bpnt", "pbi_jk"}
)
MIN_WELFARE_FIELDS = 5
_RECORD_COLUMNS = ("source", "file", "sheet", "row")


class SingleSourceError(DtsenError):
    """The single-source view cannot be built: unknown source, or its records are missing."""


def family_sources(settings: Settings) -> list[str]:
    """The candidates for "best single source": the family-level sources whose mapping has at
    least MIN_WELFARE_FIELDS of WELFARE_FIELDS, in project-file order. The welfare survey
    (`[welfare] survey`) is left out: it is the model's training sample, not a registry."""
    out = []
    for name, src in settings.sources.items():
        if src.level != "family" or name == settings.welfare.survey:
            continue
        if len(set(src.columns.values()) & set(WELFARE_FIELDS)) >= MIN_WELFARE_FIELDS:
            out.append(name)
    return out


def load_source_records(engine: Engine, settings: Settings, source: str) -> ir.Table:
    """The accepted records of one family-level source, as ingest wrote them
    (WORK/ingest/records/SOURCE)."""
    src = settings.sources.get(source)
    if src is None:
        raise SingleSourceError(f"unknown source {source!r}; the project file has: {', '.join(settings.sources)}")
    if src.level != "family":
        raise SingleSourceError(
            f"source {source!r} is {src.level}-level ({settings.where('sources', source, 'level')}): "
            "a single-source view needs a family-level source"
        )
    path = settings.work_dir / "ingest" / "records" / source
    if not any(path.glob("*.parquet")):
        raise SingleSourceError(f"no ingested records for source {source!r} under {path} (run `dtsen ingest` first)")
    return engine.read_parquet(path)


def _latest_records(links: ir.Table, staged: ir.Table, source: str) -> ir.Table:
    """Per golden family: `_fid`, `_records` (the source's records of it) and `_s_FIELD` (each of
    SOURCE_FIELDS the records have) of the source's latest record."""
    missing = [c for c in (*_RECORD_COLUMNS, "observed_at") if c not in staged.columns]
    if missing:
        raise SingleSourceError(f"the records of source {source!r} lack the column(s) {', '.join(missing)}")
    s = staged.filter(staged.source == source)
    s = s.mutate(_sheet=_sheet_key(s), _row=s.row.cast("int64"))
    fam = links.filter((links.source == source) & links.family_id.notnull())
    lk = fam.select(
        _l_file=fam.file, _l_sheet=_sheet_key(fam), _l_row=fam.row.cast("int64"), _fid=fam.family_id.cast("int64")
    )
    j = s.inner_join(lk, [s.file == lk._l_file, s._sheet == lk._l_sheet, s._row == lk._l_row])
    order = [j.observed_at.isnull().ifelse(1, 0), j.observed_at.desc(), j._row, j.file, j._sheet]
    j = j.mutate(
        _r=ibis.row_number().over(ibis.window(group_by=j._fid, order_by=order)),
        _records=j._fid.count().over(ibis.window(group_by=j._fid)),
    )
    top = j.filter(j._r == 0)
    present = [f for f in SOURCE_FIELDS if f in top.columns]
    return top.select("_fid", "_records", **{"_s_" + f: top[f] for f in present})


def single_source_families(
    engine: Engine, links: ir.Table, staged: ir.Table, golden_families: ir.Table, source: str
) -> ir.Table:
    """The golden families covered by `source`, with the family attributes (SOURCE_FIELDS) of
    that source's latest record and everything else kept from `golden_families`; same columns
    and types as `golden_families`."""
    latest = engine.materialize(_latest_records(links, staged, source))
    g = golden_families
    j = g.inner_join(latest, g.family_id.cast("int64") == latest._fid)
    columns: dict[str, ir.Value] = {}
    for name, dtype in g.schema().items():
        if name in SOURCE_FIELDS:
            value = j["_s_" + name] if "_s_" + name in j.columns else ibis.null(dtype)
            columns[name] = value.cast(dtype)
        elif name == "sources":
            columns[name] = ibis.literal(1).cast(dtype)
        elif name == "records":
            columns[name] = j._records.cast(dtype)
        else:
            columns[name] = j[name]
    return j.select(**columns)
