"""The probabilistic pass: a Splink model built for Indonesian person records.

Comparisons (each with a null level, so a missing value is neutral):

- NIK: the same; the same district and birth part with another serial (what twins and others
  born the same day in the same district look like, so EM learns it is weak evidence, and the
  name decides); one digit wrong or two digits swapped elsewhere; different.
- name: the same (term-frequency adjusted: SITI agreeing means less than a rare name); the same
  words in another order; one name's words all inside the other's ("NUR AISYAH" within "SITI NUR
  AISYAH"); a close spelling (Jaro-Winkler 0.92); the same sound (phonetic key, which folds old
  spellings: OE/U, DJ/J, TJ/C); a loose spelling (0.80); different. Titles are already removed.
- birth date: the same; day and month swapped; one digit mistyped; the same year; different.
- household, as ONE comparison: the same KK (with the same address, or not); a KK unknown on one
  side (not in the source, or withheld as damaged) and the same village (with the same address,
  or not); the same village (with the same address and RT/RW, or not), district, regency. KK,
  village and address agree together for everyone in a family; scored apart they would count
  the family three times and merge its members. A project without village codes or KKs drops
  the levels (and the blocking rules and EM sessions) that need them (`Available`).
- sex.

Blocking rules never key on one skewed field alone: NIK parts in pairs (district with birth part;
birth part with serial, within the province; district with serial and the recorded birth date,
since serial 0001 is most of all serials), so one mistyped digit still meets a rule; birth date
with district; name sound with district, or with birth year and regency; the date swapped with the
name sound; and KK (a family holds a handful of people).

Training: u by random sampling, m by expectation maximisation in two sessions (blocked on the NIK,
which frees every other comparison, and on birth date with district, which frees the NIK), on
all records. Prediction runs on the nodes of the deterministic pass: one per NIK group plus every
record without a usable NIK. Term frequencies come from the nodes, which are de-duplicated
people, so duplicates do not bias them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine

_NIK_RULES = (
    # a mistyped serial: district and birth part agree
    "l.nik_region = r.nik_region and l.nik_birth = r.nik_birth",
    # a mistyped district: birth part and serial agree, within the province
    "l.nik_province = r.nik_province and l.nik_birth = r.nik_birth and l.nik_serial = r.nik_serial",
    # a mistyped birth part: district and serial agree, and the recorded birth date (which the
    # typo did not touch). District and serial alone would be quadratic: most serials are 0001.
    "l.nik_region = r.nik_region and l.nik_serial = r.nik_serial and l.dob = r.dob",
    # digits swapped across a part border: the same birth date and name sound, anywhere
    "l.dob = r.dob and l.name_phonetic = r.name_phonetic",
)
_OTHER_RULES = (
    "l.dob = r.dob and l.district = r.district",
    "l.name_phonetic = r.name_phonetic and l.district = r.district",
    "l.name_phonetic = r.name_phonetic and l.birth_year = r.birth_year and l.regency = r.regency",
    "l.dob_swapped = r.dob and l.name_phonetic = r.name_phonetic",
    "l.kk = r.kk",
)
# Two nodes that both carry a valid NIK and meet only on another rule are two people (the NIK
# rules above catch a mistyped digit), so the other rules skip such pairs.
_ONE_WITHOUT_NIK = " and (l.nik is null or r.nik is null)"
BLOCKING_RULES = _NIK_RULES + tuple(rule + _ONE_WITHOUT_NIK for rule in _OTHER_RULES)

# The deterministic rules that fix the prior (how likely two random nodes are the same person):
# a full name, birth date and village all equal is almost never two people.
PRIOR_RULES = ("l.name = r.name and l.dob = r.dob and l.region_code = r.region_code",)
PRIOR_RECALL = 0.6


# The canonical field each feature column is derived from: a rule or comparison that reads a
# feature of a field no person source has is dropped (see `Available`).
FEATURE_FIELD = {
    "nik": "nik", "nik_province": "nik", "nik_region": "nik", "nik_birth": "nik", "nik_serial": "nik",
    "name": "full_name", "name_sorted": "full_name", "name_tokens": "full_name", "name_phonetic": "full_name",
    "dob": "birth_date", "dob_swapped": "birth_date", "birth_year": "birth_date",
    "region_code": "region_code", "district": "region_code", "regency": "region_code",
    "kk": "kk", "sex": "sex", "address": "address", "rt_rw": "rt",
}  # fmt: skip
LINK_FIELDS = ("nik", "full_name", "birth_date", "sex", "kk", "region_code")


@dataclass(frozen=True)
class Available:
    """Which linking fields the person records hold at all (some value in some source).

    A project whose person sources have no village code anywhere (or no KK, no birth date, ...)
    still links: the blocking rules, EM sessions, prior rules and comparison levels that read the
    missing field are dropped, and `notes` says which."""

    missing: frozenset[str] = frozenset()

    def keeps(self, rule: str) -> bool:
        """Whether a blocking rule reads only fields that are present."""
        text = rule.replace(_ONE_WITHOUT_NIK, "").replace("(", " ").replace(")", " ")
        used = {FEATURE_FIELD.get(tok.split(".", 1)[1]) for tok in text.split() if tok[:2] in ("l.", "r.")}
        return not (used & self.missing)

    def rules(self, rules: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(r for r in rules if self.keeps(r))

    def notes(self, sources: tuple[str, ...] = ()) -> list[str]:
        which = f" ({', '.join(sources)})" if sources else ""
        return [
            f"no person source{which} has any {f}: the comparisons and blocking rules that need it are left out"
            for f in LINK_FIELDS
            if f in self.missing
        ]


@dataclass(frozen=True)
class ModelOptions:
    u_max_pairs: float = 2e6
    em_max_pairs: float = 2e6
    seed: int = 42


def features(t: ir.Table) -> ir.Table:
    """The columns the comparisons and blocking rules read, derived once on the engine."""
    nik = ibis.ifelse(t.nik.re_search(r"^[0-9]{16}$"), t.nik, ibis.null("string"))
    dob = t.birth_date
    day, month, year = dob.day(), dob.month(), dob.year()
    dob_s = dob.cast("string")
    swapped = ibis.ifelse(
        (day <= 12) & (day != month),
        year.cast("string").concat("-", day.cast("string").lpad(2, "0"), "-", month.cast("string").lpad(2, "0")),
        ibis.null("string"),
    )
    region = t.region_code
    kk = ibis.ifelse(t.kk.re_search(r"^[0-9]{16}$"), t.kk, ibis.null("string"))
    rt_rw = ibis.ifelse(t.rt.notnull() & t.rw.notnull(), t.rt.concat("/", t.rw), ibis.null("string"))
    return t.mutate(
        nik=nik,
        nik_province=nik.substr(0, 2),
        nik_region=nik.substr(0, 6),
        nik_birth=nik.substr(6, 6),
        nik_serial=nik.substr(12, 4),
        name_sorted=ibis.ifelse(t.name_tokens.length() > 0, t.name_tokens.sort().join(" "), ibis.null("string")),
        dob=dob_s,
        dob_swapped=swapped,
        birth_year=year,
        district=region.substr(0, 8),
        regency=region.substr(0, 5),
        kk=kk,
        rt_rw=rt_rw,
    )


def comparisons(available: Available | None = None) -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    nik = cl.CustomComparison(
        output_column_name="nik",
        comparison_levels=[
            cll.NullLevel("nik"),
            cll.ExactMatchLevel("nik"),
            cll.CustomLevel(
                "nik_region_l = nik_region_r and nik_birth_l = nik_birth_r",
                "same district and birth part, another serial (a twin, or a serial mistyped)",
            ),
            cll.DamerauLevenshteinLevel("nik", 1),
            cll.ElseLevel(),
        ],
    )
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.ExactMatchLevel("name_sorted").configure(label_for_charts="same words, another order"),
            cll.ArraySubsetLevel("name_tokens").configure(label_for_charts="one name within the other"),
            cll.JaroWinklerLevel("name", 0.92),
            cll.ExactMatchLevel("name_phonetic").configure(label_for_charts="same sound"),
            cll.JaroWinklerLevel("name", 0.8),
            cll.ElseLevel(),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel("dob_swapped_l = dob_r", "day and month swapped"),
            cll.LevenshteinLevel("dob", 1),
            cll.ExactMatchLevel("birth_year").configure(label_for_charts="same year"),
            cll.ElseLevel(),
        ],
    )
    sex = cl.CustomComparison(
        output_column_name="sex",
        comparison_levels=[cll.NullLevel("sex"), cll.ExactMatchLevel("sex"), cll.ElseLevel()],
    )
    missing = available.missing if available is not None else frozenset()
    kk_levels = [
        cll.CustomLevel("kk_l = kk_r and address_l = address_r", "same KK and address"),
        cll.CustomLevel("kk_l = kk_r", "same KK"),
    ]
    # A KK missing on one side (not in the source, or withheld as damaged) is not a KK that
    # differs: the same village then weighs as what it is among the pairs that lack a KK.
    unknown_kk = [
        cll.CustomLevel(
            "(kk_l is null or kk_r is null) and region_code_l = region_code_r and address_l = address_r",
            "a KK unknown; same village and address",
        ),
        cll.CustomLevel(
            "(kk_l is null or kk_r is null) and region_code_l = region_code_r", "a KK unknown; same village"
        ),
    ]
    village_levels = [
        *([] if "kk" in missing else unknown_kk),
        cll.CustomLevel(
            "region_code_l = region_code_r and address_l = address_r and rt_rw_l = rt_rw_r",
            "same village, address and RT/RW",
        ),
        cll.CustomLevel("region_code_l = region_code_r", "same village"),
        cll.CustomLevel("district_l = district_r", "same district"),
        cll.CustomLevel("regency_l = regency_r", "same regency"),
    ]
    household = cl.CustomComparison(
        output_column_name="household",
        comparison_levels=[
            cll.CustomLevel(
                "(kk_l is null or kk_r is null) and (region_code_l is null or region_code_r is null)"
            ).configure(is_null_level=True, label_for_charts="no KK and no village"),
            *([] if "kk" in missing else kk_levels),
            *([] if "region_code" in missing else village_levels),
            cll.ElseLevel(),
        ],
    )
    needs = {"nik": ("nik",), "name": ("full_name",), "birth_date": ("birth_date",), "sex": ("sex",),
             "household": ("kk", "region_code")}  # fmt: skip
    named = {"nik": nik, "name": name, "birth_date": dob, "sex": sex, "household": household}
    return [comp for key, comp in named.items() if not all(f in missing for f in needs[key])]


def settings(blocking_rules: tuple[str, ...] = BLOCKING_RULES, available: Available | None = None) -> Any:
    from splink import SettingsCreator

    available = available or Available()
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(available),
        blocking_rules_to_generate_predictions=list[Any](available.rules(blocking_rules)),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        probability_two_random_records_match=1e-6,
    )


def _quiet() -> None:
    for name in ("splink", "py4j"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class Trained:
    """A trained model (Splink's settings dictionary) and what training saw."""

    model: dict[str, Any]
    training_records: int
    notes: list[str] = field(default_factory=list)
    available: Available = field(default_factory=Available)


EM_SESSIONS = (
    "l.nik = r.nik",
    "l.dob = r.dob and l.district = r.district",
    "l.name_phonetic = r.name_phonetic and l.district = r.district",
)
# Without a village code, sessions that free the NIK and the birth date another way.
EM_FALLBACK = (
    "l.dob = r.dob and l.name_phonetic = r.name_phonetic",
    "l.name_phonetic = r.name_phonetic and l.kk = r.kk",
)
PRIOR_FALLBACK = ("l.name = r.name and l.dob = r.dob and l.kk = r.kk", "l.name = r.name and l.dob = r.dob")


def _linker(db: Any, table: str, tf_table: str, model: Any) -> Any:
    from splink import Linker

    linker = Linker(db.register(table), model, log_level=None)
    linker.table_management.register_term_frequency_lookup(db.register(tf_table), "name")
    return linker


@contextmanager
def _em_floor() -> Iterator[None]:
    """Splink 5.0.0 raises when EM drives an m or u probability below 1e-300 (a level that, to
    within float precision, never occurs among matches) instead of clamping it, and leaves the
    model half-updated. While training, such a value is clamped to that floor: the level then
    weighs as the veto the data says it is."""
    from splink.internals import expectation_maximisation as em
    from splink.internals.comparison_level import M_U_CLAMP_MIN

    original = em.populate_m_u_from_lookup

    def clamped(fixed: set[str], level: Any, name: str, lookup: dict[str, dict[int, Any]]) -> None:
        for record in lookup.get(name, {}).values():
            for key in ("m_probability", "u_probability"):
                value = record.get(key)
                if isinstance(value, float) and value < M_U_CLAMP_MIN:
                    record[key] = M_U_CLAMP_MIN
        original(fixed, level, name, lookup)

    em.populate_m_u_from_lookup = clamped  # type: ignore[assignment]
    try:
        yield
    finally:
        em.populate_m_u_from_lookup = original


def available_fields(records: ir.Table) -> Available:
    """The linking fields no person record holds (one small aggregate)."""
    present = [f for f in LINK_FIELDS if f in records.columns]
    counts = records.aggregate(**{f: records[f].count() for f in present}).to_pyarrow().to_pylist()[0]
    return Available(frozenset(f for f in LINK_FIELDS if f not in present or not counts[f]))


def em_sessions(available: Available) -> tuple[str, ...]:
    """The EM sessions the present fields allow; fallbacks where the village code is missing."""
    kept = available.rules(EM_SESSIONS)
    if len(kept) < len(EM_SESSIONS):
        kept += available.rules(EM_FALLBACK)
    return kept


def prior_rules(available: Available) -> tuple[str, ...]:
    return available.rules(PRIOR_RULES) or available.rules(PRIOR_FALLBACK)[:1]


def train(
    engine: Engine, records: ir.Table, tf_name: ir.Table, options: ModelOptions, available: Available | None = None
) -> Trained:
    """Estimate u by random sampling and m by EM on all records (see the module docstring).

    `available` names the linking fields no record holds; without it they are looked up."""
    from splink.internals.exceptions import EMTrainingException

    _quiet()
    db = engine.splink_db_api()
    t = engine.materialize(features(records).rename(unique_id="record_key"))
    available = available if available is not None else available_fields(records)
    sources = records.select("source").distinct().to_pyarrow()["source"].to_pylist() if "source" in records.columns else []
    table, tf_table = engine.physical_name(t), engine.physical_name(tf_name)
    linker = _linker(db, table, tf_table, settings(available=available))
    linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=options.seed)
    notes = available.notes(tuple(sorted(set(sources))))
    with _em_floor():
        for rule in em_sessions(available):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=options.em_max_pairs, record_sample_proportion=1.0
                )
            except EMTrainingException:
                notes.append(f"EM session blocked on {rule!r} found nothing to learn from: skipped")
    model = _unknown_kk_levels(linker.misc.save_model_to_json())
    untrained = [
        f"{comp['output_column_name']}: {level.get('label_for_charts')}"
        for comp in model["comparisons"]
        for level in comp["comparison_levels"]
        if not level.get("is_null_level") and level.get("m_probability") is None
    ]
    notes += [f"level not seen among training matches, Splink's default m used: {u}" for u in untrained]
    return Trained(model=model, training_records=int(t.count().execute()), notes=notes, available=available)


