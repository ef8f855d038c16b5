"""The regency scorecard ("rapor kualitas data"): one self-contained HTML page per regency.

`write_scorecards` turns the long indicator table of a release (`dtsen.quality.indicators`)
into one page per regency, `rapor_<PP_KK>.html`, plus an `index.html` listing them. A page is
in Bahasa Indonesia and opens offline: the style sheet is inline, charts are Vega-Lite specs
rendered to inline SVG with vl-convert (each spec is kept beside its picture in a
`<script type="application/json">` block, without `$schema`), and nothing is fetched from
any URL. Every figure on the page follows the suppression rule of `dtsen.quality.suppress`,
secondary suppression included: which counts and shares the pages show is decided once for all
pages of a release (`dtsen.quality.disclosure`), so that no count under the threshold can be
recovered by subtracting shown counts across the levels of a page, between categories, or
between a regency page and its province's shares. The chart data holds only shares that are
shown.

The page holds: the headline indicators of the regency beside its province and the nation;
the completeness of each key field; its districts ranked best to worst by the composite score;
the `worst_villages` worst villages by the same score; and the trend of each headline share
across the earlier releases given in `history` and this one.

Composite score of a region (0-100, higher is better): 100 x the mean, over the components in
`COMPOSITE` whose share is defined (denominator > 0), of the share for an indicator where higher
is better and of 1 - share for one where lower is better. Districts are ranked by score
(highest first), villages from the lowest score; ties go to the smaller region code, and a
region without any defined component comes last. The score is shown as "–" when any of its
components is hidden (rule 5, secondary suppression included); the rank still uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import vl_convert
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.quality.disclosure import REGION_COLUMNS, Disclosure
from dtsen.quality.indicators import ALL, FAMILY_WELFARE_FIELDS, INDICATOR_COLUMNS, PERSON_KEY_FIELDS
from dtsen.quality.suppress import DASH, format_decimal, format_percent
from dtsen.reference.regions import RegionMaster
from dtsen.release.settings import QualitySettings

TEMPLATES = Path(__file__).parent / "templates"

# Indicator -> +1 when a higher share is better, -1 when a lower share is better.
COMPOSITE: dict[str, int] = {
    "completeness_persons": 1,
    "completeness_families": 1,
    "nik_valid": 1,
    "dukcapil_confirmed": 1,
    "duplicates_found": -1,
    "conflicts_persons": -1,
    "conflicts_families": -1,
    "stale_families": -1,
    "deceased_recipients": -1,
    "deceased_pbi": -1,
}
HEADLINE: tuple[str, ...] = (*COMPOSITE, "field_checked")
MEANS: tuple[str, ...] = ("staleness_mean_days",)
DIRECTION: dict[str, int] = {**COMPOSITE, "field_checked": 1, "staleness_mean_days": -1}
# The indicators a regency page lists with their counts.
COUNTED: tuple[str, ...] = (
    *HEADLINE,
    *MEANS,
    *(f"completeness_{f}" for f in (*PERSON_KEY_FIELDS, *FAMILY_WELFARE_FIELDS)),
)

LABELS: dict[str, str] = {
    "completeness_persons": "Kelengkapan data pokok penduduk",
    "completeness_families": "Kelengkapan data kesejahteraan keluarga",
    "nik_valid": "Penduduk dengan NIK valid",
    "dukcapil_confirmed": "Penduduk terkonfirmasi Dukcapil",
    "duplicates_found": "Rekaman ganda dalam satu sumber",
    "conflicts_persons": "Penduduk dengan data bertentangan antarsumber",
    "conflicts_families": "Keluarga dengan data bertentangan antarsumber",
    "stale_families": "Keluarga dengan data usang",
    "staleness_mean_days": "Rata-rata umur data terbaru keluarga (hari)",
    "deceased_recipients": "Keluarga penerima bantuan dengan anggota meninggal",
    "deceased_pbi": "Peserta PBI-JK yang sudah meninggal",
    "field_checked": "Keluarga yang pernah dicek lapangan",
}
SHORT_LABELS: dict[str, str] = {
    "completeness_persons": "Kelengkapan penduduk",
    "dukcapil_confirmed": "Terkonfirmasi Dukcapil",
    "conflicts_persons": "Penduduk berkonflik",
    "stale_families": "Keluarga usang",
}
FIELD_LABELS: dict[str, str] = {
    "nik": "NIK",
    "kk": "Nomor KK",
    "birth_date": "Tanggal lahir",
    "region_code": "Kode wilayah",
    "address": "Alamat",
    "floor_area": "Luas lantai",
    "floor_type": "Jenis lantai",
    "wall_type": "Jenis dinding",
    "roof_type": "Jenis atap",
    "ownership": "Status kepemilikan bangunan",
    "water_source": "Sumber air minum",
    "sanitation": "Fasilitas buang air besar",
    "lighting": "Sumber penerangan",
    "electricity_va": "Daya listrik",
    "cooking_fuel": "Bahan bakar memasak",
    "has_motorbike": "Sepeda motor",
    "has_car": "Mobil",
    "has_fridge": "Lemari es",
    "has_ac": "AC",
    "has_land": "Lahan",
    "livestock": "Ternak",
    "has_gold": "Emas/perhiasan",
}
UNITS: dict[str, str] = {
    "completeness_persons": "isian",
    "completeness_families": "isian",
    "nik_valid": "penduduk",
    "dukcapil_confirmed": "penduduk",
    "duplicates_found": "rekaman",
    "conflicts_persons": "penduduk",
    "conflicts_families": "keluarga",
    "stale_families": "keluarga",
    "staleness_mean_days": "keluarga",
    "deceased_recipients": "keluarga penerima",
    "deceased_pbi": "peserta PBI-JK",
    "field_checked": "keluarga",
    **{f"completeness_{f}": "penduduk" for f in PERSON_KEY_FIELDS},
    **{f"completeness_{f}": "keluarga" for f in FAMILY_WELFARE_FIELDS},
}
LEVEL_ORDER: tuple[str, ...] = ("village", "district", "regency", "province", "national")


class ScorecardError(DtsenError):
    """The indicator table given to the scorecards is not the one `indicators` returns."""


# -- the indicator frame ---------------------------------------------------------------------
def _frame(data: ir.Table | pd.DataFrame, what: str) -> pd.DataFrame:
    frame = data.to_pandas() if isinstance(data, ir.Table) else data.copy()
    missing = [c for c in INDICATOR_COLUMNS if c not in frame.columns]
    if missing:
        raise ScorecardError(f"{what}: the indicator table lacks the columns {', '.join(missing)}")
    frame = frame[frame["source"] == ALL]
    frame = frame.astype({"numerator": "int64", "denominator": "int64", "value": "float64"})
    return frame.reset_index(drop=True)


def _hidden(frame: pd.DataFrame, threshold: int) -> np.ndarray:
    """Per row: the share may not be shown (rule 2: d = 0 or n, d, d - n small)."""
    n = frame["numerator"].to_numpy()
    d = frame["denominator"].to_numpy()
    small = (n > 0) & (n < threshold) | (d > 0) & (d < threshold) | (d - n > 0) & (d - n < threshold)
    return np.asarray(small | (d == 0))


def composite_scores(frame: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Per (level, region): `score` (0-100, NaN when no component is defined) and `hidden`.

    `hidden` is true when a component share is suppressed by the small-count rule (a component
    with denominator 0 is left out of the score and does not hide it).
    """
    comp = frame[frame["indicator"].isin(list(COMPOSITE))]
    direction = comp["indicator"].map(COMPOSITE).to_numpy()
    value = comp["value"].to_numpy(dtype="float64")
    good = np.where(direction > 0, value, 1.0 - value)
    private = _hidden(comp, threshold) & (comp["denominator"].to_numpy() > 0)
    parts = pd.DataFrame({"level": comp["level"], "region": comp["region"], "good": good, "hidden": private})
    scores = parts.groupby(["level", "region"], as_index=False).agg(score=("good", "mean"), hidden=("hidden", "any"))
    scores["score"] = scores["score"] * 100.0
    return scores


