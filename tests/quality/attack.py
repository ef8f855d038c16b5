"""A reader who tries to undo the suppression of the scorecards: random populations, their
indicator frames (counted here from the definitions, independently of `dtsen.quality`), and
an attacker who reads the pages and solves every equation the definitions give.

The attacker's unknowns are the counts of each village (persons, families, persons with a NIK,
...), from which every figure on a page is a known sum. Every count a page shows, and every
share shown beside a denominator the attacker knows (n = round(share x d), exact below 1,000),
is a known linear form; subtraction across levels, between categories and any other
combination is then a question of linear algebra: a count is recovered exactly when its form
lies in the span of the known forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from dtsen.quality.indicators import FAMILY_WELFARE_FIELDS, PERSON_KEY_FIELDS
from dtsen.quality.scorecard import FIELD_LABELS, LABELS

# village-level counts the definitions are built from
PERSON_FIELDS = tuple(f"p_{f}" for f in PERSON_KEY_FIELDS if f != "region_code")
FAMILY_FIELDS = tuple(f"f_{f}" for f in FAMILY_WELFARE_FIELDS)
ATOMS: tuple[str, ...] = (
    "persons", *PERSON_FIELDS, "registry", "records", "dups", "p_conflict", "pbi", "deceased_pbi",
    "families", *FAMILY_FIELDS, "f_conflict", "dated", "stale", "age_days", "recipients", "deceased_recipients",
    "field_checked",
)  # fmt: skip
A = {name: i for i, name in enumerate(ATOMS)}
Form = dict[str, int]  # atom -> coefficient


def _indicator_forms() -> dict[str, tuple[Form, Form]]:
    """indicator -> (numerator, denominator) as forms over the atoms of one region."""
    out: dict[str, tuple[Form, Form]] = {}
    for f in PERSON_KEY_FIELDS:
        out[f"completeness_{f}"] = ({"persons": 1} if f == "region_code" else {f"p_{f}": 1}, {"persons": 1})
    cells = {p: 1 for p in PERSON_FIELDS} | {"persons": 1}  # region_code: every person of a region has one
    out["completeness_persons"] = (cells, {"persons": len(PERSON_KEY_FIELDS)})
    out["nik_valid"] = ({"p_nik": 1}, {"persons": 1})
    out["dukcapil_confirmed"] = ({"registry": 1}, {"persons": 1})
    out["duplicates_found"] = ({"dups": 1}, {"records": 1})
    out["conflicts_persons"] = ({"p_conflict": 1}, {"persons": 1})
    out["deceased_pbi"] = ({"deceased_pbi": 1}, {"pbi": 1})
    for f in FAMILY_WELFARE_FIELDS:
        out[f"completeness_{f}"] = ({f"f_{f}": 1}, {"families": 1})
    out["completeness_families"] = ({f: 1 for f in FAMILY_FIELDS}, {"families": len(FAMILY_WELFARE_FIELDS)})
    out["conflicts_families"] = ({"f_conflict": 1}, {"families": 1})
    out["stale_families"] = ({"stale": 1}, {"dated": 1})
    out["staleness_mean_days"] = ({"age_days": 1}, {"dated": 1})
    out["deceased_recipients"] = ({"deceased_recipients": 1}, {"recipients": 1})
    out["field_checked"] = ({"field_checked": 1}, {"families": 1})
    return out


FORMS = _indicator_forms()


@dataclass
class Population:
    """Village-level atom counts (rows: villages, then one row for units without a region)."""

    villages: list[str]
    atoms: np.ndarray  # (villages + 1) x len(ATOMS)

    def rows_of(self, level: str, region: str) -> np.ndarray:
        """Which rows (villages) a region sums over."""
        if level == "national":
            return np.ones(len(self.villages) + 1, dtype=bool)
        width = {"province": 2, "regency": 5, "district": 8, "village": 13}[level]
        return np.array([v[:width] == region for v in self.villages] + [False])

    def value(self, form: Form, level: str, region: str) -> int:
        rows = self.rows_of(level, region)
        return int(sum(c * self.atoms[rows, A[a]].sum() for a, c in form.items()))

    def frame(self) -> pd.DataFrame:
        """The indicator frame of the geographic levels (as `dtsen.quality.indicators` gives it)."""
        regions = {("national", "ALL")}
        for v in self.villages:
            regions |= {("province", v[:2]), ("regency", v[:5]), ("district", v[:8]), ("village", v)}
        rows = []
        for level, region in sorted(regions):
            for indicator, (num, den) in FORMS.items():
                n, d = self.value(num, level, region), self.value(den, level, region)
                rows.append(
                    {"level": level, "region": region, "source": "ALL", "indicator": indicator, "numerator": n,
                     "denominator": d, "value": n / d if d else float("nan")}
                )  # fmt: skip
        return pd.DataFrame(rows)


def population(rng: np.random.Generator, regencies: int = 2) -> Population:
    """A random population: villages in districts in regencies of province 32, many of them small."""
    villages = [
        f"32.{r + 4:02d}.{d + 1:02d}.{2001 + v}"
        for r in range(regencies)
        for d in range(int(rng.integers(1, 5)))
        for v in range(int(rng.integers(1, 5)))
    ]
    atoms = np.zeros((len(villages) + 1, len(ATOMS)), dtype=np.int64)
    for i in range(len(villages) + 1):
        p = int(rng.choice([0, 1, 3, 8, 12, 25, 60, 150])) if i < len(villages) else int(rng.integers(0, 4))
        f = int(rng.integers(0, p // 2 + 2)) if p else int(rng.integers(0, 2))
        row = atoms[i]
        row[A["persons"]], row[A["families"]] = p, f
        for name in (*PERSON_FIELDS, "registry", "p_conflict", "pbi"):
            row[A[name]] = rng.binomial(p, float(rng.choice([0.02, 0.5, 0.95, 1.0])))
        row[A["deceased_pbi"]] = rng.binomial(row[A["pbi"]], 0.1)
        row[A["records"]] = p + rng.binomial(p, 0.6)
        row[A["dups"]] = rng.binomial(row[A["records"]] - p, 0.3)
        for name in (*FAMILY_FIELDS, "f_conflict", "dated", "recipients", "field_checked"):
            row[A[name]] = rng.binomial(f, float(rng.choice([0.05, 0.5, 0.97, 1.0])))
        row[A["stale"]] = rng.binomial(row[A["dated"]], 0.3)
        row[A["age_days"]] = row[A["dated"]] * int(rng.integers(10, 900))
        row[A["deceased_recipients"]] = rng.binomial(row[A["recipients"]], 0.1)
    return Population(villages, atoms)


# -- reading the pages ------------------------------------------------------------------------
class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell, self._text = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell and self._table is not None:
            self.tables[self._table][-1].append(self._text.strip())
            self._cell = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell:
            self._text += data


_COUNT = re.compile(r"^[0-9]{1,3}(\.[0-9]{3})*$")
_SHARE = re.compile(r"^[0-9.]+,[0-9]%$")
REGION_SHARES = ("completeness_persons", "dukcapil_confirmed", "conflicts_persons", "stale_families")


def _count(text: str) -> int | None:
    return int(text.replace(".", "")) if _COUNT.match(text) else None


def _indicator(label: str) -> str:
    by_label = {v: k for k, v in LABELS.items()} | {v: f"completeness_{k}" for k, v in FIELD_LABELS.items()}
    return by_label.get(label) or by_label[label.split(" (>", 1)[0]]


@dataclass(frozen=True)
class Fact:
    """What a page tells: a count (form over a region), or a share whose denominator may become known."""

    level: str
    region: str
    form: tuple[tuple[str, int], ...]
    given: tuple[tuple[str, int], ...] = ()  # a share: the numerator form is known once this one is


def facts(page: Path) -> list[Fact]:
    """Every count a regency page shows, and every share (as a conditional count)."""
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    regency = re.search(r"\(([0-9]{2}\.[0-9]{2})\)", page.read_text(encoding="utf-8"))
    assert regency is not None
    code = regency.group(1)
    out: list[Fact] = []

    def add(level: str, region: str, form: Form, given: Form | None = None) -> None:
        out.append(Fact(level, region, tuple(sorted(form.items())), tuple(sorted((given or {}).items()))))

    for table in ("indikator-utama", "kelengkapan"):
        for row in parser.tables[table][1:]:
            indicator = _indicator(row[0])
            num, den = FORMS[indicator]
            if _count(row[1]) is not None and indicator != "staleness_mean_days":
                add("regency", code, num)
            if _count(row[2]) is not None:
                add("regency", code, den)
            if _SHARE.match(row[4]):
                add("regency", code, num, den)
            for level, region, text in (("province", code[:2], row[5]), ("national", "ALL", row[6])):
                if _SHARE.match(text) and indicator != "staleness_mean_days":
                    add(level, region, num, den)
    for table, level, first in (("peringkat-kecamatan", "district", 3), ("desa-terburuk", "village", 4)):
        for row in parser.tables[table][1:]:
            region = row[1]
            if _count(row[first]) is not None:
                add(level, region, {"persons": 1})
            if _count(row[first + 1]) is not None:
                add(level, region, {"families": 1})
            for indicator, text in zip(REGION_SHARES, row[first + 3 :], strict=True):
                if _SHARE.match(text):
                    num, den = FORMS[indicator]
                    add(level, region, num, den)
    return out


def _vector(population: Population, form: Form | tuple[tuple[str, int], ...], level: str, region: str) -> np.ndarray:
    items = dict(form)
    rows = population.rows_of(level, region)
    vec = np.zeros(population.atoms.shape)
    for atom, c in items.items():
        vec[rows, A[atom]] = c
    return vec.ravel()


class _Span:
    """The span of the known forms, kept in reduced row echelon form (exact for these small
    integer systems up to rounding far below 1e-6)."""

    def __init__(self, width: int) -> None:
        self.rows = np.zeros((0, width))
        self.pivots: list[int] = []

    def residual(self, vec: np.ndarray) -> np.ndarray:
        if not self.pivots:
            return vec.astype(float)
        return vec - vec[self.pivots] @ self.rows

    def holds(self, vec: np.ndarray) -> bool:
        return bool(np.abs(self.residual(vec)).max(initial=0.0) < 1e-6)

    def add(self, vectors: list[np.ndarray]) -> None:
        for vec in vectors:
            rest = self.residual(vec)
            j = int(np.argmax(np.abs(rest)))
            if abs(rest[j]) < 1e-6:
                continue
            rest = rest / rest[j]
            self.rows = self.rows - np.outer(self.rows[:, j], rest) if len(self.rows) else self.rows
            self.rows = np.vstack([self.rows, rest])
            self.pivots.append(j)


def recovered(population: Population, pages: list[Path], threshold: int) -> list[str]:
    """The counts in 1..threshold - 1 (of any indicator's numerator, denominator or complement,
    at village, district and regency level) that the pages give away."""
    all_facts = [f for page in pages for f in facts(page)]
    known: list[np.ndarray] = [_vector(population, f.form, f.level, f.region) for f in all_facts if not f.given]
    pending = [f for f in all_facts if f.given]

    span = _Span(population.atoms.size)
    span.add(known)
    while True:  # a share gives its numerator once its denominator is known (exactly, under 1,000)
        ready = [
            f for f in pending
            if population.value(dict(f.given), f.level, f.region) < 1000
            and span.holds(_vector(population, f.given, f.level, f.region))
        ]  # fmt: skip
        if not ready:
            break
        pending = [f for f in pending if f not in ready]
        span.add([_vector(population, f.form, f.level, f.region) for f in ready])

    leaks = []
    regions = {("village", v) for v in population.villages}
    regions |= {("district", v[:8]) for v in population.villages} | {("regency", v[:5]) for v in population.villages}
    for level, region in sorted(regions):
        for indicator, (num, den) in FORMS.items():
            if indicator == "staleness_mean_days":
                continue
            complement = dict(den)
            for a, c in num.items():
                complement[a] = complement.get(a, 0) - c
            for part, form in (("numerator", num), ("denominator", den), ("d - n", complement)):
                value = population.value(form, level, region)
                if 0 < value < threshold and span.holds(_vector(population, form, level, region)):
                    leaks.append(f"{level} {region} {indicator} {part} = {value}")
    return leaks