# m of each "a KK unknown" level: the chance, among matches, that the village (and address)
# agree whatever the KK says, i.e. the sum of the m of the levels that have them agree.
_UNKNOWN_KK_M = {
    "a KK unknown; same village and address": ("same KK and address", "same village, address and RT/RW"),
    "a KK unknown; same village": ("same KK", "same village"),
}


def _unknown_kk_levels(model: dict[str, Any]) -> dict[str, Any]:
    """Set the m of the household levels where one side's KK is unknown from the levels where
    both KKs are known.

    EM cannot learn them: the records without a KK are mostly rows whose NIK was withheld too
    (a file that went through Excel), which never meet a match in the session blocked on the NIK,
    the only one that estimates the household (the others block on the district). Left to EM, the
    same village and address with a KK unknown weighed as evidence AGAINST a match. u, from
    random sampling, stays as estimated."""
    for comp in model.get("comparisons", []):
        if comp.get("output_column_name") != "household":
            continue
        levels = {lv.get("label_for_charts"): lv for lv in comp["comparison_levels"]}
        for target, parts in _UNKNOWN_KK_M.items():
            total = sum(levels[p].get("m_probability") or 0.0 for p in parts if p in levels)
            if target in levels and total > 0:
                levels[target]["m_probability"] = total
    return model


