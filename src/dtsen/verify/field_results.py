"""Field results: the ground-check form's submissions as a source, the most trusted one.

The officers fill in the XLSForm of `dtsen.verify.xlsform`; ODK Central or KoboToolbox export
the submissions as CSV or XLSX, one row per visit, with the form's field names as columns:

petugas              the officer id                      -> `officer`
tanggal_kunjungan    the visit date (YYYY-MM-DD)         -> `observed_at`
keluarga             the family_id of the release        -> `family_ref`
F_hasil              per welfare field F of WELFARE_FIELDS, the value the visit settles on
                     (the registry's when confirmed, the officer's when corrected) -> F
ditemukan, jumlah_meninggal, nama_meninggal, pindah, catatan
                     kept verbatim in staging (and in quarantine rows), not mapped; the workflow
                     acts on them through the kepala daerah's approval (`dtsen workflow
                     import-visits`: not found, moved, members deceased; dtsen.workflow.visits)

`field_source_mapping` (or `field_source_toml`) gives the `[sources.cek_lapangan]` section that
maps these columns, so a project adds its field results with one section. The source is
family level; `dtsen build` ingests it like any other source and checks each row against the
current release (`dtsen.ingest.validate`: the family must exist, the officer must be assigned
to the family's village when `[verify] officers` lists them, the visit may not be after the
source's `as_of`); a bad row lands in quarantine with its reasons and changes nothing. A good
row takes the release family's KK, so the linkage attaches it to that family; survivorship
ranks the source `cek_lapangan` above all others (`DEFAULT_ABOVE_ALL`), so the family's values
become the officer's, and provenance names the source, the visit date (observed_at) and the
record (record_key -> links -> file and row; the officer is in the record).

Column names by export (`ExportStyle`):

plain   the form's names as they are: `petugas`, `floor_type_hasil`. KoboToolbox with
        "Include groups in headers" off, or an export renamed by hand.
odk     ODK Central: a field in a group is prefixed with the group and `-`:
        `data_keluarga-floor_type_hasil`.
kobo    KoboToolbox with group names in headers: `data_keluarga/floor_type_hasil`.

Export the choices' names (XML values: `ya`, `KERAMIK`), not their labels. Booleans are `ya` /
`tidak`; dates YYYY-MM-DD (or Excel date cells in an XLSX export). Meta columns that the
servers add (`SubmissionDate`, `KEY`, `_uuid`, ...) are ignored.

`synthetic_field_results` writes such an export for a synthetic project (tests and the demo):
the true values of every verification candidate, and on request the damaged rows that the
ingest must quarantine.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dtsen.engine import Engine
from dtsen.verify.xlsform import NO, WELFARE_FIELDS, YES

SOURCE_NAME = "cek_lapangan"
FORM_GROUP = "data_keluarga"
OFFICERS_FILE = "petugas.csv"
ExportStyle = Literal["plain", "odk", "kobo"]
GROUP_SEPARATOR: dict[str, str] = {"odk": "-", "kobo": "/"}

# form field -> canonical family field, for the fields outside any group
TOP_FIELDS: dict[str, str] = {"petugas": "officer", "tanggal_kunjungan": "observed_at", "keluarga": "family_ref"}
# every column of a submission, in the form's order: (field name, group or "")
FORM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("petugas", ""),
    ("tanggal_kunjungan", ""),
    ("keluarga", ""),
    ("ditemukan", ""),
    *((f"{f.name}_hasil", FORM_GROUP) for f in WELFARE_FIELDS),
    ("jumlah_meninggal", FORM_GROUP),
    ("nama_meninggal", FORM_GROUP),
    ("pindah", ""),
    ("catatan", ""),
)
DATE_FORMATS = ["YYYY-MM-DD", "EXCEL_SERIAL"]
DAMAGED_REASONS = ("family_unknown", "visit_in_future", "officer_not_assigned", "family_ref_missing")


def column_name(field: str, group: str, style: ExportStyle = "plain") -> str:
    """The export's column for a form field: `field`, `group-field` (odk) or `group/field` (kobo)."""
    if style not in ("plain", "odk", "kobo"):
        raise ValueError(f"unknown export style {style!r}: use plain, odk or kobo")
    sep = GROUP_SEPARATOR.get(style)
    return f"{group}{sep}{field}" if group and sep else field