def rank_regions(scores: pd.DataFrame, *, best_first: bool) -> pd.DataFrame:
    """Scores sorted for ranking: by score (highest or lowest first), then region code; NaN last."""
    return scores.sort_values(["score", "region"], ascending=[not best_first, True], na_position="last").reset_index(
        drop=True
    )


# -- display ---------------------------------------------------------------------------------
def _name(regions: RegionMaster | None, code: str) -> str:
    region = regions.get(code) if regions is not None and regions.is_loaded else None
    return region.name if region is not None else code


def _label(indicator: str, settings: QualitySettings) -> str:
    if indicator.startswith("completeness_") and indicator.removeprefix("completeness_") in FIELD_LABELS:
        return FIELD_LABELS[indicator.removeprefix("completeness_")]
    label = LABELS.get(indicator, indicator)
    if indicator == "stale_families":
        label += f" (> {settings.stale_after_days} hari)"
    return label


def _score_text(score: float, hidden: bool) -> str:
    return DASH if hidden or np.isnan(score) else format_decimal(score)


def _lookup(frame: pd.DataFrame) -> dict[tuple[str, str, str], tuple[int, int, float]]:
    keys = zip(frame["level"], frame["region"], frame["indicator"], strict=True)
    vals = zip(frame["numerator"], frame["denominator"], frame["value"], strict=True)
    return {k: (int(n), int(d), float(v)) for k, (n, d, v) in zip(keys, vals, strict=True)}


