"""All source extracts of a run, each with its coverage, staleness and error profile.

| source              | level  | coverage                               | as of           | format                   |
|---------------------|--------|----------------------------------------|-----------------|--------------------------|
| `dukcapil`          | person | ~99% of persons                        | the run's date  | CSV `;` UTF-8, village as 4 unpadded numbers |
| `dtks`              | person | poorer ~40% of families                | 1 year earlier  | CSV `,` Windows-1252, 2+ files, regions by name |
| `regsosek` (`_keluarga`, `_art`) | family rows, then their person rows | ~95% of families (census) | Nov, 3 years before | one Parquet file, RUTA/ART rows |
| `p3ke`              | family | poorest ~12% of families               | end of year-2   | XLSX, 2 sheets           |
| `pln`               | family | families with a PLN meter              | the run's date  | CSV `|` UTF-8            |
| `bpjs`              | person | PBI-JK members                         | 1 month earlier | Parquet                  |
| `pkh`               | family | PKH recipients                         | 1 quarter earlier | XLSX                   |
| `bansos`            | family | BPNT and PKH recipients, PROGRAM column | 2 months earlier | CSV `;` UTF-8 with BOM |
| `susenas`           | family | ~1% sample, measured consumption       | last 31 March   | CSV `,` UTF-8            |

Each module's docstring details its profile; every planted error is recorded per row in
``truth/records.parquet``. Each source draws from its own random stream (spawned from the
seed), so changing one source does not change the others.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dtsen.synth.dtks import dtks
from dtsen.synth.extract import Extract
from dtsen.synth.pln import pln
from dtsen.synth.programmes import bansos, bpjs, p3ke, pkh
from dtsen.synth.registry import dukcapil
from dtsen.synth.regsosek import regsosek
from dtsen.synth.susenas import susenas
from dtsen.synth.truth import Truth

SOURCE_NAMES = (
    "dukcapil",
    "dtks",
    "regsosek_art",
    "regsosek_keluarga",
    "p3ke",
    "pln",
    "bpjs",
    "pkh",
    "bansos",
    "susenas",
)
ERROR_ORDER = (
    "duplicate_row",
    "duplicate_person",
    "ragged_row",
    "nik_missing",
    "nik_mistyped",
    "nik_excel_damaged",
    "nik_rounded_column",
    "kk_excel_damaged",
    "kk_rounded_column",
    "name_typo",
    "title",
    "old_spelling",
    "dob_swapped",
    "birth_year_typo",
    "sex_miscoded",
    "birth_date_invalid",
    "birth_date_future",
    "age_over_120",
    "region_unknown",
    "stale_address",
    "stale_kk",
    "deceased_listed",
    "death_unreported",
    "customer_not_head",
)


def build_sources(
    t: Truth, seed: np.random.SeedSequence, progress: Callable[[str], None] | None = None
) -> list[Extract]:
    """Every source extract, in SOURCE_NAMES order."""
    streams = iter(np.random.default_rng(s) for s in seed.spawn(9))
    out: list[Extract] = []
    for name, build in (("dukcapil", dukcapil), ("dtks", dtks)):
        if progress:
            progress(f"source {name}")
        out.append(build(t, next(streams)))
    if progress:
        progress("source regsosek")
    out.append(regsosek(t, next(streams)))
    for name, build in (
        ("p3ke", p3ke),
        ("pln", pln),
        ("bpjs", bpjs),
        ("pkh", pkh),
        ("bansos", bansos),
        ("susenas", susenas),
    ):
        if progress:
            progress(f"source {name}")
        out.append(build(t, next(streams)))
    return out