def form_columns(style: ExportStyle = "plain") -> dict[str, str]:
    """Export column -> canonical family field, for the columns a field-check source maps."""
    group = dict(FORM_COLUMNS)
    out = {column_name(name, group[name], style): field for name, field in TOP_FIELDS.items()}
    for f in WELFARE_FIELDS:
        out[column_name(f"{f.name}_hasil", FORM_GROUP, style)] = f.name
    return out


def field_source_mapping(path_pattern: str, as_of: dt.date, *, style: ExportStyle = "plain") -> dict[str, Any]:
    """The `[sources.cek_lapangan]` section (as a dict for `SourceMapping`) for an export of the
    ground-check form: `path_pattern` is the export's file or glob (relative to the project
    file), `as_of` the date of the export (a visit dated after it is quarantined)."""
    bools = [f.name for f in WELFARE_FIELDS if f.kind == "bool"]
    return {
        "level": "family",
        "files": [path_pattern],
        "format": "auto",
        "as_of": as_of,
        "description": "Hasil cek lapangan (ODK / KoboToolbox): the ground checks, the most trusted source",
        "columns": form_columns(style),
        "codes": {name: {YES: "true", NO: "false"} for name in bools},
        "date_formats": list(DATE_FORMATS),
        "trust": {f.name: 1.0 for f in WELFARE_FIELDS},
        "required": ["family_ref", "officer", "observed_at"],
    }


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) and not key.isdigit() else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def field_source_toml(
    path_pattern: str, as_of: dt.date, *, name: str = SOURCE_NAME, style: ExportStyle = "plain"
) -> str:
    """`field_source_mapping` as project-file text: one `[sources.<name>]` table to append."""
    m = field_source_mapping(path_pattern, as_of, style=style)
    lines = [
        "# Field results of the ground checks (ODK Central / KoboToolbox export): the most trusted",
        "# source. See dtsen.verify.field_results for the export's columns.",
        f"[sources.{_key(name)}]",
    ]
    tables = ("columns", "codes", "trust")
    lines += [f"{k} = {_value(v)}" for k, v in m.items() if k not in tables]
    lines += ["", f"[sources.{_key(name)}.columns]"]
    lines += [f"{_key(c)} = {_value(f)}" for c, f in m["columns"].items()]
    for field, codes in m["codes"].items():
        lines += ["", f"[sources.{_key(name)}.codes.{_key(field)}]"]
        lines += [f"{_key(raw)} = {_value(v)}" for raw, v in codes.items()]
    lines += ["", f"[sources.{_key(name)}.trust]"]
    lines += [f"{_key(f)} = {_value(v)}" for f, v in m["trust"].items()]
    return "\n".join(lines) + "\n"


# -- synthetic submissions -----------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticFieldResults:
    """What `synthetic_field_results` wrote.

    csv          the export (plain column names)
    officers     the officer list (officer,region_code), for `[verify] officers`
    submissions  the good rows: row (spreadsheet row: 2 is the first under the header),
                 family_id, region_code, officer, visit_date, found, and the welfare fields as
                 the visit settled them (typed, canonical)
    damaged      the damaged rows: row, family_ref (null when blank), reason (DAMAGED_REASONS)
    as_of        the release's as-of date (every good visit is before it)
    """

    csv: Path
    officers: Path
    submissions: pa.Table
    damaged: pa.Table
    as_of: dt.date


