"""The synthetic population the benchmarks run on: `dtsen synth` in its own process, once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "refdata"


def synthesise(data: Path, persons: int, seed: int, *, quiet: bool = True, scope: str | None = None) -> Path:
    """Write a synthetic project of `persons` persons into `data` unless one is there already
    (with the shared region list and name frequencies when ../shared is present, and then only
    the regions under `scope`, a region code, when given)."""
    if not (data / "dtsen.toml").exists():
        cmd = [sys.executable, "-m", "dtsen", "synth", str(data), "--persons", str(persons), "--seed", str(seed)]
        if (SHARED / "regions.csv").exists():
            cmd += ["--regions", str(SHARED / "regions.csv"), "--names", str(SHARED / "names.csv")]
            cmd += ["--scope", scope] if scope else []
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if quiet else None)
    return data