class _Page:
    """The display rows of one release's indicators, looked up by level, region and indicator.

    Which counts and shares are shown is decided once for all pages of the release
    (`dtsen.quality.disclosure.Disclosure`, rule 6 of `dtsen.quality.suppress`): the worst
    villages of every regency are chosen first, since the pages show them."""

    def __init__(self, frame: pd.DataFrame, settings: QualitySettings) -> None:
        self.settings = settings
        self.t = settings.suppress_below
        self.cells = _lookup(frame)
        self.scores = composite_scores(frame, self.t)
        regencies = frame.loc[frame["level"] == "regency", "region"].astype(str).unique()
        self.worst = {r: _worst_villages(self.scores, r, settings.worst_villages) for r in regencies}
        shown_villages = {v for rows in self.worst.values() for v in rows["region"]}
        self.disclosure = Disclosure(frame, self.t, regency_rows=COUNTED, villages=shown_villages)
        self.scores["hidden"] = [
            self.score_hidden(lv, rg) for lv, rg in zip(self.scores["level"], self.scores["region"], strict=True)
        ]

    def get(self, level: str, region: str, indicator: str) -> tuple[int, int, float] | None:
        return self.cells.get((level, region, indicator))

    def value(self, level: str, region: str, indicator: str) -> str:
        """The value cell: a percentage, or days for a mean; "–" when suppressed or undefined."""
        cell = self.get(level, region, indicator)
        if cell is None:
            return DASH
        if indicator in MEANS:
            return format_decimal(cell[2]) if self.disclosure.mean_shown(level, region, indicator) else DASH
        return format_percent(cell[2]) if self.disclosure.share_shown(level, region, indicator) else DASH

    def count(self, level: str, region: str, indicator: str) -> str:
        """The denominator of an indicator as a count cell (persons or families of a region)."""
        return self.disclosure.count(level, region, indicator, "denominator")

    def score_hidden(self, level: str, region: str) -> bool:
        """Rule 5: the composite score is hidden when a share in it (denominator > 0) is."""
        for indicator in COMPOSITE:
            cell = self.get(level, region, indicator)
            if cell is not None and cell[1] > 0 and not self.disclosure.share_shown(level, region, indicator):
                return True
        return False

    def indicator_row(self, indicator: str, region: str, province: str) -> dict[str, str] | None:
        cell = self.get("regency", region, indicator)
        if cell is None:
            return None
        mean = indicator in MEANS
        return {
            "label": _label(indicator, self.settings),
            "numerator": "" if mean else self.disclosure.count("regency", region, indicator, "numerator"),
            "denominator": self.disclosure.count("regency", region, indicator, "denominator"),
            "unit": UNITS.get(indicator, ""),
            "value": self.value("regency", region, indicator),
            "province": self.value("province", province, indicator),
            "national": self.value("national", ALL, indicator),
            "direction": {1: "↑ lebih tinggi lebih baik", -1: "↓ lebih rendah lebih baik"}.get(
                DIRECTION.get(indicator, 0), ""
            ),
        }

    def region_row(self, level: str, code: str, score: float, hidden: bool) -> dict[str, Any]:
        return {
            "code": code,
            "persons": self.count(level, code, "nik_valid"),
            "families": self.count(level, code, "conflicts_families"),
            "score": _score_text(score, hidden),
            "shares": [self.value(level, code, i) for i in REGION_COLUMNS],
        }

    def trend_points(self, release: str, regency: str) -> list[dict[str, Any]]:
        """The headline shares of a regency that its page of `release` shows, as chart data."""
        points = []
        for indicator in HEADLINE:
            cell = self.get("regency", regency, indicator)
            if cell is None or not self.disclosure.share_shown("regency", regency, indicator):
                continue
            points.append(
                {"rilis": release, "indikator": _label(indicator, self.settings), "nilai": round(cell[2] * 100, 2)}
            )
        return points


