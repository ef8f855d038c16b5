"""Lookups built once per distinct value: standardized names (shared by every source) and
cleaned addresses with the RT/RW they name. Values repeat, so cleaning each distinct one once
and joining is far cheaper than cleaning every row."""

from __future__ import annotations

import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.standardize import clean_address, clean_text, extract_rt_rw, had_control, standardize_names, strip_control


def name_lookup(engine: Engine, table: ir.Table) -> ir.Table:
    """Standardized name columns for every distinct `full_name` of `table`, keyed by `_v`.

    Built once for all sources, since the same name recurs across them.
    """
    values = table.select(_v=table.full_name).distinct()
    values = values.filter(values._v.notnull())
    values = engine.materialize(values.mutate(_s=strip_control(values._v)))  # control characters out
    named = standardize_names(engine.materialize, values, "_s", "_name_")
    return engine.materialize(named.mutate(_full_name_clean=clean_text(named._s), _name_ctl=had_control(named._v, named._s))
                              .drop("_s").rename(_name="_name_name"))


def address_lookup(engine: Engine, raw: ir.Table) -> ir.Table:
    """Each distinct address cleaned once (one per family, roughly), with the RT/RW it names,
    keyed by `_k_address`."""
    values = raw.select(_k_address=raw.address).distinct()
    values = values.filter(values._k_address.notnull())
    values = engine.materialize(values.mutate(_s=strip_control(values._k_address)))  # control characters out
    rt, rw = extract_rt_rw(values._s)
    return engine.materialize(values.mutate(_addr_clean=clean_address(values._s), _addr_rt=rt, _addr_rw=rw,
                                            _addr_ctl=had_control(values._k_address, values._s)).drop("_s"))
