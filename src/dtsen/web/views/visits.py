"""The ground-check visit lists a release wrote for its villages (`dtsen.verify.campaign`):
`<release>/cek_lapangan/<regency>/<district>/<village>/{kunjungan.csv, kunjungan.xlsx,
formulir.xlsx}`, found on disk for the villages under a region prefix.

`can_download(viewer)` says whether the viewer may download them at all (`family.read` for
`ground_check` with every field a list holds); `village_files(release_dir, prefix)` lists them; `visit_file(release_dir, village, name)` is one
file's path (None when the release did not write it: a sealed release, or too many villages for
`[verify] export_max_villages`); `listed_families(release_dir, village)` the families the list
names (from the release's `verification_candidates`), for the audit entry of a download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as pads

from dtsen.verify.campaign import FORM_XLSX, LIST_CSV, LIST_XLSX, village_dir
from dtsen.web.viewer import Viewer

ACTION, PURPOSE = "family.read", "ground_check"
# what a visit list holds (dtsen.verify.campaign): a viewer must be allowed all of it to download one
LIST_FIELDS = frozenset({"family_id", "kk", "full_name", "address", "rt", "rw", "region_code", "persons", "decile"})

CHECKS_DIR = "cek_lapangan"
VILLAGE = re.compile(r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$")
# the files a village may have, in the order shown, with their media types
FILES: dict[str, str] = {
    LIST_CSV: "text/csv; charset=utf-8",
    LIST_XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FORM_XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def can_download(viewer: Viewer) -> bool:
    """Whether the viewer may download visit lists anywhere (the region overview's link)."""
    scope = viewer.state.security.policy.scope(viewer.principal, ACTION, PURPOSE)
    return scope.allowed and scope.fields >= LIST_FIELDS


@dataclass(frozen=True)
class VillageFiles:
    code: str
    files: tuple[str, ...]  # names present, in FILES order


def village_files(release_dir: Path | None, prefix: str) -> list[VillageFiles]:
    """The villages under `prefix` ("" for all) with visit files in the release, by code."""
    if release_dir is None:
        return []
    root = Path(release_dir) / CHECKS_DIR
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.glob("*/*/*")):
        code = d.name
        if not (d.is_dir() and VILLAGE.match(code) and code.startswith(prefix) and d == village_dir(root, code)):
            continue
        present = tuple(name for name in FILES if (d / name).is_file())
        if present:
            out.append(VillageFiles(code, present))
    return out


def visit_file(release_dir: Path | None, village: str, name: str) -> Path | None:
    """The path of one of a village's files, or None when the release has none."""
    if release_dir is None or name not in FILES or not VILLAGE.match(village):
        return None
    path = village_dir(Path(release_dir) / CHECKS_DIR, village) / name
    return path if path.is_file() and not path.is_symlink() else None


def listed_families(release_dir: Path | None, village: str) -> list[int]:
    """The families the village's list names (the release's candidates in that village)."""
    if release_dir is None:
        return []
    path = Path(release_dir) / "verification_candidates.parquet"
    if not path.exists():
        return []
    files = sorted(str(f) for f in path.glob("*.parquet")) if path.is_dir() else [str(path)]
    if not files:
        return []
    table = pads.dataset(files, format="parquet").to_table(columns=["family_id"],
                                                           filter=pads.field("region_code") == village)
    return sorted(int(v) for v in table.column("family_id").to_pylist() if v is not None)
