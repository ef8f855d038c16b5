"""Bulk matching (*padan data*): each row of a ministry's list against the registry.

Every row gets one status, with the same comparison rules as the batch linkage:

exact_nik      the row's NIK is valid, one registry person carries it, and the name and the
               birth date agree as the linkage's deterministic pass requires (the same name, the
               same sound, at most two edits, or one name's words inside the other's; the same
               birth date or day and month swapped; the same sex when both are known), with at
               least one of name and birth date given
probabilistic  otherwise, scored against candidates found by the linkage's blocking rules with
               the linkage model's comparisons and weights (`scoring`): one candidate at or
               above `match_threshold`, or the best one ahead of the next by `ambiguity_margin`
               bits. A NIK that belongs to someone else (name or birth date disagree) is
               withheld from this pass, as the linkage withholds a NIK conflict; a valid NIK
               that is not in the registry stays (a mistyped digit still scores)
ambiguous      several registry persons fit equally well (two persons confirmed on one NIK, or
               several candidates above the threshold with none clearly ahead)
none           no registry person fits

`reasons` says why, with the input's own problems (from ingest's checks, e.g.
`nik_excel_damaged`) and the matching's: `nik_not_found`, `nik_conflict`, `nik_unconfirmed`
(a NIK with neither name nor birth date to confirm it), `no_link_model`, `unreadable row`.

All of it runs as DuckDB queries over whole tables (the blocking joins, the comparisons'
CASE expressions, the decision); nothing loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.link.deterministic import names_agree
from dtsen.link.model import BLOCKING_RULES, features
from dtsen.serve.match_table import COMPARISON_COLUMNS, FAMILY_FLAGS
from dtsen.serve.scoring import MatchModel, prior_weight, weight_sql

STATUSES = ("exact_nik", "probabilistic", "ambiguous", "none")
RESULT_COLUMNS = (
    "row", "sheet", "status", "person_id", "family_id", "match_probability", "match_weight", "candidates",
    "is_deceased", *FAMILY_FLAGS, "reasons",
)  # fmt: skip
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class MatchOptions:
    threshold: float = 0.9
    ambiguity_margin: float = 5.0


DEFAULT_OPTIONS = MatchOptions()


def _quiet(stage: str, done: float) -> None:
    pass


def _join_reasons(*parts: ir.StringValue) -> ir.StringValue:
    return ibis.literal(";").join(list(parts)).nullif("")


def _upload_side(rows: ir.Table) -> ir.Table:
    """The upload's rows with the columns the comparisons read (`dtsen.link.model.features`)."""
    t = rows.mutate(
        _uid=ibis.row_number().over(order_by=[rows.sheet.fill_null(""), rows.row]),
        kk=ibis.null("string"), rt=ibis.null("string"), rw=ibis.null("string"), address=ibis.null("string"),
    )
    return features(t)


def _exact(u: ir.Table, r: ir.Table) -> ir.Table:
    """Per upload row with a valid NIK found in the registry: how many persons carry the NIK
    (`_hits`), how many of them the name and birth date confirm (`_confirmed`), and the one
    confirmed person (`_exact_pid`, when exactly one)."""
    reg = r.select(
        _rnik=r.nik, _pid=r.person_id, name_a=r.name, name_tokens_a=r.name_tokens,
        name_phonetic_a=r.name_phonetic, _rdob=r.dob, _rsex=r.sex,
    )
    left = u.filter(u.nik.notnull()).select("_uid", "nik", "name", "name_tokens", "name_phonetic", "dob",
                                            "dob_swapped", "sex")
    j = left.inner_join(reg, left.nik == reg._rnik)
    same_dob = j.dob.isnull() | j._rdob.isnull() | (j.dob == j._rdob) | (j.dob_swapped == j._rdob)
    same_sex = j.sex.isnull() | j._rsex.isnull() | (j.sex == j._rsex)
    given = j.name.notnull() | j.dob.notnull()
    ok = (names_agree(j) & same_dob & same_sex & given).fill_null(False)
    j = j.mutate(_ok=ok, _given=given)
    return j.group_by("_uid").aggregate(
        _hits=j.count(),
        _confirmed=j._ok.cast("int64").sum(),
        _exact_pid=j._ok.ifelse(j._pid, ibis.null("int64")).max(),
        _given=j._given.any(),
    )


