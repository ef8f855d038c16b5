"""The previous run's mapping: written with a manifest, read back only when it is intact.

Stable ids (see `identity.py`) carry on from the previous release's links. A run's link output
directory holds `links.parquet` and a `manifest.json`::

    {"release_id": "...", "created": "...",
     "tables": {"links": {"file": "links.parquet", "rows": N, "sha256": "..."}},
     "next_person_id": N, "next_family_id": N}

`load_previous` refuses a mapping that is not what its manifest says it is (changed after the
fact, or copied from another release), since carrying ids on from the wrong mapping would
silently give people someone else's id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pyarrow.parquet as pq

from dtsen.errors import DtsenError, Problem, ProblemLog

if TYPE_CHECKING:
    from dtsen.engine import Engine

MANIFEST = "manifest.json"
LINKS = "links"
REQUIRED_KEYS = ("release_id", "tables", "next_person_id", "next_family_id")
CORE_KEYS = ("release_id", "created", "tables")
LINK_COLUMNS = ("record_key", "level", "person_id", "family_id")
_CHUNK = 1 << 20


class PreviousRunError(DtsenError):
    """The previous run's mapping is missing, malformed, or not the release it claims to be."""


@dataclass(frozen=True)
class PreviousRun:
    """A verified previous run: its mappings, ready for `assign_ids`, and its id counters."""

    release_id: str
    person_map: ir.Table  # member_key (record_key), id (person_id)
    family_map: ir.Table  # member_key (person_id as string), id (family_id)
    next_person_id: int
    next_family_id: int


@dataclass(frozen=True)
class IdFloor:
    """The least ids a run may hand out to new persons and families: the highest next ids any
    release present ever handed out (after a rollback, the newer releases' ids stay theirs)."""

    person: int = 1
    family: int = 1

    def raised(self, other: IdFloor) -> IdFloor:
        return IdFloor(max(self.person, other.person), max(self.family, other.family))


