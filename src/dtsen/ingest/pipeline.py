"""The front of the pipeline: files -> staged strings -> typed, standardized records + quarantine.

For every source in the project file: find its files, stream each into a staged Parquet file
(every cell verbatim), map its columns onto the canonical fields, parse, standardize and check
everything on the engine, then write the accepted records and the quarantine, and prove the
row accounting. Outputs under the project's work directory:

    ingest/records/<source>/      accepted records of the source's level (Parquet)
    ingest/quarantine/<source>/   rejected rows with reasons and their raw values (Parquet)
    ingest/report.json, .csv      row accounting per source and file

A source that maps `family_ref` holds field results (see `dtsen.verify.field_results`): its
rows are checked against the CURRENT release of the project's release store (its
`families.parquet`) and, when `[verify] officers` names a CSV (officer,region_code), against
the officers' villages. Without a current release every such row is `family_unknown`.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.config import Settings, SourceMapping, source_warnings
from dtsen.engine import Engine
from dtsen.errors import AccountingError, InputFileError, MappingError, Problem, ProblemLog, SettingsError
from dtsen.ingest.accounting import FileCount, IngestReport, SourceCount
from dtsen.ingest.check_tables import FieldCheckTables, RegionTables
from dtsen.ingest.layout import raw_table
from dtsen.ingest.masking import mask_digits
from dtsen.ingest.quarantine import checked_rejects, reader_rejects
from dtsen.ingest.readers import ReadOptions, StagedFile, detect_format, stage_file
from dtsen.ingest.reasons import severities
from dtsen.ingest.title_rows import header_row_hint
from dtsen.ingest.validate import check_source
from dtsen.ingest.value_lookups import name_lookup
from dtsen.reference.regions import RegionMaster, normalize_code
from dtsen.release.store import ReleaseStore
from dtsen.standardize import clean_text

OFFICER_COLUMNS = ("officer", "region_code")
WORKERS = 2  # sources staged at once; on DuckDB, also sources checked at once


class Progress(Protocol):
    """What the pipeline tells whoever is watching (the CLI draws progress bars)."""

    def start(self, source: str, steps: int) -> None: ...
    def step(self, source: str, label: str) -> None: ...
    def finish(self, source: str, count: SourceCount) -> None: ...


class _Silent:
    def start(self, source: str, steps: int) -> None:
        pass

    def step(self, source: str, label: str) -> None:
        pass

    def finish(self, source: str, count: SourceCount) -> None:
        pass


def load_regions(settings: Settings) -> RegionMaster:
    """The region master named in the project file, or an empty one (format checks only)."""
    path = settings.reference.regions
    if path is None:
        return RegionMaster.empty()
    return RegionMaster.load(settings.path(path), edition=settings.reference.regions_edition)


def read_officers(path: Path) -> pa.Table:
    """The officer list: a CSV with the header `officer,region_code` (comma or semicolon), one
    row per officer and village they may visit (an officer with several villages has several
    rows). Codes are village codes, dotted or as 10 digits. Every bad row is reported at once,
    with the file and line; a missing file is a `SettingsError` naming it."""
    if not path.is_file():
        raise SettingsError(f"officer list {path} not found (setting verify.officers)",
                            [Problem("the file does not exist", where=str(path),
                                     hint="a CSV with the header officer,region_code")])
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in OFFICER_COLUMNS if c not in header]
    if missing:
        raise SettingsError(f"officer list {path} lacks the column(s) {', '.join(missing)}",
                            [Problem(f"header is {','.join(header) or '(empty)'}", where=f"{path} line 1",
                                     hint="the header must be officer,region_code")])
    at = [header.index(c) for c in OFFICER_COLUMNS]
    log = ProblemLog()
    officers: list[str] = []
    codes: list[str] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            log.add(f"{len(row)} fields where the header has {len(header)}", where=f"{path} line {line}")
            continue
        officer, raw_code = (row[i].strip() for i in at)
        code = normalize_code(raw_code)
        if not officer:
            log.add("the officer id is empty", where=f"{path} line {line}")
        if code is None or len(code) != 13:
            log.add(f"{raw_code!r} is not a village code PP.KK.CC.DDDD", where=f"{path} line {line}")
        if officer and code is not None and len(code) == 13:
            officers.append(officer)
            codes.append(code)
    log.raise_if_any(SettingsError, f"officer list {path} has mistakes")
    return pa.table({"officer": pa.array(officers, pa.string()), "region_code": pa.array(codes, pa.string())})


def load_field_check(settings: Settings, engine: Engine) -> FieldCheckTables:
    """The current release's families (with the head's NIK) and the officer list, for checking
    field results."""
    store = ReleaseStore(settings.path(settings.release.dir))
    current = store.current()
    families_path = store.path(current) / "families.parquet" if current is not None else None
    if families_path is not None and families_path.exists():
        f = engine.read_parquet(families_path)
        f = f.select(family_id=f.family_id.cast("int64"), kk=f.kk.cast("string"),
                     region_code=f.region_code.cast("string"), _head=f.head_person_id.cast("int64"))
        p = engine.read_parquet(families_path.parent / "persons.parquet")
        heads = p.select(_pid=p.person_id.cast("int64"), nik=p.nik.cast("string"))
        j = f.left_join(heads, f._head == heads._pid)
        families = engine.materialize(j.select("family_id", "kk", "region_code", "nik"))
    else:
        families = FieldCheckTables.empty(engine).families
    officers = None
    if settings.verify.officers is not None:
        o = engine.from_arrow(read_officers(settings.path(settings.verify.officers)))
        officers = engine.materialize(o.select(officer=clean_text(o.officer), region_code=o.region_code))
    return FieldCheckTables(families=families, officers=officers, release=current)


def resolve_files(settings: Settings, only: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """Every source's files, relative patterns resolved; all missing files reported at once."""
    log = ProblemLog()
    found: dict[str, list[Path]] = {}
    only = expand_names(settings, only)
    for name, src in settings.sources.items():
        if only and name not in only:
            continue
        if src.kind is not None and not src.kind.first and found.get(_stage_key(settings, name)) is not None:
            found[name] = found[_stage_key(settings, name)]  # the kinds of one file share it
            continue
        paths: list[Path] = []
        for i, pattern in enumerate(src.files):
            full = settings.path(pattern)
            if full.is_file() or not glob.has_magic(str(full)):
                matches = [full]  # a file literally named "dtks[5].csv" is that file, not a pattern
            else:
                matches = sorted(Path(p) for p in glob.glob(str(full)))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                log.add(f"no file matches {pattern!r} (looked in {settings.project.root})",
                        where=settings.where(*_path(settings, name), "files"), hint=f"entry {i + 1} of files")
            paths.extend(matches)
        found[name] = paths
        if src.kind is not None:
            found.setdefault(_stage_key(settings, name), paths)
    if only:
        for name in only:
            if name not in settings.sources:
                log.add(f"no source named {name!r}; the project has: {', '.join(settings.sources) or 'none'}")
    log.raise_if_any(MappingError, "some source files cannot be found")
    return {name: paths for name, paths in found.items() if name in settings.sources}