def _from_sql(engine: Engine, name: str, sql: str) -> ir.Table:
    """A table computed by `sql` (built here from the model's and the linkage's own SQL, never
    from input), kept under `name`. (Ibis' own `.sql()` does not run on DuckDB 2.)"""
    engine.con.raw_sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    return engine.con.table(name)


def _candidates(engine: Engine, p: ir.Table, r: ir.Table) -> ir.Table:
    """(_uid, person_id) pairs that meet at least one of the linkage's blocking rules."""
    pl, rr = engine.physical_name(p), engine.physical_name(r)
    selects = [f"SELECT l._uid, r.person_id FROM {pl} AS l JOIN {rr} AS r ON {rule}" for rule in BLOCKING_RULES]
    return _from_sql(engine, f"{pl}_candidates", " UNION ".join(selects))


def _scores(engine: Engine, pairs: ir.Table, model: MatchModel, prior: float) -> ir.Table:
    """Each pair's match weight and probability, by the model's CASE expressions."""
    name = engine.physical_name(pairs)
    gammas = ", ".join(c.case_sql for c in model.comparisons)
    weight = " + ".join([repr(prior), *(weight_sql(c) for c in model.comparisons)])
    scored = (f"SELECT _uid, person_id, ({weight}) AS match_weight FROM "
              f"(SELECT _uid, person_id, tf_name_r, {gammas} FROM {name})")
    return _from_sql(engine, f"{name}_scored",
                     f"SELECT *, 1.0 / (1.0 + pow(2.0, -match_weight)) AS match_probability FROM ({scored})")