def officer_for(region_code: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The synthetic officer of a village: 'P' and the code's digits (P3204052001)."""
    digits = pc.replace_substring(region_code, ".", "")
    return pc.binary_join_element_wise(pa.scalar("P"), digits, "")


def _true_values(engine: Engine, release_dir: Path, truth_dir: Path) -> pa.Table:
    """The release's candidates with the welfare values of their true families."""
    from dtsen.link.evaluation import load_truth
    from dtsen.welfare.truth import golden_family_truth, load_truth_families

    cands = engine.read_parquet(release_dir / "verification_candidates.parquet")
    links = engine.read_parquet(release_dir / "links.parquet")
    golden = golden_family_truth(engine, links, load_truth(engine, truth_dir))
    g = golden.select(_gfid=golden.family_id.cast("int64"), _tfid=golden.true_family_id.cast("int64"))
    truth = load_truth_families(engine, truth_dir)
    tf = truth.select(_tf=truth.family_id.cast("int64"), **{f"_v_{f.name}": truth[f.name] for f in WELFARE_FIELDS})
    j = cands.left_join(g, cands.family_id.cast("int64") == g._gfid)
    j = j.left_join(tf, j._tfid == tf._tf)
    out = j.select(
        family_id=j.family_id.cast("int64"),
        region_code=j.region_code.cast("string"),
        found=j._tf.notnull(),
        **{f.name: j[f"_v_{f.name}"] for f in WELFARE_FIELDS},
    )
    return engine.con.to_pyarrow(out.order_by(["region_code", "family_id"]))


def _as_text(values: pa.ChunkedArray | pa.Array, kind: str) -> pa.Array | pa.ChunkedArray:
    if kind == "bool":
        return pc.if_else(values, YES, NO)
    return pc.cast(values, pa.string())


def _dates(as_of: dt.date, offsets: np.ndarray) -> pa.Array:
    base = np.datetime64(as_of.isoformat(), "D")
    return pa.array(base + offsets.astype("timedelta64[D]"), pa.date32())


def _damaged_rows(
    engine: Engine, release_dir: Path, good: pa.Table, officers: pa.Table, as_of: dt.date
) -> tuple[pa.Table, pa.Table]:
    """Four damaged submissions (in DAMAGED_REASONS order) and the officer list they need.

    They visit families that are not candidates (so their values must stay as they were),
    within the candidates' villages (whose officers are known), when there are such families."""
    f = engine.read_parquet(release_dir / "families.parquet")
    fams = engine.con.to_pyarrow(
        f.select(family_id=f.family_id.cast("int64"), region_code=f.region_code.cast("string")).order_by("family_id")
    )
    villages = officers.column("region_code")
    pool = fams.filter(
        pc.and_(pc.is_in(fams["region_code"], villages), pc.invert(pc.is_in(fams["family_id"], good["family_id"])))
    )
    if pool.num_rows < 2:
        pool = good.select(["family_id", "region_code"])
    first, second = pool.slice(0, 1), pool.slice(1, 1)
    others = officers.filter(pc.not_equal(officers["region_code"], second["region_code"][0]))
    if others.num_rows:
        stranger = others["officer"][0].as_py()
    else:  # one village only: an officer assigned elsewhere
        stranger = "PLAIN"
        officers = pa.concat_tables([officers, pa.table({"officer": [stranger], "region_code": ["00.00.00.0000"]})])
    unknown = int(pc.max(fams["family_id"]).as_py() or 0) + 1_000_000
    any_officer = officers["officer"][0].as_py()
    own = officer_for(pa.array([first["region_code"][0].as_py()]))[0].as_py()
    rows = pa.table(
        {
            "family_ref": pa.array(
                [unknown, first["family_id"][0].as_py(), second["family_id"][0].as_py(), None], pa.int64()
            ),
            "officer": [any_officer, own, stranger, any_officer],
            "visit_date": _dates(as_of, np.array([-1, 30, -2, -3])),
            "reason": list(DAMAGED_REASONS),
        }
    )
    return rows, officers


def synthetic_field_results(
    release_dir: Path,
    truth_dir: Path,
    out_csv: Path,
    *,
    damaged: bool,
    officers_csv: Path | None = None,
    engine: Engine | None = None,
) -> SyntheticFieldResults:
    """Write an export of the ground-check form for a synthetic project's release.

    One submission per verification candidate of the release (`release_dir`, e.g.
    releases/R0001), by the officer of its village (`officer_for`), dated 1 to 28 days before
    the release's as-of date (by family_id), with the TRUE values of the family (the true
    family of the golden family: `dtsen.welfare.truth.golden_family_truth` on the release's
    links and `truth_dir`); a candidate without a true family is `ditemukan = tidak`, with no
    values. The officer list (one officer per candidate village) goes to `officers_csv`
    (default: petugas.csv next to the export). With `damaged`, four rows follow, one per
    reason of DAMAGED_REASONS: a family id that does not exist, a visit dated 30 days after
    the as-of date, an officer not assigned to the family's village, and a blank family id.
    """
    release_dir, truth_dir, out_csv = Path(release_dir), Path(truth_dir), Path(out_csv)
    officers_path = Path(officers_csv) if officers_csv is not None else out_csv.parent / OFFICERS_FILE
    eng = engine or Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
        as_of = dt.date.fromisoformat(manifest["as_of"])
        good = _true_values(eng, release_dir, truth_dir)
        offsets = -(1 + good["family_id"].to_numpy() % 28)
        good = good.append_column("officer", officer_for(good["region_code"]))
        good = good.append_column("visit_date", _dates(as_of, offsets))
        villages = pc.unique(good["region_code"]).sort()
        officers = pa.table({"officer": officer_for(villages), "region_code": villages})
        bad = pa.table(
            {
                "family_ref": pa.array([], pa.int64()),
                "officer": pa.array([], pa.string()),
                "visit_date": pa.array([], pa.date32()),
                "reason": pa.array([], pa.string()),
            }
        )
        if damaged and good.num_rows:
            bad, officers = _damaged_rows(eng, release_dir, good, officers, as_of)
    finally:
        if engine is None:
            eng.close()
    found = good["found"]
    columns: dict[str, Any] = {
        "petugas": good["officer"],
        "tanggal_kunjungan": pc.cast(good["visit_date"], pa.string()),
        "keluarga": pc.cast(good["family_id"], pa.string()),
        "ditemukan": pc.if_else(found, YES, NO),
    }
    for f in WELFARE_FIELDS:
        columns[f"{f.name}_hasil"] = _as_text(good[f.name], f.kind)
    columns["jumlah_meninggal"] = pc.if_else(found, "0", pa.scalar(None, pa.string()))
    columns["pindah"] = pa.array([NO] * good.num_rows, pa.string())
    columns["catatan"] = pa.nulls(good.num_rows, pa.string())
    export = pa.table(columns)
    if bad.num_rows:
        template = export.slice(0, 1).to_pylist()[0]
        extra = [
            {
                **template,
                "petugas": o,
                "tanggal_kunjungan": d.isoformat(),
                "keluarga": None if ref is None else str(ref),
            }
            for ref, o, d in zip(
                bad["family_ref"].to_pylist(), bad["officer"].to_pylist(), bad["visit_date"].to_pylist(), strict=True
            )
        ]  # four rows: the damaged cases, not data
        export = pa.concat_tables([export, pa.Table.from_pylist(extra, schema=export.schema)])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    pa_csv.write_csv(export, out_csv)
    officers_path.parent.mkdir(parents=True, exist_ok=True)
    pa_csv.write_csv(officers, officers_path)
    n = good.num_rows
    submissions = good.select(
        ["family_id", "region_code", "officer", "visit_date", "found", *(f.name for f in WELFARE_FIELDS)]
    )
    submissions = submissions.add_column(0, "row", pa.array(np.arange(2, n + 2), pa.int64()))
    bad = bad.add_column(0, "row", pa.array(np.arange(n + 2, n + 2 + bad.num_rows), pa.int64()))
    return SyntheticFieldResults(csv=out_csv, officers=officers_path, submissions=submissions, damaged=bad, as_of=as_of)


__all__ = [
    "DAMAGED_REASONS",
    "SOURCE_NAME",
    "ExportStyle",
    "SyntheticFieldResults",
    "column_name",
    "field_source_mapping",
    "field_source_toml",
    "form_columns",
    "officer_for",
    "synthetic_field_results",
]