def _worst_villages(scores: pd.DataFrame, regency: str, n: int) -> pd.DataFrame:
    """The `n` villages of a regency with the lowest composite score (those with a score)."""
    villages = rank_regions(_children(scores, "village", regency), best_first=False)
    return villages[villages["score"].notna()].head(n).reset_index(drop=True)


# -- charts ----------------------------------------------------------------------------------
_SVG_NAMESPACES = re.compile(r' xmlns(:xlink)?="http://www\.w3\.org/[0-9]{4}/(svg|xlink)"')


def chart(spec: dict[str, Any]) -> dict[str, str]:
    """A Vega-Lite spec rendered to inline SVG, and the spec as JSON safe inside <script>.

    The spec loses `$schema`, and the SVG its namespace attributes (an inline <svg> in HTML
    needs neither), so the page holds no URL at all.
    """
    spec = {k: v for k, v in spec.items() if k != "$schema"}
    svg = _SVG_NAMESPACES.sub("", vl_convert.vegalite_to_svg(spec))
    text = json.dumps(spec, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return {"svg": svg, "spec": text}


def _trend_spec(points: list[dict[str, Any]], releases: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    return {
        "data": {"values": points},
        "facet": {"field": "indikator", "type": "nominal", "sort": list(labels), "title": None},
        "columns": 3,
        "spec": {
            "width": 200,
            "height": 110,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {
                    "field": "rilis",
                    "type": "ordinal",
                    "sort": list(releases),
                    "title": "Rilis",
                    "axis": {"labelAngle": 0},
                },
                "y": {"field": "nilai", "type": "quantitative", "title": "%", "scale": {"zero": False}},
                "tooltip": [{"field": "rilis"}, {"field": "nilai", "title": "%"}],
            },
        },
        "resolve": {"scale": {"y": "independent"}},
        "config": {"font": "sans-serif"},
    }


def _score_spec(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {"values": rows},
        "mark": "bar",
        "width": 420,
        "encoding": {
            "y": {"field": "wilayah", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "skor", "type": "quantitative", "scale": {"domain": [0, 100]}, "title": "Skor komposit"},
            "tooltip": [{"field": "wilayah"}, {"field": "skor"}],
        },
        "config": {"font": "sans-serif"},
    }


# -- pages -----------------------------------------------------------------------------------
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _children(scores: pd.DataFrame, level: str, parent: str) -> pd.DataFrame:
    rows = scores[(scores["level"] == level) & scores["region"].astype(str).str.startswith(parent + ".")]
    return rows.reset_index(drop=True)


def _regency_context(
    page: _Page,
    regency: str,
    release_id: str,
    regions: RegionMaster | None,
    history: Sequence[tuple[str, _Page]],
) -> dict[str, Any]:
    settings = page.settings
    province = regency[:2]
    regency_score = page.scores[(page.scores["level"] == "regency") & (page.scores["region"] == regency)]
    score = float(regency_score["score"].iloc[0]) if len(regency_score) else float("nan")
    hidden = bool(regency_score["hidden"].iloc[0]) if len(regency_score) else True

    headline = [r for i in (*HEADLINE, *MEANS) if (r := page.indicator_row(i, regency, province))]
    fields = [
        r
        for f in (*PERSON_KEY_FIELDS, *FAMILY_WELFARE_FIELDS)
        if (r := page.indicator_row(f"completeness_{f}", regency, province))
    ]

    districts = rank_regions(_children(page.scores, "district", regency), best_first=True)
    district_rows = []
    for rank, (code, sc, hid) in enumerate(
        zip(districts["region"], districts["score"], districts["hidden"], strict=True), 1
    ):
        district_rows.append({"rank": rank, "name": _name(regions, code), **page.region_row("district", code, sc, hid)})
    villages = _worst_villages(page.scores, regency, settings.worst_villages)  # the villages disclosed
    village_rows = []
    for rank, (code, sc, hid) in enumerate(
        zip(villages["region"], villages["score"], villages["hidden"], strict=True), 1
    ):
        village_rows.append(
            {
                "rank": rank,
                "name": _name(regions, code),
                "district": _name(regions, code[:8]),
                **page.region_row("village", code, sc, hid),
            }
        )

    bars = [
        {"wilayah": r["name"], "skor": round(float(s), 1)}
        for r, s, h in zip(district_rows, districts["score"], districts["hidden"], strict=True)
        if not h and not np.isnan(s)
    ]
    score_chart = chart(_score_spec(bars)) if bars else None

    trend_chart = None
    if history:
        releases = [rid for rid, _ in history] + [release_id]
        points = [p for rid, old in history for p in old.trend_points(rid, regency)]
        points += page.trend_points(release_id, regency)
        labels = [_label(i, settings) for i in HEADLINE]
        trend_chart = chart(_trend_spec(points, releases, labels)) if points else None

    name = _name(regions, regency)
    return {
        "title": f"Rapor Kualitas Data {name} — rilis {release_id}",
        "name": name,
        "code": regency,
        "province": _name(regions, province),
        "release_id": release_id,
        "threshold": page.t,
        "score": _score_text(score, hidden),
        "headline": headline,
        "fields": fields,
        "districts": district_rows,
        "villages": village_rows,
        "worst_villages": settings.worst_villages,
        "region_columns": [SHORT_LABELS[i] for i in REGION_COLUMNS],
        "score_chart": score_chart,
        "trend_chart": trend_chart,
        "history": [rid for rid, _ in history],
        "definitions": [(_label(i, settings), DEFINITIONS[i]) for i in (*HEADLINE, *MEANS)],
        "composite": [LABELS[i] for i in COMPOSITE],
        "stale_after_days": settings.stale_after_days,
    }


def page_filename(regency: str) -> str:
    """The file name of a regency's page: "32.04" -> "rapor_32_04.html"."""
    return f"rapor_{regency.replace('.', '_')}.html"


def write_scorecards(
    engine: Engine,
    indicators: ir.Table | pd.DataFrame,
    out_dir: str | Path,
    *,
    release_id: str,
    regions: RegionMaster | None,
    history: Sequence[tuple[str, pd.DataFrame]] = (),
    settings: QualitySettings,
    headcounts: pd.DataFrame | None = None,
) -> list[Path]:
    """Write one page per regency and an index.html into `out_dir`; return their paths
    (the regency pages in code order, the index last).

    `indicators` is the table `dtsen.quality.indicators.indicators` returns (an Ibis table on
    `engine`, or the same as a pandas frame); `history` holds earlier releases' indicator frames,
    oldest first, as (release id, frame); `headcounts` the ranking's estimated and flagged poor
    and extremely poor per region (`dtsen.welfare.pipeline.headcounts_path`), shown per regency.
    """
    del engine  # the Ibis table is bound to its engine already
    frame = _frame(indicators, f"release {release_id}")
    page = _Page(frame, settings)
    old = [(rid, _Page(_frame(f, f"release {rid}"), settings)) for rid, f in history]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    regencies = sorted(frame.loc[frame["level"] == "regency", "region"].astype(str).unique())
    written: list[Path] = []
    listing: list[dict[str, str]] = []
    template = env.get_template("scorecard.html.j2")
    for regency in regencies:
        context = _regency_context(page, regency, release_id, regions, old)
        if headcounts is not None:
            from dtsen.welfare.headcount_report import regency_rows

            context["headcounts"] = regency_rows(headcounts, regency, settings.suppress_below)
        path = out / page_filename(regency)
        path.write_text(template.render(**context), encoding="utf-8")
        written.append(path)
        listing.append(
            {
                "code": regency,
                "name": context["name"],
                "province": context["province"],
                "score": context["score"],
                "file": path.name,
            }
        )
    index = out / "index.html"
    index.write_text(
        env.get_template("index.html.j2").render(
            release_id=release_id, regencies=listing, threshold=settings.suppress_below
        ),
        encoding="utf-8",
    )
    written.append(index)
    return written


DEFINITIONS: dict[str, str] = {
    "completeness_persons": "Isian yang terisi dari NIK, nomor KK, tanggal lahir, kode wilayah dan alamat "
    "seluruh penduduk, dibagi (jumlah penduduk × 5).",
    "completeness_families": "Isian kesejahteraan keluarga yang terisi (lantai, dinding, atap, air, sanitasi, "
    "penerangan, listrik, bahan bakar, aset), dibagi (jumlah keluarga × jumlah isian).",
    "nik_valid": "Penduduk yang memiliki NIK dengan format valid, dibagi jumlah penduduk.",
    "dukcapil_confirmed": "Penduduk yang tercatat pada data Dukcapil, dibagi jumlah penduduk.",
    "duplicates_found": "Rekaman sumber yang digabungkan ke penduduk yang sudah memiliki rekaman dari sumber "
    "yang sama, dibagi seluruh rekaman penduduk yang tertaut.",
    "conflicts_persons": "Penduduk dengan sedikitnya satu isian yang berbeda antarsumber tepercaya.",
    "conflicts_families": "Keluarga dengan sedikitnya satu isian yang berbeda antarsumber tepercaya.",
    "stale_families": "Keluarga yang pengamatan terbarunya lebih tua dari batas hari, dibagi keluarga "
    "yang memiliki tanggal pengamatan.",
    "staleness_mean_days": "Rata-rata umur (hari) pengamatan terbaru setiap keluarga pada tanggal data.",
    "deceased_recipients": "Keluarga penerima PKH, BPNT/sembako atau PBI-JK yang seluruh anggotanya atau "
    "salah satu anggotanya sudah meninggal, dibagi keluarga penerima.",
    "deceased_pbi": "Penduduk yang sudah meninggal namun masih tercatat sebagai peserta PBI-JK, dibagi "
    "seluruh peserta PBI-JK yang tertaut.",
    "field_checked": "Keluarga yang pernah diperiksa langsung di lapangan (cek lapangan), dibagi jumlah keluarga.",
}