def expand_names(settings: Settings, only: Sequence[str] | None) -> list[str] | None:
    """Source names as given on the command line, a source with kinds standing for its kinds; a
    kind brings the other kinds of its file along (they share the file's rows, which are counted
    once for all of them, and a member takes fields from its household's row)."""
    if not only:
        return None
    out: list[str] = []
    for name in only:
        given = settings.sources.get(name)
        file_source = given.kind.source if given is not None and given.kind is not None else name
        kinds = [n for n, src in settings.sources.items() if src.kind is not None and src.kind.source == file_source]
        out += kinds or [name]
    return list(dict.fromkeys(out))


def _stage_key(settings: Settings, name: str) -> str:
    """The sources whose files are staged once: a file with several kinds is read once for all."""
    kind = settings.sources[name].kind
    return f"{kind.source}\x00files" if kind is not None else name


def _path(settings: Settings, name: str) -> tuple[str, ...]:
    src = settings.sources.get(name)
    return src.config_path(name) if src is not None else ("sources", name)


def file_label(settings: Settings, path: Path) -> str:
    try:
        return path.resolve().relative_to(settings.project.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def column_problems(settings: Settings, source: StagedSource) -> list[Problem]:
    """Every mapped column must be in every file, exactly once.

    When some files of a source fit and others do not, the others are quarantined whole
    (`file_columns_missing`, see `fit_files`); the problems returned here are those of a source
    none of whose files fit, which is the mapping's mistake, not a file's."""
    name = source.name
    per_file = {label: file_column_problems(settings, name, source.mapping, label, sf) for label, sf in source.files}
    if not source.files or any(not problems for problems in per_file.values()):
        return []
    return [p for problems in per_file.values() for p in problems]


def file_column_problems(settings: Settings, name: str, src: SourceMapping, label: str, sf: StagedFile) -> list[Problem]:
    log = ProblemLog()
    present = set(sf.columns)
    needed = src.source_columns()
    missing = [c for c in needed if c not in present and c not in sf.duplicate_columns]
    titles = header_row_hint(sf.path, detect_format(sf.path, src.format)) if needed and len(missing) == len(needed) \
        else ""
    for column in needed:
        where = settings.where(*src.config_path(name), *needed[column])
        if column in sf.duplicate_columns:
            log.add(f"column {column!r} appears {len(sf.duplicate_columns[column])} times in {label}",
                    where=where, hint=f"rename one in the file, or map one of {sf.duplicate_columns[column]}")
        elif column not in present:
            if len(missing) == len(needed) and needed:
                hint = (f"none of the {len(needed)} mapped columns is in the file: is its first row a header? "
                        f"(the first row has {len(sf.columns)} cells; {titles})")
            else:
                hint = f"the file has: {', '.join(mask_digits(c) for c in sf.columns) or 'no columns'}"
            log.add(f"column {column!r} is not in {label}", where=where, hint=hint)
    return log.problems


def fit_files(settings: Settings, source: StagedSource) -> StagedSource:
    """The source without the files that lack mapped columns (when others have them): those
    are quarantined whole, or, with `ingest.strict`, a MappingError."""
    per_file = {label: file_column_problems(settings, source.name, source.mapping, label, sf)
                for label, sf in source.files}
    bad = {label for label, problems in per_file.items() if problems}
    if not bad or len(bad) == len(source.files):
        return source
    if settings.ingest.strict:
        raise MappingError(f"source {source.name!r}: some files do not fit the mapping (ingest.strict is on)",
                           [p for label in sorted(bad) for p in per_file[label]])
    kept = [(label, sf) for label, sf in source.files if label not in bad]
    failed = list(source.failed)
    for label, sf in source.files:
        if label in bad:
            detail = "; ".join(p.message for p in per_file[label])
            failed.append(FileFailure(label, "file_columns_missing", detail, sf.lines))
    return StagedSource(source.name, source.mapping, kept, failed, source.parent)


def _count_by_file(table: ir.Table) -> dict[str, int]:
    df = table.group_by("file").aggregate(n=table.count()).to_pyarrow().to_pydict()
    return dict(zip(df["file"], (int(n) for n in df["n"]), strict=True))


def _count_codes(table: ir.Table, column: str) -> Counter[str]:
    codes = table.select(code=table[column].split(";").unnest())
    df = codes.group_by("code").aggregate(n=codes.count()).to_pyarrow().to_pydict()
    return Counter({str(c): int(n) for c, n in zip(df["code"], df["n"], strict=True) if c})


@dataclass(frozen=True)
class FileFailure:
    """A file quarantined whole: it cannot be read, or does not fit the mapping."""

    label: str
    reason: str  # file_unreadable or file_columns_missing
    detail: str
    lines: int | None = None


@dataclass
class StagedSource:
    """A source whose files are staged: strings with positions, ready for the engine; and the
    files that were quarantined whole."""

    name: str
    mapping: SourceMapping
    files: list[tuple[str, StagedFile]]
    failed: list[FileFailure] = field(default_factory=list)
    parent: SourceMapping | None = None  # the mapping of this kind's parent kind (`SourceMapping.kind`)

    def groups(self) -> list[list[tuple[str, StagedFile]]]:
        """The files grouped by their column lists (usually one group: a source's files share
        a layout), so that each group is read in one scan."""
        by_columns: dict[tuple[str, ...], list[tuple[str, StagedFile]]] = {}
        for label, sf in self.files:
            by_columns.setdefault(tuple(sf.columns), []).append((label, sf))
        return list(by_columns.values())

    @staticmethod
    def staged(engine: Engine, group: list[tuple[str, StagedFile]]) -> ir.Table:
        """One group's staged files as one table, `_file` holding each file's label."""
        t = engine.read_parquet_files([sf.staged for _, sf in group])
        labels = [(str(sf.path), label) for label, sf in group]
        label = t._file.cases(*labels, else_=t._file) if len(group) > 1 else ibis.literal(group[0][0])
        return t.mutate(_file=label)

    def raw(self, engine: Engine) -> ir.Table:
        """The union of the source's files as raw canonical fields (`dtsen.ingest.layout`):
        columns, templates, constants, value flags, the rows of its kind and what they take
        from their parent rows; control characters removed, warnings in `_notes`."""
        return raw_table([self.staged(engine, group) for group in self.groups()], self.name, self.mapping,
                         self.parent)


def file_encoding(settings: Settings, src: SourceMapping, path: Path) -> str:
    """The encoding a file is read with: the first `encodings` entry that names it (by file name,
    or a glob pattern of its path relative to the project), else the source's `encoding`."""
    label = file_label(settings, path)
    for pattern, encoding in src.encodings.items():
        if path.name == pattern or label == pattern or fnmatch.fnmatchcase(label, pattern) \
                or fnmatch.fnmatchcase(path.name, pattern):
            return encoding
    return src.encoding


def stage_source(settings: Settings, name: str, files: list[Path], progress: Progress,
                 max_rows: int | None = None) -> StagedSource:
    """Stage every file of a source. A file that cannot be read is quarantined whole
    (`file_unreadable`) and the others go on, unless `ingest.strict` is set."""
    src = settings.sources[name]
    folder = src.kind.source if src.kind is not None else name
    staged: list[tuple[str, StagedFile]] = []
    failed: list[FileFailure] = []
    for i, path in enumerate(files):
        progress.step(name, f"membaca {path.name}")
        out = settings.work_dir / "staging" / folder / str(i)
        options = ReadOptions(format=src.format, delimiter=src.delimiter, encoding=file_encoding(settings, src, path),
                              sheet=src.sheet, header_row=src.header_row, chunk_rows=settings.ingest.chunk_rows, max_rows=max_rows)
        try:
            staged.append((file_label(settings, path), stage_file(path, out, options)))
        except InputFileError as e:
            if settings.ingest.strict:
                raise
            failed.append(FileFailure(file_label(settings, path), "file_unreadable", str(e)))
    return StagedSource(name, src, staged, failed)


def ingest_source(
    settings: Settings, engine: Engine, staged_source: StagedSource, regions: RegionTables,
    names: ir.Table | None, progress: Progress, field_check: FieldCheckTables | None = None,
) -> SourceCount:
    name, src, staged = staged_source.name, staged_source.mapping, staged_source.files
    started = time.perf_counter()
    work = settings.work_dir
    count = SourceCount(source=name, level=src.level)
    owner = src.kind is None or src.kind.first  # the kind that keeps what is not of any kind
    for failure in staged_source.failed if owner else []:
        count.files.append(FileCount(source=name, file=failure.label, rows_read=0, lines=failure.lines,
                                     status="quarantined", reason=failure.reason, detail=failure.detail))
    if not staged:  # every file quarantined whole
        count.seconds = time.perf_counter() - started
        progress.finish(name, count)
        return count
    progress.step(name, "memeriksa dan membakukan")
    checked = engine.materialize(check_source(
        engine, staged_source.raw(engine), name, src, regions,
        severity=severities(settings.ingest.severity),
        max_age=settings.ingest.max_age,
        excel_zero_share=settings.ingest.excel_zero_share,
        names=names,
        field_check=field_check,
        ranges=settings.ingest.field_ranges(),
    ))
    accepted = checked.filter(checked._reject.isnull()).drop("_reject")
    order = ["file", "sheet", "row"]
    progress.step(name, "menulis hasil")
    engine.write_parquet(accepted, work / "ingest" / "records" / name, order_by=order)

    rejected = []
    for group in staged_source.groups():
        rejected.append(checked_rejects(checked, staged_source.staged(engine, group), group[0][1].columns))
    for label, sf in staged:
        if sf.rows_rejected and owner:
            rejected.append(reader_rejects(engine.read_parquet(sf.rejects), name, label))
    quarantine = engine.materialize(ibis.union(*rejected, distinct=False))
    engine.write_parquet(quarantine, work / "ingest" / "quarantine" / name, order_by=order)

    acc = _count_by_file(accepted)
    quar = _count_by_file(quarantine)
    mine = _count_by_file(checked) if src.kind is not None else {}  # this kind's rows of each file
    for label, sf in staged:
        rows = sf.rows_read if src.kind is None else mine.get(label, 0) + (sf.rows_rejected if owner else 0)
        count.files.append(FileCount(
            source=name, file=label, rows_read=rows, accepted=acc.get(label, 0),
            quarantined=quar.get(label, 0), encoding=sf.encoding, delimiter=sf.delimiter, notes=list(sf.notes),
            lines=sf.lines,
        ))
    count.reasons = _count_codes(quarantine.filter(quarantine.reasons.notnull()), "reasons")
    count.flags = _count_codes(accepted.filter(accepted.flags.notnull()), "flags")
    nameless = count.reasons.get("person_without_name_or_nik", 0)
    if nameless >= max(10, 0.05 * count.rows_read):
        count.notes.append(
            f"{nameless:,} rows have a KK but neither NIK nor name: does a file hold several record kinds "
            "(households and their members)? Give the source a kind_column and kinds (README, 'Onboarding').")
    count.seconds = time.perf_counter() - started
    progress.finish(name, count)
    return count


def ingest(
    settings: Settings,
    engine: Engine,
    *,
    sources: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest and standardize every source (or the named ones); write outputs and the report.

    Every source's files are staged and checked against their mappings first, so that all
    mapping mistakes are reported together before any heavy work; names are standardized once
    for all sources (a person's name recurs in most of them); then each source is checked,
    standardized and written.
    """
    watch = progress or _Silent()
    files = resolve_files(settings, sources)
    master = load_regions(settings)
    named = any("village_name" in settings.sources[name].mapped_fields() for name in files)
    regions = RegionTables.build(engine, master, names=named)
    field_results = any("family_ref" in settings.sources[name].columns.values() for name in files)
    field_check = load_field_check(settings, engine) if field_results else None  # a missing officer list: now
    for name, paths in files.items():
        watch.start(name, len(paths) + 2)
    # Staging is reading and writing files (Arrow and Parquet work outside the GIL): two
    # sources at a time.
    groups: dict[str, list[str]] = {}
    for name in files:
        groups.setdefault(_stage_key(settings, name), []).append(name)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        first = list(pool.map(lambda members: stage_source(settings, members[0], files[members[0]], watch),
                              groups.values()))
    staged = []
    for members, s in zip(groups.values(), first, strict=True):
        for name in members:  # the kinds of one file: one staging, each its own mapping
            src = settings.sources[name]
            parent = settings.sources.get(src.kind.parent) if src.kind and src.kind.parent else None
            staged.append(StagedSource(name, src, s.files, s.failed, parent))
    log = ProblemLog()
    for s in staged:
        log.problems += column_problems(settings, s)
    log.raise_if_any(MappingError, "some sources do not fit their files")
    staged = [fit_files(settings, s) for s in staged]
    report = IngestReport(engine=engine.kind, regions_edition=master.edition, work_dir=str(settings.work_dir),
                          warnings=[str(w) for w in source_warnings(settings)])
    if engine.kind == "duckdb" and len(staged) > 1:
        report.sources = _ingest_in_parallel(settings, engine, staged, regions, watch, field_check)
    else:
        names = _names(engine, staged)
        for s in staged:
            report.sources.append(ingest_source(settings, engine, s, regions, names, watch, field_check))
    report.check()
    _check_kinds(report, staged)
    report.write(settings.work_dir / "ingest")
    return report


def _check_kinds(report: IngestReport, staged: list[StagedSource]) -> None:
    """The kinds of a file share its rows: their rows read add up to the file's."""
    log = ProblemLog()
    read: dict[tuple[str, str], int] = {}
    expected: dict[tuple[str, str], int] = {}
    by_name = {s.source: s for s in report.sources}
    for s in staged:
        kind = s.mapping.kind
        if kind is None or s.name not in by_name:
            continue
        for f in by_name[s.name].files:
            read[(kind.source, f.file)] = read.get((kind.source, f.file), 0) + f.rows_read
        for label, sf in s.files:
            expected[(kind.source, label)] = sf.rows_read
    for (source, label), n in expected.items():
        if read.get((source, label), 0) != n:
            log.add(f"the kinds of the file read {read.get((source, label), 0)} rows, the file has {n}",
                    where=f"source {source}, file {label}")
    log.raise_if_any(AccountingError, "row accounting does not balance: rows were lost or invented")


def _has_names(source: StagedSource) -> bool:
    return bool(source.files) and "full_name" in source.mapping.columns.values()


def _names(engine: Engine, staged: list[StagedSource]) -> ir.Table | None:
    """The standardized names of every source that has names, in one lookup (`name_lookup`)."""
    with_names = [s.raw(engine).select("full_name") for s in staged if _has_names(s)]
    return name_lookup(engine, ibis.union(*with_names, distinct=False)) if with_names else None


def _ingest_in_parallel(
    settings: Settings, engine: Engine, staged: list[StagedSource], regions: RegionTables,
    progress: Progress, field_check: FieldCheckTables | None,
) -> list[SourceCount]:
    """`ingest_source` for every source, two at a time, each thread on its own connection to
    the same DuckDB database (see `Engine.connection`): while one thread builds and compiles a
    source's expressions in Python, the other's query runs. The results do not depend on the
    order.

    The name lookup is the first task; sources without names come next, so that they run while
    it is made, and sources with names wait for it. Within each group the largest sources go
    first, so that the two threads finish together. The counts come back in the project file's
    order. The first error stops both threads and is raised."""
    def size(i: int) -> int:
        return -sum(sf.rows_read for _, sf in staged[i].files)

    NAMES = -1  # the task that makes the name lookup
    todo = [NAMES, *sorted((i for i, s in enumerate(staged) if not _has_names(s)), key=size),
            *sorted((i for i, s in enumerate(staged) if _has_names(s)), key=size)]
    results: dict[int, SourceCount] = {}
    names: list[ir.Table | None] = []  # set once, by the thread that makes it
    names_ready = threading.Event()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(tag: str) -> None:
        con = engine.connection(tag)
        try:
            mine = RegionTables(regions.loaded, con.adopt(regions.districts), con.adopt(regions.villages),
                                con.adopt(regions.names) if regions.names is not None else None)
            checks = None
            if field_check is not None:
                officers = con.adopt(field_check.officers) if field_check.officers is not None else None
                checks = FieldCheckTables(con.adopt(field_check.families), officers, field_check.release)
            while True:
                with lock:
                    if not todo or errors:
                        return
                    i = todo.pop(0)
                if i == NAMES:
                    try:
                        names.append(_names(con, staged))
                    finally:
                        names_ready.set()  # also on failure: the error stops the other thread
                    continue
                their_names = None
                if _has_names(staged[i]):
                    names_ready.wait()
                    if errors or not names:
                        return
                    their_names = con.adopt(names[0]) if names[0] is not None else None
                results[i] = ingest_source(settings, con, staged[i], mine, their_names, progress, checks)
        except BaseException as error:  # handed to the main thread, which raises it
            with lock:
                errors.append(error)
        finally:
            con.close()

    threads = [threading.Thread(target=work, args=(f"w{k}_",), daemon=True) for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(staged))]
