"""One source extract: its rows (Arrow columns), their true ids and planted errors, and its spec.

An `Extract` is what a ministry sends, before it is split into files: a table of text (or
typed, for Parquet) columns in the source's own order, with for every row the true person
and family index (-1 when not applicable) and a mask per planted error code. `SourceSpec`
says how it is written and how `dtsen.toml` maps it onto the canonical schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

Format = Literal["csv", "xlsx", "parquet"]


@dataclass
class SourceSpec:
    name: str
    level: Literal["person", "family"]
    format: Format
    as_of: dt.date
    description: str
    columns: dict[str, str]  # source column -> canonical field (mapped columns only)
    profile: str  # comment lines for dtsen.toml
    delimiter: str | None = None
    encoding: str = "utf-8"  # Python codec the file is written with
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: list[str] = field(default_factory=list)
    trust: dict[str, float] = field(default_factory=dict)
    role: str | None = None  # sources.NAME.role (a name the synthetic defaults do not know needs one)
    compose: dict[str, str] = field(default_factory=dict)  # canonical field -> template of columns
    value_flags: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {value -> yes/no field}
    kind_column: str | None = None  # a file with several record kinds: the column that tells them apart
    kinds: dict[str, KindSpec] = field(default_factory=dict)


@dataclass
class KindSpec:
    """One record kind of a file with several (`SourceSpec.kinds`), as `sources.NAME.kinds.KIND`."""

    values: list[str]
    level: Literal["person", "family"]
    columns: dict[str, str]
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    trust: dict[str, float] = field(default_factory=dict)
    parent: str | None = None
    key: str | None = None
    inherit: list[str] = field(default_factory=list)


@dataclass
class Extract:
    spec: SourceSpec
    columns: dict[str, pa.Array]
    person: np.ndarray  # person index, -1 for none
    family: np.ndarray  # family index, -1 for none
    village: np.ndarray  # village index the row shows (for splitting into files)
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    numeric: dict[str, np.ndarray] = field(default_factory=dict)  # XLSX: cells written as numbers
    ragged: np.ndarray | None = None  # CSV: rows written with one extra field
    files: list[str] = field(default_factory=list)
    file_index: np.ndarray | None = None
    sheets: list[str] = field(default_factory=list)
    sheet_index: np.ndarray | None = None
    row_source: np.ndarray | None = None  # a file of several record kinds: each row's source (`<name>_<kind>`)

    @property
    def n(self) -> int:
        return len(self.person)

    def flag(self, code: str, mask: np.ndarray) -> None:
        old = self.errors.get(code)
        self.errors[code] = mask.copy() if old is None else (old | mask)

    def take(self, index: np.ndarray) -> Extract:
        """Rows by position (with repeats), every per-row array following."""
        ix = pa.array(np.asarray(index, dtype=np.int64))
        return Extract(
            spec=self.spec,
            columns={k: v.take(ix) for k, v in self.columns.items()},
            person=self.person[index],
            family=self.family[index],
            village=self.village[index],
            errors={k: v[index] for k, v in self.errors.items()},
            numeric={k: v[index] for k, v in self.numeric.items()},
            ragged=None if self.ragged is None else self.ragged[index],
            files=list(self.files),
            file_index=None if self.file_index is None else self.file_index[index],
            sheets=list(self.sheets),
            sheet_index=None if self.sheet_index is None else self.sheet_index[index],
            row_source=None if self.row_source is None else self.row_source[index],
        )

    def error_lists(self, order: Sequence[str]) -> pa.ListArray:
        """The planted error codes of every row, as a list<string> array (codes in `order`)."""
        codes = [c for c in order if c in self.errors] + sorted(set(self.errors) - set(order))
        if not codes:
            return pa.ListArray.from_arrays(pa.array(np.zeros(self.n + 1, np.int32)), pa.array([], pa.string()))
        matrix = np.stack([self.errors[c] for c in codes], axis=1)
        _, cols = np.nonzero(matrix)
        offsets = np.concatenate([[0], np.cumsum(matrix.sum(1))]).astype(np.int32)
        values = pa.array(codes, pa.string()).take(pa.array(cols.astype(np.int64)))
        return pa.ListArray.from_arrays(pa.array(offsets), values)


def exactly(
    rng: np.random.Generator, eligible: np.ndarray, rate: float, minimum: int = 0, of_all: bool = False
) -> np.ndarray:
    """A mask with exactly round(rate * eligible rows) rows (at least `minimum`), chosen among the eligible.

    With `of_all` the count is a share of all rows, still chosen among the eligible (as far as they go).
    """
    idx = np.flatnonzero(eligible)
    k = min(len(idx), max(minimum, round(rate * (len(eligible) if of_all else len(idx)))))
    out = np.zeros(len(eligible), bool)
    if k:
        out[rng.choice(idx, size=k, replace=False)] = True
    return out


def with_copies(rng: np.random.Generator, n: int, rate: float, minimum: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row order with ~rate*n rows repeated right after their original: (index, is_copy)."""
    copy = exactly(rng, np.ones(n, bool), rate, minimum)
    src = np.flatnonzero(copy)
    index = np.concatenate([np.arange(n), src])
    key = np.concatenate([np.arange(n, dtype=float), src + 0.5])
    order = np.argsort(key, kind="stable")
    is_copy = np.concatenate([np.zeros(n, bool), np.ones(len(src), bool)])
    return index[order], is_copy[order]


def code_map(vocabulary: Sequence[str], render: dict[str, str]) -> np.ndarray:
    """Source code per canonical vocabulary index (for rendering truth in a source's codes)."""
    return np.array([render[v] for v in vocabulary])


def region_files(
    codes: np.ndarray, village: np.ndarray, stem: str, ext: str, parts: int = 3
) -> tuple[list[str], np.ndarray]:
    """Split rows into files by province, else regency, else groups of districts (at least 2 files).

    `codes` are the dotted village codes of the geography, `village` the village index per row.
    """
    used = np.unique(village)
    for width in (2, 5):
        per_village = np.char.replace(np.array([c[:width] for c in codes]), ".", "")
        labels, index = np.unique(per_village[village], return_inverse=True)
        if len(labels) >= 2:
            return [f"{stem}_{label}.{ext}" for label in labels], index.astype(np.int64)
    district_of = np.array([c[:8] for c in codes])
    districts, d_index = np.unique(district_of[village], return_inverse=True)
    if len(districts) >= 2 and len(used) >= 2:
        k = min(parts, len(districts))
        index = (d_index * k) // len(districts)
    else:
        k = 2
        index = (np.arange(len(village)) * k) // max(len(village), 1)
    return [f"{stem}_bagian_{i + 1}.{ext}" for i in range(k)], index.astype(np.int64)
