"""Known answers for RT/RW extraction and address cleaning, on every engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.engine import Engine
from dtsen.standardize.address import clean_address, extract_rt_rw, normalize_rt


def _run(engine: Engine, values: Sequence[str | None], build: Callable[[ir.StringValue], dict[str, Any]]) -> list[dict]:
    """Rows of `build(raw)` in input order; nulls travel as a flag (Spark's from_arrow loses them)."""
    table = engine.from_arrow(
        pa.table({"i": list(range(len(values))), "raw": [v or "" for v in values], "null": [v is None for v in values]})
    )
    raw = ibis.ifelse(table.null, ibis.null("string"), table.raw)
    return table.select("i", **build(raw)).order_by("i").to_pyarrow().drop(["i"]).to_pylist()


# address -> (rt, rw, cleaned address)
ADDRESSES: list[tuple[str | None, str | None, str | None, str | None]] = [
    ("JL. MAWAR NO. 5 RT 003/RW 005", "003", "005", "JL MAWAR NO 5"),
    ("Jln. Melati No.12 RT.3 RW.5 Kel. Sukamaju", "003", "005", "JL MELATI NO 12 KELURAHAN SUKAMAJU"),
    ("Dsn Krajan Rt 03 Rw 05 Ds. Sumberejo", "003", "005", "DUSUN KRAJAN DESA SUMBEREJO"),
    ("RT/RW 003/005 Kp. Babakan", "003", "005", "KAMPUNG BABAKAN"),
    ("Gg. Kelinci RT 3 / RW 5", "003", "005", "GG KELINCI"),
    ("RT003RW005", "003", "005", None),
    ("perum griya asri blok c-7 rt.01/rw.02", "001", "002", "PERUMAHAN GRIYA ASRI BLOK C 7"),
    ("Jalan Kartini 3 RT 003/005", "003", "005", "JL KARTINI 3"),
    ("Jl. Kartini No. 3", None, None, "JL KARTINI NO 3"),
    ("Kec. Cibeunying, Gang Mawar", None, None, "KECAMATAN CIBEUNYING GG MAWAR"),
    ("RT 0 RW 000", None, None, None),
    ("RT 12 RW 1234", "012", None, None),
    ("Dusun Ma'rifat RT 7", "007", None, "DUSUN MARIFAT"),
    ("Kampung Sawah rw 9", None, "009", "KAMPUNG SAWAH"),
    (None, None, None, None),
    ("", None, None, None),
]


def test_known_addresses(engine: Engine) -> None:
    def build(raw: ir.StringValue) -> dict[str, Any]:
        rt, rw = extract_rt_rw(raw)
        return {"rt": rt, "rw": rw, "address": clean_address(raw)}

    rows = _run(engine, [a for a, *_ in ADDRESSES], build)
    got = [(a, r["rt"], r["rw"], r["address"]) for (a, *_), r in zip(ADDRESSES, rows, strict=True)]
    assert got == ADDRESSES


RT_VALUES: list[tuple[str | None, str | None]] = [
    ("3", "003"),
    ("03", "003"),
    ("003", "003"),
    ("RT 3", "003"),
    ("rw.05", "005"),
    (" 12 ", "012"),
    ("3.0", "003"),
    ("120", "120"),
    ("0", None),
    ("000", None),
    ("1234", None),
    ("abc", None),
    ("-", None),
    ("", None),
    (None, None),
]


def test_normalize_rt(engine: Engine) -> None:
    rows = _run(engine, [v for v, _ in RT_VALUES], lambda raw: {"rt": normalize_rt(raw)})
    assert [(v, r["rt"]) for (v, _), r in zip(RT_VALUES, rows, strict=True)] == RT_VALUES