def next_ids(directory: Path) -> IdFloor | None:
    """The next ids a run's manifest names (None when it is missing or unreadable: a run whose
    manifest cannot be read hands nothing on, and `load_previous` refuses it if it is used)."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
        person, family = manifest["next_person_id"], manifest["next_family_id"]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    if not (_is_count(person, 1) and _is_count(family, 1)):
        return None
    return IdFloor(person, family)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (links of a national run do not fit in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(dir: Path, release_id: str, tables: dict[str, Path], extra: dict[str, Any]) -> Path:
    """Write `dir/manifest.json` naming each table's file, row count and SHA-256.

    Table paths are relative to `dir` or absolute inside it. `extra` adds keys such as
    `next_person_id` and `next_family_id`; it may not replace release_id, created or tables.
    """
    directory = Path(dir)
    clash = sorted(set(extra) & set(CORE_KEYS))
    if clash:
        raise ValueError(f"extra may not set {', '.join(clash)}: write_manifest sets them")
    entries: dict[str, dict[str, Any]] = {}
    for name, given in sorted(tables.items()):
        path = Path(given) if Path(given).is_absolute() else directory / given
        try:
            relative = path.resolve().relative_to(directory.resolve())
        except ValueError as exc:
            raise ValueError(f"table {name}: {path} is not inside {directory}") from exc
        if not path.is_file():
            raise ValueError(f"table {name}: {path} is not a file")
        entries[name] = {
            "file": relative.as_posix(),
            "rows": pq.ParquetFile(path).metadata.num_rows,
            "sha256": file_sha256(path),
        }
    manifest = {
        "release_id": release_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": entries,
        **extra,
    }
    target = directory / MANIFEST
    partial = directory / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return target


def _read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise PreviousRunError(f"previous run directory {directory} does not exist")
    path = directory / MANIFEST
    if not path.is_file():
        raise PreviousRunError(f"{path} is missing: a previous run's links need their manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PreviousRunError(f"{path} is not valid JSON: it is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise PreviousRunError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(manifest, dict):
        raise PreviousRunError(f"{path} is not a JSON object")
    log = ProblemLog(_manifest_problems(manifest))
    log.raise_if_any(PreviousRunError, f"{path} is not a valid manifest")
    return manifest


def _is_count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _manifest_problems(manifest: dict[str, Any]) -> list[Problem]:
    problems = [Problem(f"lacks key '{key}'") for key in REQUIRED_KEYS if key not in manifest]
    if "release_id" in manifest and not (isinstance(manifest["release_id"], str) and manifest["release_id"]):
        problems.append(Problem("release_id must be a non-empty string"))
    for key in ("next_person_id", "next_family_id"):
        if key in manifest and not _is_count(manifest[key], 1):
            problems.append(Problem(f"{key} must be a whole number of at least 1, not {manifest[key]!r}"))
    tables = manifest.get("tables")
    if "tables" in manifest:
        entry = tables.get(LINKS) if isinstance(tables, dict) else None
        if not isinstance(entry, dict):
            problems.append(Problem(f"tables lacks an entry '{LINKS}'"))
        else:
            if not (isinstance(entry.get("file"), str) and entry["file"]):
                problems.append(Problem(f"tables.{LINKS} lacks 'file'"))
            if not _is_count(entry.get("rows"), 0):
                problems.append(Problem(f"tables.{LINKS} lacks 'rows' (a whole number)"))
            if not isinstance(entry.get("sha256"), str):
                problems.append(Problem(f"tables.{LINKS} lacks 'sha256'"))
    return problems


def _verified_links(directory: Path, manifest: dict[str, Any]) -> Path:
    release = manifest["release_id"]
    entry = manifest["tables"][LINKS]
    path = directory / entry["file"]
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        raise PreviousRunError(
            f"{directory / MANIFEST}: tables.{LINKS} names {entry['file']}, outside {directory}"
        ) from None
    if not path.is_file():
        raise PreviousRunError(f"{path} is missing (named in {directory / MANIFEST} of release {release})")
    mismatch = (
        f"{path.name} does not match {MANIFEST} of release {release}: it was changed or belongs to another release"
    )
    found = file_sha256(path)
    if found != entry["sha256"]:
        raise PreviousRunError(
            mismatch, [Problem(f"sha256 is {found}, the manifest says {entry['sha256']}", str(path))]
        )
    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise PreviousRunError(f"{path} is not a readable Parquet file: {exc}") from exc
    if meta.num_rows != entry["rows"]:
        raise PreviousRunError(
            mismatch, [Problem(f"{meta.num_rows} rows, the manifest says {entry['rows']}", str(path))]
        )
    columns = set(meta.schema.to_arrow_schema().names)
    missing = [c for c in LINK_COLUMNS if c not in columns]
    if missing:
        raise PreviousRunError(
            f"{path} lacks the column(s) {', '.join(missing)} needed to carry ids on; it has {', '.join(sorted(columns))}"
        )
    return path


def load_previous(engine: Engine, dir: Path, expect_release: str | None = None) -> PreviousRun:
    """Read and verify a previous run's link output, and return its person and family mappings.

    Refused with `PreviousRunError` when the directory, manifest or links file is missing, the
    manifest is malformed, the links file is not the one the manifest describes, the release is
    not `expect_release`, the links lack a needed column, or the manifest's next ids are not
    above every id already handed out.
    """
    directory = Path(dir)
    manifest = _read_manifest(directory)
    release = manifest["release_id"]
    if expect_release is not None and release != expect_release:
        raise PreviousRunError(
            f"{directory / MANIFEST} is release {release}, but release {expect_release} was expected as the previous run"
        )
    path = _verified_links(directory, manifest)

    links = engine.read_parquet(path)
    persons = links.filter((links.level == "person") & links.person_id.notnull())
    person_map = persons.select(member_key=persons.record_key.cast("string"), id=persons.person_id.cast("int64"))
    in_family = persons.filter(persons.family_id.notnull())
    family_map = in_family.select(
        member_key=in_family.person_id.cast("int64").cast("string"), id=in_family.family_id.cast("int64")
    ).distinct()

    top = links.aggregate(person=links.person_id.cast("int64").max(), family=links.family_id.cast("int64").max())
    highest = top.to_pyarrow().to_pylist()[0]
    problems = [
        Problem(f"{key} is {manifest[key]} but the links already hold {name}_id {highest[name]}", str(path))
        for key, name in (("next_person_id", "person"), ("next_family_id", "family"))
        if highest[name] is not None and manifest[key] <= highest[name]
    ]
    if problems:
        raise PreviousRunError(f"{directory / MANIFEST} of release {release} would hand out ids again", problems)
    return PreviousRun(
        release_id=release,
        person_map=person_map,
        family_map=family_map,
        next_person_id=manifest["next_person_id"],
        next_family_id=manifest["next_family_id"],
    )
