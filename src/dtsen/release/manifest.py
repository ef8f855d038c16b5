"""The release manifest: what went in, what came out, and the proof that nothing was lost.

manifest.json of a release:

    release_id, created, previous (the release current before), engine
    code          {"dtsen": version, "commit": git commit when known}
    settings      {"sha256": hash of the settings tree, paths relative to the project}
    region_master {"edition": label, "sha256": of the file when given}
    inputs        per source file: path (relative to the project), bytes, sha256, rows read,
                  accepted, quarantined
    accounting    per source and in total: rows read = accepted + quarantined (checked here:
                  a release that does not balance is never written)
    models        the linkage run id, the PMT model id and kind
    metrics       headline figures (persons, families, poor, quarantine, candidates, ...)
    tables        per table: its files with sha256 and rows
    files         every file of the release but manifest.json itself (tables, scorecards in
                  `rapor/`, village lists and forms in `cek_lapangan/`, `link/`, `model/`), by
                  relative path, with its sha256

`verify_release` checks every file the manifest lists (there, unchanged, inside the release),
names every file present that it does not list, and checks that the accounting balances. A
manifest written before `files` existed (dtsen 0.1 releases) has its tables checked only;
`legacy_manifest` tells such a manifest apart so that the CLI can say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dtsen import __version__
from dtsen.config import Settings
from dtsen.errors import AccountingError, Problem, ProblemLog
from dtsen.link.previous import file_sha256
from dtsen.release.errors import ReleaseError
from dtsen.release.ids import inside
from dtsen.release.store import MANIFEST, read_manifest

_SHA256 = re.compile(r"[0-9a-f]{64}")


def settings_sha256(settings: Settings) -> str:
    """A fingerprint of the settings (paths under the project root made relative)."""
    data = settings.model_dump(mode="json", exclude={"project": {"root"}})
    text = json.dumps(data, sort_keys=True, default=str).replace(str(settings.project.root), ".")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_version() -> dict[str, str | None]:
    commit = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        commit = out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"dtsen": __version__, "commit": commit}


def input_entries(settings: Settings, report: dict[str, Any], files: dict[str, list[Path]]) -> list[dict[str, Any]]:
    """Per input file: path, bytes, sha256 and its row accounting from the ingest report."""
    counted = {(s["source"], f["file"]): f for s in report["sources"] for f in s["files"]}
    out = []
    for source, paths in files.items():
        for path in paths:
            rel = str(path.relative_to(settings.project.root)) if path.is_relative_to(settings.project.root) else str(path)
            row = next((v for (src, label), v in counted.items() if src == source and rel.endswith(label)), None)
            out.append({
                "source": source,
                "path": rel,
                "bytes": path.stat().st_size,
                "sha256": file_sha256(path),
                "rows_read": row["rows_read"] if row else None,
                "accepted": row["accepted"] if row else None,
                "quarantined": row["quarantined"] if row else None,
            })
    return out


def accounting(report: dict[str, Any]) -> dict[str, Any]:
    """Rows read, accepted and quarantined per source and in total; raises unless they balance."""
    log = ProblemLog()
    per_source = {}
    for s in report["sources"]:
        per_source[s["source"]] = {k: s[k] for k in ("rows_read", "accepted", "quarantined")}
        if s["rows_read"] != s["accepted"] + s["quarantined"]:
            log.add(f"read {s['rows_read']} rows, but accepted {s['accepted']} + quarantined {s['quarantined']}",
                    where=f"source {s['source']}")
    totals = {k: sum(v[k] for v in per_source.values()) for k in ("rows_read", "accepted", "quarantined")}
    log.raise_if_any(AccountingError, "row accounting does not balance: the release is not written")
    return {"sources": per_source, "total": totals, "balanced": True}


def file_entries(release_dir: Path) -> dict[str, str]:
    """Every file under `release_dir` but its manifest.json, by relative path: its sha256."""
    out = {}
    for top, dirs, files in os.walk(release_dir, followlinks=False):
        dirs.sort()
        for name in files:
            path = Path(top) / name
            rel = path.relative_to(release_dir).as_posix()
            if rel != MANIFEST:
                out[rel] = file_sha256(path)
    return dict(sorted(out.items()))


def table_entries(release_dir: Path, names: list[str], hashes: dict[str, str] | None = None) -> dict[str, Any]:
    """Per table (a Parquet file or directory of parts): files with sha256, and rows.
    `hashes` (from `file_entries`) saves hashing the files again."""
    out: dict[str, Any] = {}
    for name in names:
        path = release_dir / f"{name}.parquet"
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        rels = [f.relative_to(release_dir).as_posix() for f in files]
        out[name] = {
            "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
            "files": {rel: (hashes or {}).get(rel) or file_sha256(f) for rel, f in zip(rels, files, strict=True)},
        }
    return out


def write_manifest(release_dir: Path, manifest: dict[str, Any]) -> Path:
    path = release_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def legacy_manifest(manifest: dict[str, Any]) -> bool:
    """A manifest of dtsen 0.1, which lists the table files only (no `files`)."""
    return "files" not in manifest


def _listed_files(manifest: dict[str, Any], where: str) -> tuple[dict[str, str], list[Problem]]:
    """The manifest's files (`files`, and every table's files), with problems for malformed
    entries and for tables whose files disagree with `files`."""
    problems: list[Problem] = []
    listed: dict[str, str] = {}
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        return {}, [Problem("'files' is not a mapping of path to sha256", where)]
    for rel, sha in files.items():
        if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
            problems.append(Problem(f"the sha256 of {str(rel)[:80]!r} is malformed", where))
        else:
            listed[rel] = sha
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        return listed, [*problems, Problem("'tables' is missing or not a mapping", where)]
    for table, entry in tables.items():
        entry_files = entry.get("files") if isinstance(entry, dict) else None
        if not isinstance(entry_files, dict):
            problems.append(Problem(f"table {table} has no 'files' mapping", where))
            continue
        for rel, sha in entry_files.items():
            if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
                problems.append(Problem(f"the sha256 of {str(rel)[:80]!r} (table {table}) is malformed", where))
            elif legacy_manifest(manifest):
                listed[rel] = sha
            elif listed.get(rel) != sha:
                problems.append(Problem(f"table {table} names {str(rel)[:80]!r}, which 'files' does not list "
                                        "with the same sha256", where))
    return listed, problems


def _present_files(release_dir: Path) -> tuple[set[str], list[Problem]]:
    """The files under the release (relative paths, manifest.json aside), and a problem for
    each symbolic link (a release never holds one)."""
    present, problems = set(), []
    for top, dirs, files in os.walk(release_dir, followlinks=False):
        for name in dirs + files:
            path = Path(top) / name
            if path.is_symlink():
                problems.append(Problem("is a symbolic link: a release holds only files and folders", str(path)))
            elif name in files:
                present.add(path.relative_to(release_dir).as_posix())
    present.discard(MANIFEST)
    return present, problems


def verify_release(release_dir: Path) -> list[Problem]:
    """Every file the manifest lists is there, inside the release, with its sha256; every file
    present is listed; and the accounting balances. An empty list when the release is whole."""
    path = release_dir / MANIFEST
    try:
        manifest = read_manifest(release_dir)
    except ReleaseError as exc:
        return [Problem(str(exc), str(path))]
    listed, problems = _listed_files(manifest, str(path))
    for rel, sha in sorted(listed.items()):
        try:
            f = inside(release_dir, rel, "the manifest's file")
        except ReleaseError as exc:
            problems.append(Problem(str(exc), str(path)))
            continue
        if f.is_symlink():
            continue  # named below, with every symbolic link
        if f.exists() and not f.is_file():
            problems.append(Problem("is not a file (listed in the manifest as one)", str(f)))
            continue
        if not f.exists():
            problems.append(Problem("is missing (listed in the manifest)", str(f)))
            continue
        try:
            found = file_sha256(f)
        except OSError as exc:
            problems.append(Problem(f"cannot be read ({exc.strerror})", str(f)))
            continue
        if found != sha:
            problems.append(Problem("is not what the manifest says (sha256): it was changed", str(f)))
    present, links = _present_files(release_dir)
    problems += links
    if not legacy_manifest(manifest):
        problems += [Problem("is extra: not in the manifest", str(release_dir / rel))
                     for rel in sorted(present - set(listed))]
    problems += _accounting_problems(manifest, str(path))
    return problems


def _accounting_problems(manifest: dict[str, Any], where: str) -> list[Problem]:
    acc = manifest.get("accounting")
    sources = acc.get("sources") if isinstance(acc, dict) else None
    if not isinstance(sources, dict):
        return [Problem("the row accounting ('accounting.sources') is missing", where)]
    problems = []
    for source, row in sources.items():
        given = [row.get(k) if isinstance(row, dict) else None for k in ("rows_read", "accepted", "quarantined")]
        counts = [c for c in given if isinstance(c, int) and not isinstance(c, bool)]
        if len(counts) != 3:
            problems.append(Problem(f"the accounting of source {source} is malformed", where))
        elif counts[0] != counts[1] + counts[2]:
            problems.append(Problem(f"source {source} does not balance", where))
    return problems


def require_intact(release_dir: Path) -> None:
    problems = verify_release(release_dir)
    if problems:
        raise ReleaseError(
            f"release {release_dir.name} is damaged: restore it from a backup, or make another release "
            "current with `dtsen releases use ID`", problems)
