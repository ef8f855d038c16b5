"""The deterministic pass: records sharing a valid NIK, one person when their names agree.

Per NIK, the record of the most trusted source (then the most recent) is the anchor. A record
with the same NIK joins the anchor when:

- the names agree (the same, the same sound (phonetic key), at most two edits, or one in four
  letters, or one name's words all inside the other's: "NUR AISYAH" in "SITI NUR AISYAH"),
  and birth date (the same, day and month swapped, or one side unknown) and sex (the same, or
  one side unknown) agree too; or
- the names agree closely (the same, the same words in another order, the same sound, or one
  name's words inside the other's) and the birth date slipped in one part only (the year
  mistyped with day and month kept, `21/03/2001` for `21-03-2010`; or the day or the month
  alone), and/or the sex is miscoded. The NIK itself encodes the birth date and the sex, so
  survivorship (`dtsen.consolidate`) gives the golden record the value that agrees with the
  NIK, and the disagreement becomes a conflict.

A record that shares the NIK but whose name disagrees too is someone else carrying a
duplicated or mis-keyed NIK: it is flagged `nik_conflict`, keeps its own node, and goes to the
probabilistic pass with its NIK hidden, so it is never merged on the NIK alone; the pair is
also written to clerical review (`nik_conflict_pairs`), where a person decides.

The result maps every record to a node: the anchor of its NIK group, or itself. Splink then
compares nodes, not records, which takes most records off its hands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

NIK_PATTERN = r"^[0-9]{16}$"


@dataclass(frozen=True)
class Deterministic:
    """Every record's node, and the NIKs found shared by different people."""

    assignment: ir.Table  # record_key, node_key, method ('nik' | 'alone'), nik_conflict
    conflicts: ir.Table  # nik, records, conflicting (records that disagree with the anchor)
    pairs: ir.Table  # record_key, anchor_key: each NIK conflict with the anchor of its NIK group


def source_rank(trust: Mapping[str, Mapping[str, float]], field: str = "nik") -> dict[str, int]:
    """Sources ordered by how far their `field` is trusted (then by name): 0 is the best."""
    ordered = sorted(trust, key=lambda s: (-trust[s].get(field, 0.5), s))
    return {s: i for i, s in enumerate(ordered)}


def _rank_expr(source: ir.StringValue, ranks: Mapping[str, int]) -> ir.IntegerValue:
    if not ranks:
        return ibis.literal(0)
    return source.cases(*ranks.items(), else_=len(ranks))


def nik_pass(records: ir.Table, ranks: Mapping[str, int]) -> Deterministic:
    """Group records on valid NIKs; see the module docstring."""
    t = records.select(
        "record_key",
        "source",
        "nik",
        "name",
        "name_tokens",
        "name_phonetic",
        "sex",
        "birth_date",
        "observed_at",
    )
    t = t.mutate(_valid=t.nik.notnull() & t.nik.re_search(NIK_PATTERN), _rank=_rank_expr(t.source, ranks))
    keyed = t.filter(t._valid)
    w = ibis.window(group_by="nik", order_by=[keyed._rank, keyed.observed_at.desc(), keyed.record_key])
    keyed = keyed.mutate(_pos=ibis.row_number().over(w))
    anchors = keyed.filter(keyed._pos == 0).select(
        nik=keyed.nik,
        a_key=keyed.record_key,
        name=keyed.name,
        name_tokens=keyed.name_tokens,
        name_phonetic=keyed.name_phonetic,
        a_sex=keyed.sex,
        a_dob=keyed.birth_date,
    )
    j = keyed.join(anchors, "nik", lname="", rname="{name}_a")
    joined = j.mutate(_agree=nik_group_agrees(j))
    keyed_out = joined.select(
        record_key=joined.record_key,
        node_key=ibis.ifelse(joined._agree, joined.a_key, joined.record_key),
        nik_conflict=~joined._agree,
        nik=joined.nik,
        anchor_key=joined.a_key,
    )
    # a group whose only agreeing record is the anchor itself: the anchor is 'alone'
    sizes = keyed_out.group_by("node_key").agg(_members=keyed_out.count())
    keyed_out = keyed_out.join(sizes, "node_key").mutate(method=ibis.ifelse(ibis._["_members"] > 1, "nik", "alone"))
    loose = t.filter(~t._valid).select(
        record_key=t.record_key,
        node_key=t.record_key,
        nik_conflict=ibis.literal(False),
        nik=t.nik,
        method=ibis.literal("alone"),
    )
    assignment = keyed_out.select("record_key", "node_key", "method", "nik_conflict", "nik").union(
        loose.select("record_key", "node_key", "method", "nik_conflict", "nik")
    )
    conflicts = keyed_out.group_by("nik").agg(
        records=keyed_out.count(), conflicting=keyed_out.nik_conflict.sum().cast("int64")
    )
    conflicts = conflicts.filter(conflicts.conflicting > 0)
    odd = keyed_out.filter(keyed_out.nik_conflict)
    pairs = odd.select(record_key=odd.record_key, anchor_key=odd.anchor_key)
    return Deterministic(assignment.drop("nik"), conflicts, pairs)


