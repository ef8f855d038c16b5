"""Vectorised rendering of numbers, dates and text the way the sources write them.

Everything here works on whole numpy / Arrow arrays: digits are built as byte matrices and
handed to Arrow as one buffer, so that a million dates or NIKs render in a fraction of a
second. Dates are handled as (year, month, day) parts, which lets a source write an
impossible date such as 31-02-1990 on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = np.datetime64("1970-01-01", "D")
DATE_LAYOUTS = ("DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "YYYYMMDD")


def digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of small non-negative integers as an (n, width) uint8 ASCII matrix."""
    v = np.asarray(values, dtype=np.int32)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int32)
    return ((v[:, None] // powers) % 10 + 48).astype(np.uint8)


def from_matrix(matrix: np.ndarray) -> pa.StringArray:
    """Rows of an (n, w) uint8 ASCII matrix as an Arrow string array."""
    m = np.ascontiguousarray(matrix, dtype=np.uint8)
    n, w = m.shape
    offsets = (np.arange(n + 1, dtype=np.int32) * w).astype(np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(m.tobytes()))


def padded(values: np.ndarray, width: int) -> pa.StringArray:
    """Non-negative integers as zero-padded text of (at least) a width (e.g. RT 3 -> '003')."""
    return _flat(pc.ascii_lpad(plain(values), width, "0"))


def plain(values: np.ndarray) -> pa.StringArray:
    """Integers as plain decimal text."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def to_days(dates: np.ndarray) -> np.ndarray:
    """datetime64[D] -> int64 days since 1970-01-01."""
    return (dates.astype("datetime64[D]") - EPOCH).astype(np.int64)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since 1970-01-01 -> (year, month, day) integer arrays."""
    d = EPOCH + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def days_of(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(year, month, day) of real dates -> days since 1970-01-01."""
    y = np.asarray(year, dtype=np.int64)
    m = np.asarray(month, dtype=np.int64)
    first = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]").astype("datetime64[D]")
    return to_days(first) + np.asarray(day, dtype=np.int64) - 1


def date_text(year: np.ndarray, month: np.ndarray, day: np.ndarray, layout: str) -> pa.StringArray:
    """Dates from parts in one of DATE_LAYOUTS (parts need not form a real date)."""
    y = digit_matrix(year, 4)
    m = digit_matrix(month, 2)
    d = digit_matrix(day, 2)
    n = y.shape[0]

    def sep(ch: str) -> np.ndarray:
        return np.full((n, 1), ord(ch), dtype=np.uint8)

    if layout == "DD-MM-YYYY":
        parts = [d, sep("-"), m, sep("-"), y]
    elif layout == "DD/MM/YYYY":
        parts = [d, sep("/"), m, sep("/"), y]
    elif layout == "YYYY-MM-DD":
        parts = [y, sep("-"), m, sep("-"), d]
    elif layout == "YYYYMMDD":
        parts = [y, m, d]
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown date layout {layout!r}")
    return from_matrix(np.hstack(parts))


def days_text(days: np.ndarray, layout: str) -> pa.StringArray:
    """Real dates (days since 1970-01-01) in one of DATE_LAYOUTS."""
    y, m, d = ymd(days)
    return date_text(y, m, d, layout)


def join(parts: Sequence[pa.Array | str], sep: str = "") -> pa.StringArray:
    """Element-wise concatenation; null parts are skipped (with their separator)."""
    arrays = [p if isinstance(p, pa.Array | pa.ChunkedArray) else pa.scalar(p) for p in parts]
    out = pc.binary_join_element_wise(*arrays, sep, null_handling="skip")
    return _flat(out)


def choose(mask: np.ndarray, when_true: pa.Array | str, when_false: pa.Array | str) -> pa.StringArray:
    """Element-wise pick between two string arrays (or scalars)."""
    return _flat(pc.if_else(pa.array(np.asarray(mask, dtype=bool)), when_true, when_false))


def blank(values: pa.Array, mask: np.ndarray) -> pa.StringArray:
    """Set the masked values to null."""
    return _flat(pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.scalar(None, pa.string()), values))


def pick(pool: Sequence[str] | np.ndarray, index: np.ndarray) -> pa.StringArray:
    """Values of a small pool taken by an index array."""
    return _flat(pa.array(list(pool), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64))))


def take(values: pa.Array, index: np.ndarray) -> pa.StringArray:
    return _flat(values.take(pa.array(np.asarray(index, dtype=np.int64))))


def to_numpy_text(values: pa.Array) -> np.ndarray:
    """A (small) Arrow string array as a numpy unicode array; nulls become ''."""
    return np.asarray(pc.fill_null(values, "").to_numpy(zero_copy_only=False), dtype=str)


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values