def match_rows(
    engine: Engine,
    rows: ir.Table,
    registry: ir.Table,
    model: MatchModel | None,
    registry_persons: int,
    options: MatchOptions = DEFAULT_OPTIONS,
    progress: Progress = _quiet,
) -> ir.Table:
    """Match standardized upload rows (`upload.read_upload(...).rows`) against the registry
    side of a serving index (`match.parquet`); RESULT_COLUMNS, one row per input row."""
    progress("exact", 0.0)
    u = engine.materialize(_upload_side(rows))
    r = registry  # read where it lies (Parquet): each query reads only the columns it needs
    ex = engine.materialize(_exact(u, r))
    progress("exact", 1.0)

    e = ex.select(_euid=ex._uid, _hits=ex._hits, _confirmed=ex._confirmed, _exact_pid=ex._exact_pid, _given=ex._given)
    t = u.left_join(e, u._uid == e._euid).drop("_euid")
    hits = t._hits.fill_null(0)
    confirmed = t._confirmed.fill_null(0)
    nik_reason = ibis.cases(
        (t.nik.notnull() & (hits == 0), "nik_not_found"),
        ((hits > 0) & (confirmed == 0) & ~t._given.fill_null(False), "nik_unconfirmed"),
        ((hits > 0) & (confirmed == 0), "nik_conflict"),
        else_=ibis.null("string"),
    )
    t = engine.materialize(t.mutate(_hits=hits, _confirmed=confirmed, _nik_reason=nik_reason))

    # the probabilistic pass: rows without exactly-one or several confirmed NIK holders
    rest = t.filter(t._confirmed == 0)
    hide = rest._hits > 0  # the NIK belongs to someone else: withheld, as the linkage does
    nik_cols = ("nik", "nik_province", "nik_region", "nik_birth", "nik_serial")
    rest = rest.mutate(**{c: ibis.ifelse(hide, ibis.null("string"), rest[c]) for c in nik_cols})
    p = engine.materialize(rest.select("_uid", *[c for c in COMPARISON_COLUMNS if c in rest.columns]))

    if model is not None:
        progress("candidates", 0.0)
        cand = _candidates(engine, p, r)
        progress("candidates", 1.0)
        left = p.rename(**{f"{c}_l": c for c in COMPARISON_COLUMNS if c in p.columns})
        right = r.select("person_id", "tf_name", *COMPARISON_COLUMNS)
        right = right.rename(tf_name_r="tf_name", **{f"{c}_r": c for c in COMPARISON_COLUMNS})
        pairs = cand.inner_join(left, "_uid").inner_join(right, "person_id")
        pairs = engine.materialize(pairs)
        progress("score", 0.0)
        scored = _scores(engine, pairs, model, prior_weight(registry_persons))
        progress("score", 1.0)
        above = scored.filter(scored.match_probability >= options.threshold)
        w = ibis.window(group_by="_uid", order_by=[above.match_weight.desc(), above.person_id])
        ranked = above.mutate(_rank=ibis.row_number().over(w), _n=above._uid.count().over(ibis.window(group_by="_uid")))
        best = ranked.filter(ranked._rank == 0).select(_buid="_uid", _bpid="person_id", _bw="match_weight",
                                                       _bp="match_probability", _n="_n")
        second = ranked.filter(ranked._rank == 1).select(_suid="_uid", _sw="match_weight")
        decided = best.left_join(second, best._buid == second._suid).drop("_suid")
        decided = decided.mutate(_clear=(decided._n == 1) | ((decided._bw - decided._sw) >= options.ambiguity_margin))
        top = scored.group_by(_tuid="_uid").aggregate(_top_p=scored.match_probability.max())
    else:
        decided = None
        top = None

    out = t
    if decided is not None and top is not None:
        out = out.left_join(decided, out._uid == decided._buid).drop("_buid")
        out = out.left_join(top, out._uid == top._tuid).drop("_tuid")
        n_above = out._n.fill_null(0)
        clear = out._clear.fill_null(False)
        prob_pid, prob_p, prob_w = out._bpid, out._bp, out._bw
        top_p = out._top_p
        model_reason = ibis.null("string")
    else:
        n_above = ibis.literal(0, type="int64")
        clear = ibis.literal(False)
        prob_pid = ibis.null("int64")
        prob_p = prob_w = top_p = ibis.null("float64")
        model_reason = ibis.ifelse(out._confirmed == 0, "no_link_model", ibis.null("string"))

    status = ibis.cases(
        (out._confirmed == 1, "exact_nik"),
        (out._confirmed > 1, "ambiguous"),
        ((n_above >= 1) & clear, "probabilistic"),
        (n_above >= 2, "ambiguous"),
        else_="none",
    )
    person = ibis.cases((out._confirmed == 1, out._exact_pid), ((n_above >= 1) & clear, prob_pid),
                        else_=ibis.null("int64"))
    probability = ibis.cases((out._confirmed == 1, ibis.literal(1.0)), ((n_above >= 1) & clear, prob_p),
                             (out._confirmed > 1, ibis.null("float64")), else_=top_p)
    weight = ibis.cases(((out._confirmed == 0) & (n_above >= 1) & clear, prob_w), else_=ibis.null("float64"))
    candidates = ibis.cases((out._confirmed > 0, out._confirmed), else_=n_above)
    out = out.mutate(status=status, person_id=person, match_probability=probability, match_weight=weight,
                     candidates=candidates.cast("int64"), _why=_join_reasons(out.reasons, out._nik_reason, model_reason))
    flags = r.select(_fpid=r.person_id, family_id=r.family_id, is_deceased=r.is_deceased,
                     **{c: r[c] for c in FAMILY_FLAGS})
    out = out.left_join(flags, out.person_id == flags._fpid).drop("_fpid")
    return out.select(*[c for c in RESULT_COLUMNS if c != "reasons"], reasons=out._why)


def unreadable_rows(unreadable: ir.Table) -> ir.Table:
    """Rows the reader could not split: status none, with the reader's reason."""
    t = unreadable
    types = {"person_id": "int64", "family_id": "int64", "match_probability": "float64", "match_weight": "float64",
             "is_deceased": "boolean", "decile": "int64"}
    nulls = {c: ibis.null(types.get(c, "boolean")) for c in RESULT_COLUMNS
             if c not in ("row", "sheet", "status", "candidates", "reasons")}
    return t.select(row=t.row, sheet=t.sheet, status=ibis.literal("none"), candidates=ibis.literal(0, type="int64"),
                    reasons=t.reasons, **nulls).select(*RESULT_COLUMNS)