def name_frequencies(nodes: ir.Table) -> ir.Table:
    """Relative frequency of every standardized name among the nodes (de-duplicated people)."""
    named = nodes.filter(nodes.name.notnull())
    total = named.count()
    counts = named.group_by("name").agg(n=named.count())
    return counts.select("name", tf_name=counts.n.cast("float64") / total.as_scalar().cast("float64"))


def predict(
    engine: Engine, nodes: ir.Table, tf_name: ir.Table, trained: Trained, options: ModelOptions, floor: float
) -> ir.Table:
    """Score the candidate pairs among nodes; keep those at or above `floor` (the review band's
    lower edge), with each comparison's level (gamma_) and match weight (mw_)."""
    from splink import Linker

    _quiet()
    db = engine.splink_db_api()
    sdf = db.register(engine.physical_name(nodes))
    linker = Linker(sdf, dict(trained.model), log_level=None)
    linker.table_management.register_term_frequency_lookup(db.register(engine.physical_name(tf_name)), "name")
    linker.training.estimate_probability_two_random_records_match(
        list(prior_rules(trained.available)), recall=PRIOR_RECALL
    )
    scored = linker.inference.predict(threshold_match_probability=floor)
    t = engine.con.table(scored.physical_name)
    kept = [c for c in t.columns if c.startswith(("mw_", "gamma_"))]
    return engine.materialize(t.select("unique_id_l", "unique_id_r", "match_probability", "match_weight", *kept))


def count_candidates(engine: Engine, nodes: ir.Table) -> int:
    """Candidate pairs the prediction blocking rules make on `nodes` (exact count)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    _quiet()
    db = engine.splink_db_api()
    records = count_comparisons_from_blocking_rules(
        db.register(engine.physical_name(nodes)),
        blocking_rules=list(BLOCKING_RULES),
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        record_sample_proportion=1.0,
    )
    return int(records[-1]["cumulative_comparison_count"]) if records else 0
