"""Approved changes leave the store as the field-check sources of the next build.

    result = export_approved(wf)                      # verified batches -> CSV files
    add_sources(settings, result)                     # the two sources, ranked above all others

Every signed batch is verified first (`dtsen.workflow.approval.verify`): a batch changed after
signing, or whose signature does not verify, is refused by name and none of its rows is written.
The cases of a verified batch that are approved (or already in a release) are written as rows
of two sources, in `workflow.export_dir`:

    B000003-<digest>-keluarga.csv   source `cek_lapangan_kasus`, family level: the family's KK,
                                    village, address and the changed family fields
    B000003-<digest>-anggota.csv    source `cek_lapangan_kasus_anggota`, person level: the
                                    person's NIK, name, sex, birth date and KK (as the release held
                                    them when the visit was recorded) and the changed fields

Each row also names its case (`kasus`, K-000012) and its batch (`paket`, B-000003), and is dated
by the visit (`observed_at`). Both sources lead `survivorship.above_all`, so their values win over
every other source, the ODK field checks (`cek_lapangan`) included; the build's provenance names
the source and the record, and the record's file and row name the case
(`dtsen.workflow.provenance`). A batch's file is named by its content's digest and never
rewritten: when the set of its cases that may enter changes, a new file is written and the old
one moved to `arsip/` (kept, so that an older release's provenance still resolves, but no longer
read by builds).

Names of the sources begin with `cek_lapangan`, so the quality indicators count them as field
checks.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dtsen.config import Settings, SourceMapping
from dtsen.store.tables import approval_batches, cases
from dtsen.workflow.approval import batch_label, verify
from dtsen.workflow.cases import case_label
from dtsen.workflow.changes import FAMILY_CHANGE_FIELDS, PERSON_CHANGE_FIELDS
from dtsen.workflow.service import Workflow

FAMILY_SOURCE = "cek_lapangan_kasus"
PERSON_SOURCE = "cek_lapangan_kasus_anggota"
SOURCES = (FAMILY_SOURCE, PERSON_SOURCE)
ARCHIVE = "arsip"
CASE_COLUMN, BATCH_COLUMN = "kasus", "paket"
FAMILY_COLUMNS: tuple[str, ...] = (
    "kk", "region_code", "address", "rt", "rw", "observed_at",
    *(f for f in FAMILY_CHANGE_FIELDS if f not in ("region_code", "address", "rt", "rw")))
PERSON_COLUMNS: tuple[str, ...] = (
    "nik", "kk", "full_name", "sex", "birth_date", "region_code", "observed_at",
    *(f for f in PERSON_CHANGE_FIELDS if f != "region_code"))
FILE_PATTERN = re.compile(r"^B(\d{6})-([0-9a-f]{8})-(keluarga|anggota)\.csv$")
SUFFIX = {FAMILY_SOURCE: "keluarga", PERSON_SOURCE: "anggota"}
IDENTITY = ("nik", "kk", "full_name", "sex", "birth_date")


@dataclass
class ExportResult:
    """What an export wrote: files (by source), the cases in them, batches refused and why."""

    directory: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    cases: list[int] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)
    archived: list[Path] = field(default_factory=list)
    as_of: dt.date | None = None

    @property
    def notes(self) -> list[str]:
        return [f"paket {batch_label(b)} ditolak / batch refused: {'; '.join(p)}" for b, p in self.refused.items()]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def batch_rows(body: Mapping[str, Any], include: set[int], signed_on: dt.date) -> dict[str, list[dict[str, str]]]:
    """The rows of a verified batch's included cases, per source, in the batch's order."""
    out: dict[str, list[dict[str, str]]] = {FAMILY_SOURCE: [], PERSON_SOURCE: []}
    batch = batch_label(int(body["batch"]))
    for c in body["cases"]:
        if int(c["case"]) not in include:
            continue
        observed = c.get("visited_on") or signed_on.isoformat()
        for ch in c["changes"]:
            new = (ch.get("family_id") if ch["entity"] == "family" else ch.get("person_id")) is None
            # the village only where the case settles it (a move, or a family or person new to the
            # registry): elsewhere provenance keeps naming the source the village came from
            region = ch["fields"].get("region_code") or (ch.get("region_code") if new else None)
            base = {CASE_COLUMN: case_label(int(c["case"])), BATCH_COLUMN: batch, "observed_at": observed,
                    "region_code": _text(region)}
            if ch["entity"] == "family":
                row = {**base, "kk": _text(ch.get("kk")), **{k: _text(v) for k, v in ch["fields"].items()}}
                out[FAMILY_SOURCE].append({k: row.get(k, "") for k in (CASE_COLUMN, BATCH_COLUMN, *FAMILY_COLUMNS)})
            else:
                ident = ch.get("identity") or {}
                row = {**base, **{k: _text(ident.get(k)) for k in ("nik", "kk", "full_name", "sex", "birth_date")},
                       **{k: _text(v) for k, v in ch["fields"].items()}}
                out[PERSON_SOURCE].append({k: row.get(k, "") for k in (CASE_COLUMN, BATCH_COLUMN, *PERSON_COLUMNS)})
    return out


def _csv(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.parent / f".{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def export_approved(wf: Workflow) -> ExportResult:
    """Write the approved changes of every verified, signed batch (see the module docstring)."""
    directory = wf.settings.path(wf.settings.workflow.export_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    result = ExportResult(directory)
    wanted: dict[str, bytes] = {}
    latest: dt.date | None = None
    with wf.store.reading() as conn:
        signed = [dict(r) for r in conn.execute(sa.select(approval_batches)
                                                .where(approval_batches.c.status == "signed")
                                                .order_by(approval_batches.c.id)).mappings()]
        for batch in signed:
            problems = verify(conn, wf.keys, batch)
            if problems:
                result.refused[int(batch["id"])] = problems
                continue
            body = json.loads(batch["canonical"])
            ids = [int(c["case"]) for c in body["cases"]]
            include = {int(r.id) for r in conn.execute(
                sa.select(cases.c.id).where(cases.c.id.in_(ids), cases.c.batch_id == batch["id"],
                                            cases.c.state.in_(("approved", "released"))))}
            if not include:
                continue
            signed_on = batch["signed_at"].date()
            rows = batch_rows(body, include, signed_on)
            for source, columns in ((FAMILY_SOURCE, FAMILY_COLUMNS), (PERSON_SOURCE, PERSON_COLUMNS)):
                if not rows[source]:
                    continue
                data = _csv(rows[source], (CASE_COLUMN, BATCH_COLUMN, *columns))
                name = f"B{int(batch['id']):06d}-{hashlib.sha256(data).hexdigest()[:8]}-{SUFFIX[source]}.csv"
                wanted[name] = data
                result.files.setdefault(source, []).append(directory / name)
                for r in rows[source]:
                    seen = dt.date.fromisoformat(r["observed_at"])
                    latest = seen if latest is None or seen > latest else latest
            result.cases += sorted(include)
            result.batches.append(int(batch["id"]))
    for name, data in wanted.items():
        _write(directory / name, data)
    for path in sorted(directory.iterdir()):
        if path.is_file() and FILE_PATTERN.match(path.name) and path.name not in wanted:
            (directory / ARCHIVE).mkdir(mode=0o700, exist_ok=True)
            os.replace(path, directory / ARCHIVE / path.name)
            result.archived.append(directory / ARCHIVE / path.name)
    result.as_of = latest
    return result


def source_mappings(settings: Settings, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """The two `[sources.*]` sections (as dicts for `SourceMapping`) that read an export."""
    directory = settings.workflow.export_dir.as_posix()
    common = {"format": "csv", "delimiter": ",", "encoding": "utf-8", "as_of": as_of, "date_formats": ["YYYY-MM-DD"]}
    return {
        FAMILY_SOURCE: {
            **common, "level": "family", "files": [f"{directory}/B*-keluarga.csv"],
            "description": "Perubahan keluarga yang disetujui kepala daerah (dtsen workflow): the approved field checks",
            "columns": {c: c for c in FAMILY_COLUMNS},
            "trust": {c: 0.0 if c == "kk" else 1.0 for c in FAMILY_COLUMNS if c != "observed_at"},
        },
        PERSON_SOURCE: {
            **common, "level": "person", "files": [f"{directory}/B*-anggota.csv"],
            "description": "Perubahan anggota keluarga yang disetujui kepala daerah (dtsen workflow): the approved "
                           "field checks of persons",
            "columns": {c: c for c in PERSON_COLUMNS},
            # identity only finds the person: never the anchor of a NIK group, never a conflict
            "trust": {c: 0.0 if c in IDENTITY else 1.0 for c in PERSON_COLUMNS if c != "observed_at"},
        },
    }


def add_sources(settings: Settings, result: ExportResult) -> list[str]:
    """Add the sources of `result` to `settings` (those it wrote files for), first in
    `survivorship.above_all`; a project that declares them itself keeps its own sections.
    The names added."""
    if result.as_of is None:
        return []
    added = []
    for name, mapping in source_mappings(settings, result.as_of).items():
        if not result.files.get(name) or name in settings.sources:
            continue
        settings.sources[name] = SourceMapping.model_validate(mapping)
        added.append(name)
    above = [n for n in settings.survivorship.above_all if n not in SOURCES]
    settings.survivorship.above_all = [*(n for n in SOURCES if n in settings.sources), *above]
    return added


def sources_toml(settings: Settings, as_of: dt.date) -> str:
    """The `[sources.*]` sections for a project that lists the export's sources itself
    (`workflow.export_on_build = false`), and the `above_all` line to go with them."""
    from dtsen.verify.field_results import _key, _value

    lines = ["# Approved changes of the workflow (dtsen workflow export): the most trusted sources.",
             "# Put them first in [survivorship] above_all:",
             f"#   above_all = [{', '.join(_value(n) for n in SOURCES)}, \"cek_lapangan\"]"]
    for name, m in source_mappings(settings, as_of).items():
        lines += ["", f"[sources.{_key(name)}]"]
        lines += [f"{k} = {_value(v)}" for k, v in m.items() if k not in ("columns", "trust")]
        lines += ["", f"[sources.{_key(name)}.columns]"]
        lines += [f"{_key(c)} = {_value(f)}" for c, f in m["columns"].items()]
        lines += ["", f"[sources.{_key(name)}.trust]"]
        lines += [f"{_key(c)} = {_value(v)}" for c, v in m["trust"].items()]
    return "\n".join(lines) + "\n"
