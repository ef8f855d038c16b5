"""`dtsen sources check`: how well each source's mapping fits its files, on a sample of rows.

The first `rows` data rows of each file are read and checked exactly as ingest checks them
(the same readers, layout and validation, on the engine), but nothing is written to the project.
For every mapped field the check counts the sampled values that are not blank and how many of
them gave a value (a code that translates, a number in range, a date that exists, a NIK that is
not damaged, a known village), and lists the most common values that did not; it lists the
columns of the files that no mapping uses, and the files that cannot be read or lack a mapped
column. A mapped field whose values mostly fail (`FAIL_SHARE`) fails the check.

Values are shown without personal data: NIK- and KK-like numbers masked (`3204********0002`),
dates by their shape (`99-99-9999`), free text (names, addresses) never.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.errors import InputFileError
from dtsen.ingest.check_tables import RegionTables
from dtsen.ingest.masking import mask_digits
from dtsen.ingest.pipeline import (
    FileFailure,
    StagedSource,
    file_column_problems,
    file_encoding,
    file_label,
    load_regions,
    resolve_files,
)
from dtsen.ingest.readers import ReadOptions, stage_file
from dtsen.ingest.reasons import severities
from dtsen.ingest.validate import check_source
from dtsen.mapping import SourceMapping, template_columns

FAIL_SHARE = 0.5  # a mapped field with fewer of its values parsing than this fails the check
SHOWN = 5  # unparsed values shown per field
# The output column that says whether a field's value was read.
_OUTPUT = {"full_name": "name"}
_FREE_TEXT = {"full_name", "address", "birth_place", "occupation", "village_name", "officer"}
_DATES = {"birth_date", "death_date", "observed_at"}
_IDENTIFIERS = {"nik", "kk", "family_ref"}


@dataclass
class FieldCheck:
    """One mapped field on the sample: where it comes from, and how much of it parses."""

    name: str  # the canonical field
    source_columns: list[str]  # the columns it is read from ([] for a constant)
    how: str  # "column", "compose", "constant", "value_flags", "inherit"
    values: int = 0  # sampled values that are not blank
    parsed: int = 0  # ... that gave a value
    unparsed: list[tuple[str, int]] = field(default_factory=list)  # most common failures, shown safely

    @property
    def share(self) -> float | None:
        return self.parsed / self.values if self.values else None

    @property
    def fails(self) -> bool:
        return self.values > 0 and self.parsed < FAIL_SHARE * self.values


@dataclass
class SourceCheck:
    source: str
    level: str
    rows: int = 0  # sampled rows
    fields: list[FieldCheck] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # file columns no mapping uses
    problems: list[str] = field(default_factory=list)  # files that cannot be read or lack columns

    @property
    def failing(self) -> list[FieldCheck]:
        return [f for f in self.fields if f.fails]

    @property
    def ok(self) -> bool:
        return not self.failing and not self.problems


def shown(field_name: str, value: str) -> str:
    """A sampled value as it may be printed: identifiers masked, dates by shape, no free text."""
    if field_name in _FREE_TEXT:
        return "(teks / text)"
    text = value if len(value) <= 40 else value[:40] + "…"
    if field_name in _DATES:
        return re.sub(r"[0-9]", "9", text)
    if field_name in _IDENTIFIERS:
        return mask_digits(text)
    return mask_digits(text, min_digits=12)  # a region code or a number stays readable


def _field_origins(src: SourceMapping) -> list[FieldCheck]:
    """Every field the mapping gives, with the columns it is read from."""
    out: dict[str, FieldCheck] = {}
    for column, f in src.columns.items():
        out[f] = FieldCheck(f, [column], "column")
    for f, template in src.compose.items():
        out[f] = FieldCheck(f, template_columns(template), "compose")
    for f in src.constants:
        out[f] = FieldCheck(f, [], "constant")
    for column, names in src.flag_fields().items():
        for f in names:
            out[f] = FieldCheck(f, [column], "value_flags")
    if src.kind is not None:
        for f in src.kind.inherit:
            out.setdefault(f, FieldCheck(f, [], "inherit"))
    return list(out.values())


def check_sources(settings: Settings, engine: Engine, only: Sequence[str] | None = None,
                  rows: int = 1000) -> list[SourceCheck]:
    """Check every source (or the named ones) on the first `rows` rows of each of its files."""
    files = resolve_files(settings, only)
    named = any("village_name" in settings.sources[name].mapped_fields() for name in files)
    regions = RegionTables.build(engine, load_regions(settings), names=named)
    out: list[SourceCheck] = []
    with tempfile.TemporaryDirectory(prefix="dtsen-check-") as tmp:
        staged_by_key: dict[tuple[str, ...], StagedSource] = {}
        for i, (name, paths) in enumerate(files.items()):
            src = settings.sources[name]
            result = SourceCheck(name, src.level)
            out.append(result)
            key = tuple(str(p) for p in paths)
            base = staged_by_key.get(key) if src.kind is not None else None
            if base is None:
                base = _stage_sample(settings, name, paths, Path(tmp) / str(i), rows)
                staged_by_key[key] = base
            parent = settings.sources.get(src.kind.parent) if src.kind and src.kind.parent else None
            staged = StagedSource(name, src, base.files, base.failed, parent)
            for failure in staged.failed:
                result.problems.append(f"{failure.label}: {failure.detail}")
            fitting = []
            for label, sf in staged.files:
                problems = file_column_problems(settings, name, src, label, sf)
                result.problems += [str(p) for p in problems]
                if not problems:
                    fitting.append((label, sf))
                used = set(src.source_columns())
                result.unmapped += [c for c in sf.columns if c not in used and c not in result.unmapped]
            result.fields = _field_origins(src)
            if fitting:
                _measure(engine, settings, StagedSource(name, src, fitting, [], parent), regions, result)
    return out


def _stage_sample(settings: Settings, name: str, paths: list[Path], out: Path, rows: int) -> StagedSource:
    src = settings.sources[name]
    staged = []
    failed = []
    for j, path in enumerate(paths):
        options = ReadOptions(format=src.format, delimiter=src.delimiter, encoding=file_encoding(settings, src, path),
                              sheet=src.sheet, header_row=src.header_row, chunk_rows=max(rows, 1000), max_rows=rows)
        try:
            staged.append((file_label(settings, path), stage_file(path, out / str(j), options)))
        except InputFileError as e:
            failed.append(FileFailure(file_label(settings, path), "file_unreadable", str(e)))
    return StagedSource(name, src, staged, failed)


def _measure(engine: Engine, settings: Settings, staged: StagedSource, regions: RegionTables,
             result: SourceCheck) -> None:
    """Fill each field's counts from the checked sample."""
    src = staged.mapping
    raw = engine.materialize(staged.raw(engine))
    checked = check_source(engine, raw, staged.name, src, regions, severity=severities(settings.ingest.severity),
                           max_age=settings.ingest.max_age, excel_zero_share=settings.ingest.excel_zero_share,
                           ranges=settings.ingest.field_ranges())
    outputs = set(checked.columns)
    r = raw.select(_f=raw._file, _s=raw._sheet.fill_null(""), _r=raw._row,
                   **{f"_raw_{c.name}": raw[c.name] for c in result.fields if c.name in raw.columns})
    j = engine.materialize(checked.inner_join(r, [checked.file == r._f, checked.sheet.fill_null("") == r._s,
                                                  checked.row == r._r]))
    result.rows = int(j.count().execute())
    for fc in result.fields:
        out_col = _OUTPUT.get(fc.name, fc.name)
        raw_col = f"_raw_{fc.name}"
        if raw_col not in j.columns or out_col not in outputs:
            continue
        given = j[raw_col].notnull() & (j[raw_col].strip() != "")
        failed = given & j[out_col].isnull()
        counts = j.aggregate(n=given.sum(), bad=failed.sum()).to_pyarrow().to_pylist()[0]
        fc.values = int(counts["n"] or 0)
        fc.parsed = fc.values - int(counts["bad"] or 0)
        if counts["bad"]:
            top = (j.filter(failed).group_by(_v=j[raw_col]).aggregate(_n=ibis._.count())
                   .order_by([ibis.desc("_n"), "_v"]).limit(200).to_pyarrow().to_pylist())
            merged: dict[str, int] = {}  # values shown alike (dates by shape) counted together
            for t in top:
                key = shown(fc.name, str(t["_v"]))
                merged[key] = merged.get(key, 0) + int(t["_n"])
            fc.unparsed = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:SHOWN]