def nik_group_agrees(j: ir.Table) -> ir.BooleanValue:
    """Whether a record (`name`, `sex`, `birth_date` columns) and its NIK group's anchor (the
    same with `_a`, and `a_sex`, `a_dob`) are one person; see the module docstring."""
    same_sex = j.sex.isnull() | j.a_sex.isnull() | (j.sex == j.a_sex)
    dob, adob = j.birth_date, j.a_dob
    d_day, d_month, d_year = dob.day() == adob.day(), dob.month() == adob.month(), dob.year() == adob.year()
    swapped = (dob.day() == adob.month()) & (dob.month() == adob.day()) & d_year
    same_dob = dob.isnull() | adob.isnull() | (dob == adob) | swapped
    # one part of the date slipped: the year (day and month kept), or the day, or the month
    slipped = (d_day & d_month) | (d_year & (d_day | d_month))
    agree = names_agree(j) & same_sex & same_dob
    close = names_close(j) & (same_dob | slipped.fill_null(False))
    return (agree | close).fill_null(False)


def _word_counts(j: ir.Table) -> tuple[ir.IntegerValue, ir.IntegerValue, ir.IntegerValue]:
    """The distinct words the two names share, and the fewer and the more distinct words of the
    two. Distinct on both engines: Ibis writes `intersect` as a filter on DuckDB, which keeps a
    repeated word (MUHAMMAD MUHAMMAD), and as ARRAY_INTERSECT on Spark, which does not."""
    mine, other = j.name_tokens.unique(), j.name_tokens_a.unique()
    shared = mine.intersect(other).length()
    return shared, ibis.least(mine.length(), other.length()), ibis.greatest(mine.length(), other.length())


def names_close(j: ir.Table) -> ir.BooleanValue:
    """The stricter name test for records whose birth date or sex disagree: the same name, the
    same words in another order, the same sound, the same letters with the spaces put elsewhere
    (ZAENABOLIVIA, ZAENAB OLIVIA), or one name's words all inside the other's. No edit distance:
    PUTRA and PUTRI, twins of other sexes, are one letter apart."""
    shared, fewest, most = _word_counts(j)
    return (
        j.name.notnull()
        & j.name_a.notnull()
        & (
            (j.name == j.name_a)
            | (j.name_phonetic == j.name_phonetic_a)
            | (j.name.replace(" ", "") == j.name_a.replace(" ", ""))
            | ((fewest > 0) & (shared == fewest) & ((fewest > 1) | (most == 1)))
        )
    ).fill_null(False)


