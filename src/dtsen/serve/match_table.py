"""The registry side of bulk matching: every golden person with the columns the comparisons read.

Written once per release into the serving directory (`match.parquet`), so that a matching job
only reads it. Names are standardized by the ingest name standardizer (`name_lookup`), the
comparison columns are derived by the linkage's own `features` (NIK parts, sorted name, birth
date as text and with day and month swapped, district, regency, RT/RW), and each person carries
what a matched row returns: family, decile and flags.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.ingest.value_lookups import name_lookup
from dtsen.link.model import features

# What a matched row reports, from the person's family.
FAMILY_FLAGS = ("decile", "poor", "extreme_poor", "pkh", "bpnt", "pbi_jk")
# The comparison columns (both sides), as `dtsen.link.model.features` derives them.
COMPARISON_COLUMNS = (
    "nik", "nik_province", "nik_region", "nik_birth", "nik_serial", "name", "name_sorted", "name_tokens",
    "name_phonetic", "dob", "dob_swapped", "birth_year", "sex", "kk", "address", "region_code", "rt_rw",
    "district", "regency",
)  # fmt: skip


def registry_match_table(engine: Engine, persons: ir.Table, families: ir.Table) -> ir.Table:
    """One row per person: person_id, family_id, COMPARISON_COLUMNS, tf_name (the share of
    persons with the same standardized name, for the term-frequency adjustment), is_deceased and
    FAMILY_FLAGS."""
    names = name_lookup(engine, persons.select("full_name"))
    names = names.select(_v=names._v, name=names._name, name_tokens=names._name_tokens,
                         name_phonetic=names._name_phonetic)
    p = persons.select(
        "person_id", "family_id", "nik", "kk", "full_name", "sex", "birth_date", "region_code", "address", "rt", "rw",
        is_deceased=persons.is_deceased.fill_null(False),
    )
    j = p.left_join(names, p.full_name == names._v).drop("_v")
    t = features(j)
    named = t.filter(t.name.notnull())
    total = named.count().as_scalar().cast("float64")
    tf = named.group_by("name").aggregate(_n=named.count())
    tf = tf.select(_tf_key="name", tf_name=tf._n.cast("float64") / total)
    t = t.left_join(tf, t.name == tf._tf_key).drop("_tf_key")
    f = families.select(_fid=families.family_id, **{c: families[c] for c in FAMILY_FLAGS})
    t = t.left_join(f, t.family_id == f._fid).drop("_fid")
    return t.select(
        "person_id", "family_id", *COMPARISON_COLUMNS, "tf_name", "is_deceased", *FAMILY_FLAGS,
    ).mutate(decile=ibis._.decile.cast("int64"))
