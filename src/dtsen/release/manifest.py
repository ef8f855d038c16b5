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
    tables        per table: its files with sha256 and rows; `verify_release` checks them
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dtsen import __version__
from dtsen.config import Settings
from dtsen.errors import AccountingError, Problem, ProblemLog
from dtsen.link.previous import file_sha256
from dtsen.release.store import MANIFEST, ReleaseError


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


def table_entries(release_dir: Path, names: list[str]) -> dict[str, Any]:
    """Per table (a Parquet file or directory of parts): files with sha256, and rows."""
    out: dict[str, Any] = {}
    for name in names:
        path = release_dir / f"{name}.parquet"
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        out[name] = {
            "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
            "files": {str(f.relative_to(release_dir)): file_sha256(f) for f in files},
        }
    return out


def write_manifest(release_dir: Path, manifest: dict[str, Any]) -> Path:
    path = release_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def verify_release(release_dir: Path) -> list[Problem]:
    """Every table file the manifest lists is there with its sha256, and the accounting balances."""
    path = release_dir / MANIFEST
    if not path.exists():
        return [Problem("no manifest.json", str(release_dir))]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [Problem(f"manifest.json is not valid JSON: {exc}", str(path))]
    problems = []
    for table, entry in manifest.get("tables", {}).items():
        for rel, sha in entry["files"].items():
            f = release_dir / rel
            if not f.exists():
                problems.append(Problem(f"file of table {table} is missing", str(f)))
            elif file_sha256(f) != sha:
                problems.append(Problem(f"file of table {table} is not what the manifest says (sha256)", str(f)))
    acc = manifest.get("accounting", {})
    for source, row in acc.get("sources", {}).items():
        if row["rows_read"] != row["accepted"] + row["quarantined"]:
            problems.append(Problem(f"source {source} does not balance", str(path)))
    return problems


def require_intact(release_dir: Path) -> None:
    problems = verify_release(release_dir)
    if problems:
        raise ReleaseError(f"release {release_dir.name} is damaged", problems)