def names_agree(j: ir.Table) -> ir.BooleanValue:
    """The name test, between `name*` and the anchor's `name*_a` columns of one table."""
    longest = ibis.greatest(j.name.length(), j.name_a.length())
    shared, fewest, _most = _word_counts(j)
    return (
        j.name.isnull()
        | j.name_a.isnull()
        | (j.name == j.name_a)
        | (j.name_phonetic == j.name_phonetic_a)
        | (j.name.levenshtein(j.name_a) <= ibis.greatest(2, longest // 4))
        | ((fewest > 0) & (shared == fewest))
    )


LINKING_METHODS = ("splink", "review")
"""Edge methods that may join two nodes; the others are kept for review and explanation only."""


def veto_different_niks(edges: ir.Table, nodes: ir.Table, registry: Sequence[str]) -> ir.Table:
    """Two nodes that carry different valid NIKs are two people unless shown otherwise:

    - `nik_name_veto`: their names do not agree (the test above). Scored high, such a pair is what
      twins and others born the same day on one KK look like: NIKs one serial apart, the same
      birth date and household, other names. A mistyped NIK keeps its name, so a typo still links.
    - `two_registry_niks`: both NIKs are confirmed by a registry source (`registry`: Dukcapil),
      which lists each person once. In a dense regency, people born the same day in the same
      district with the same short name are common; if two registry entries really are one person,
      that is for a person to decide: the pair goes to clerical review, whatever its score.

    Such edges keep Splink's score; only their method changes, and clustering uses only
    `LINKING_METHODS`."""
    cols = ["unique_id", "nik", "name", "name_tokens", "name_phonetic", "source"]
    left = nodes.select(cols).rename(record_key_l="unique_id")
    right = nodes.select(cols).rename(
        record_key_r="unique_id",
        nik_a="nik",
        name_a="name",
        name_tokens_a="name_tokens",
        name_phonetic_a="name_phonetic",
        source_a="source",
    )
    j = edges.join(left, "record_key_l").join(right, "record_key_r")
    return j.mutate(method=_apart_reason(j, registry).fill_null(j.method)).select(edges.columns)


def _apart_reason(j: ir.Table, registry: Sequence[str]) -> ir.StringValue:
    """Why two nodes (`nik`, `name*`, `source` and the other's `*_a`) are two people
    ('nik_name_veto' or 'two_registry_niks'), or null when nothing says so. Clustering keeps such
    nodes apart even when others chain them together (`apart_within_clusters`)."""
    both = j.nik.notnull() & j.nik_a.notnull() & (j.nik != j.nik_a)
    confirmed = j.source.isin(list(registry)) & j.source_a.isin(list(registry)) if registry else ibis.literal(False)
    return ibis.cases(
        (both & ~names_agree(j), ibis.literal("nik_name_veto")),
        (both & confirmed, ibis.literal("two_registry_niks")),
        else_=ibis.null("string"),
    )


def apart_within_clusters(clusters: ir.Table, nodes: ir.Table, registry: Sequence[str]) -> ir.Table:
    """Pairs of nodes in one cluster (`clusters`: node_key, cluster) that `veto_different_niks`
    would keep apart had they been compared (node_l, node_r). Scored pairs are vetoed one by one;
    a cluster is a chain, and a node with no NIK (withheld as damaged, or none in the source) can
    score high with two people born the same day in the same village and join them. Only the
    clusters that hold more than one NIK are looked at. Pairs that were scored and vetoed are
    among them when they ended in one cluster."""
    cols = ["unique_id", "nik", "name", "name_tokens", "name_phonetic", "source"]
    n = nodes.filter(nodes.nik.notnull()).select(cols)
    n = n.join(clusters, n.unique_id == clusters.node_key).select(*cols, "cluster")
    several = n.group_by("cluster").aggregate(_niks=n.nik.nunique())
    n = n.join(several.filter(several._niks > 1).select("cluster"), "cluster")
    right = n.select(
        cluster_a="cluster", unique_id_a="unique_id", nik_a="nik", name_a="name", name_tokens_a="name_tokens",
        name_phonetic_a="name_phonetic", source_a="source",
    )
    j = n.join(right, [n.cluster == right.cluster_a, n.unique_id < right.unique_id_a])
    j = j.filter(_apart_reason(j, registry).notnull())
    return j.select(node_l=j.unique_id, node_r=j.unique_id_a)
