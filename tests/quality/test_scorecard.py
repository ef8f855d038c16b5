"""The suppression rule, and the regency scorecard pages built from a hand-made indicator frame."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dtsen.engine import Engine
from dtsen.quality.indicators import indicators
from dtsen.quality.scorecard import ScorecardError, composite_scores, page_filename, write_scorecards
from dtsen.quality.suppress import format_decimal, share_hidden, suppress, suppress_numerator, suppress_share
from dtsen.reference.regions import RegionMaster
from dtsen.release.settings import QualitySettings
from tests.quality.test_indicators import _release

T = 10
SETTINGS = QualitySettings(suppress_below=T, worst_villages=2)


# -- the rule -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "threshold", "shown"),
    [(0, 10, "0"), (1, 10, "<10"), (9, 10, "<10"), (10, 10, "10"), (12345, 10, "12.345"), (3, 5, "<5"),
     (4, 0, "4"), (1, 1, "1"), (1234567, 10, "1.234.567")],
)  # fmt: skip
def test_suppress(count: int, threshold: int, shown: str) -> None:
    assert suppress(count, threshold) == shown


@pytest.mark.parametrize(
    ("n", "d", "share", "numerator"),
    [
        (0, 100, "0,0%", "0"),
        (50, 100, "50,0%", "50"),
        (100, 100, "100,0%", "100"),
        (5, 100, "–", "<10"),  # small numerator
        (95, 100, "–", "–"),  # small complement: 100 - 95 = 5 could be backed out
        (90, 100, "90,0%", "90"),  # complement 10 is not small
        (0, 5, "–", "0"),  # small denominator
        (3, 5, "–", "<10"),
        (20, 25, "–", "–"),
        (10, 20, "50,0%", "10"),
        (0, 0, "–", "0"),  # undefined
        (1, 3, "33,3%", "1"),  # threshold 1 below
    ],
)
def test_suppress_share(n: int, d: int, share: str, numerator: str) -> None:
    t = 1 if (n, d) == (1, 3) else T
    assert suppress_share(n, d, t) == share
    assert suppress_numerator(n, d, t) == numerator
    assert share_hidden(n, d, t) == (share == "–")


def test_format_decimal() -> None:
    assert format_decimal(1234.56) == "1.234,6"
    assert format_decimal(float("nan")) == "–"


# -- a hand-made indicator frame ------------------------------------------------------------------
BASE: dict[str, tuple[int, int]] = {
    "completeness_persons": (4500, 5000),
    "completeness_families": (1800, 2000),
    "completeness_nik": (800, 1000),  # = nik_valid: persons with a NIK
    "completeness_floor_type": (300, 400),
    "nik_valid": (800, 1000),
    "dukcapil_confirmed": (800, 1000),
    "duplicates_found": (0, 1200),
    "conflicts_persons": (100, 1000),
    "conflicts_families": (0, 400),
    "stale_families": (50, 400),
    "staleness_mean_days": (40000, 400),
    "deceased_recipients": (0, 100),
    "deceased_pbi": (0, 200),
    "field_checked": (0, 400),
}


def _rows(level: str, region: str, **override: tuple[int, int]) -> list[dict[str, object]]:
    values = BASE | override
    return [
        {"level": level, "region": region, "source": "ALL", "indicator": k, "numerator": n, "denominator": d,
         "value": n / d if d else float("nan")}
        for k, (n, d) in values.items()
    ]  # fmt: skip


def _frame(regency_pbi: tuple[int, int] = (4, 600)) -> pd.DataFrame:
    rows = [
        *_rows("national", "ALL"),
        *_rows("province", "32"),
        *_rows("regency", "32.04", deceased_pbi=regency_pbi),
        *_rows("regency", "32.05"),
        *_rows("district", "32.04.01", nik_valid=(500, 1000)),
        *_rows("district", "32.04.02", nik_valid=(900, 1000)),
        *_rows("district", "32.04.03", nik_valid=(700, 1000)),
        *_rows("district", "32.05.01"),
        # worst: small counts (score hidden, still ranked); then 32.04.03.2001; the rest are better
        *_rows("village", "32.04.01.2001", conflicts_persons=(5, 20), deceased_recipients=(3, 50), nik_valid=(10, 20)),
        *_rows("village", "32.04.01.2002"),
        *_rows("village", "32.04.02.2001", dukcapil_confirmed=(950, 1000)),
        *_rows("village", "32.04.03.2001", dukcapil_confirmed=(300, 1000)),
        *_rows("village", "32.05.01.2001"),
    ]
    frame = pd.DataFrame(rows)
    extra = pd.DataFrame([{"level": "source", "region": "ALL", "source": "dtks", "indicator": "quarantined",
                           "numerator": 3, "denominator": 7, "value": 3 / 7}])  # fmt: skip
    return pd.concat([frame, extra], ignore_index=True)


REGIONS_CSV = """code,name,level
32,Jawa Barat,province
32.04,Kabupaten Bandung,regency
32.05,Kabupaten Garut,regency
32.04.01,Ciwidey,district
32.04.02,Pasirjambu,district
32.04.03,Cimaung,district
32.05.01,Cisewu,district
32.04.01.2001,Panundaan,village
32.04.01.2002,Lebakmuncang,village
32.04.02.2001,Mekarsari,village
32.04.03.2001,Cikalong,village
32.05.01.2001,Sukajaya,village
"""


class _Cells(HTMLParser):
    """Every table cell (tag, text), per table id, and every row of cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}
        self.cells: list[tuple[str, str]] = []
        self.scripts: dict[str, str] = {}
        self._table: str | None = None
        self._cell: str | None = None
        self._script: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell, self._text = tag, ""
        elif tag == "script":
            self._script, self._text = a.get("id") or "", ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            cell = (self._cell, self._text.strip())
            self.cells.append(cell)
            if self._table is not None:
                self.tables[self._table][-1].append(cell)
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "script" and self._script is not None:
            self.scripts[self._script] = self._text
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None or self._script is not None:
            self._text += data


def _parse(path: Path) -> _Cells:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("rapor")
    (tmp / "regions.csv").write_text(REGIONS_CSV, encoding="utf-8")
    regions = RegionMaster.load(tmp / "regions.csv")
    history = [("R0", _frame((0, 500))), ("R1", _frame((40, 550)))]
    return write_scorecards(
        Engine.duckdb(), _frame(), tmp / "out", release_id="R2", regions=regions, history=history, settings=SETTINGS
    )


def test_files(pages: list[Path]) -> None:
    assert [p.name for p in pages] == [page_filename("32.04"), page_filename("32.05"), "index.html"]
    assert page_filename("32.04") == "rapor_32_04.html"
    index = _parse(pages[-1])
    assert [row[1][1] for row in index.tables["daftar-kabupaten"][1:]] == ["Kabupaten Bandung", "Kabupaten Garut"]
    assert 'href="rapor_32_04.html"' in pages[-1].read_text(encoding="utf-8")


def test_title_and_ranking(pages: list[Path]) -> None:
    html = pages[0].read_text(encoding="utf-8")
    assert "<title>Rapor Kualitas Data Kabupaten Bandung — rilis R2</title>" in html
    page = _parse(pages[0])
    districts = [(row[1][1], row[2][1]) for row in page.tables["peringkat-kecamatan"][1:]]
    assert districts == [("32.04.02", "Pasirjambu"), ("32.04.03", "Cimaung"), ("32.04.01", "Ciwidey")]
    assert [row[0] for row in page.tables["peringkat-kecamatan"][1:]] == [("th", "1"), ("th", "2"), ("th", "3")]
    villages = [(row[1][1], row[2][1], row[3][1], row[6][1]) for row in page.tables["desa-terburuk"][1:]]
    # two worst (settings.worst_villages): the one with small counts (score hidden) comes first
    assert villages[0][:3] == ("32.04.01.2001", "Panundaan", "Ciwidey") and villages[0][3] == "–"
    assert villages[1][:3] == ("32.04.03.2001", "Cikalong", "Cimaung") and villages[1][3] != "–"
    assert "Sukajaya" not in html  # another regency's village


def test_no_urls(pages: list[Path]) -> None:
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name
        assert "$schema" not in text


_NUMBER = re.compile(r"^[0-9]{1,3}(\.[0-9]{3})*$")


def test_small_counts_suppressed(pages: list[Path]) -> None:
    for path in pages:
        page = _parse(path)
        numbers = [int(text.replace(".", "")) for tag, text in page.cells if tag == "td" and _NUMBER.match(text)]
        assert numbers or path.name == "index.html", "a regency page shows counts"
        assert not [n for n in numbers if 0 < n < T], path.name
    page = _parse(pages[0])
    texts = [text for _, text in page.cells]
    assert f"<{T}" in texts  # the regency's 4 deceased PBI members
    pbi = next(r for r in page.tables["indikator-utama"] if r[0][1] == "Peserta PBI-JK yang sudah meninggal")
    assert [c[1] for c in pbi[1:5]] == [f"<{T}", "600", "peserta PBI-JK", "–"]
    stale = next(r for r in page.tables["indikator-utama"] if r[0][1].startswith("Keluarga dengan data usang"))
    assert [c[1] for c in stale[1:5]] == ["50", "400", "keluarga", "12,5%"]
    # the worst village: its 5 of 20 conflicted persons and 10 of 20 with NIK are not shown
    village = page.tables["desa-terburuk"][1]
    assert [c[1] for c in village[4:]] == ["20", "400", "–", "90,0%", "80,0%", "–", "12,5%"]


def test_trend_chart(pages: list[Path]) -> None:
    page = _parse(pages[0])
    html = pages[0].read_text(encoding="utf-8")
    assert re.search(r'<div class="chart" id="grafik-tren"><svg', html)
    spec = json.loads(page.scripts["spec-tren"])
    points = spec["data"]["values"]
    assert {p["rilis"] for p in points} == {"R0", "R1", "R2"}
    pbi = {p["rilis"]: p["nilai"] for p in points if p["indikator"] == "Peserta PBI-JK yang sudah meninggal"}
    assert pbi == {"R0": 0.0, "R1": pytest.approx(100 * 40 / 550, abs=0.01)}  # R2's 4 of 600 is suppressed
    assert spec["spec"]["encoding"]["x"]["sort"] == ["R0", "R1", "R2"]
    assert json.loads(page.scripts["spec-kecamatan"])["data"]["values"][0]["wilayah"] == "Pasirjambu"


def test_without_history_or_master(tmp_path: Path) -> None:
    paths = write_scorecards(
        Engine.duckdb(), _frame(), tmp_path, release_id="R2", regions=None, history=[], settings=SETTINGS
    )
    html = paths[0].read_text(encoding="utf-8")
    assert "<title>Rapor Kualitas Data 32.04 — rilis R2</title>" in html
    assert "grafik-tren" not in html and "Belum ada rilis sebelumnya" in html


def test_composite_score() -> None:
    scores = composite_scores(_frame(), T).set_index(["level", "region"])
    # 100 x mean of 0.9, 0.9, 0.9 (nik), 0.8, 1 - 0, 1 - 0.1, 1 - 0, 1 - 0.125, 1 - 0, 1 - 0
    assert scores.loc[("district", "32.04.02"), "score"] == pytest.approx(100 * (0.9 * 4 + 0.8 + 0.875 + 4) / 10)
    assert not scores.loc[("district", "32.04.02"), "hidden"]
    assert scores.loc[("village", "32.04.01.2001"), "hidden"]


def test_bad_frame(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match="numerator"):
        write_scorecards(
            Engine.duckdb(), _frame().drop(columns=["numerator"]), tmp_path, release_id="R", regions=None,
            settings=SETTINGS,
        )  # fmt: skip


def test_from_indicators(duck: Engine, tmp_path: Path) -> None:
    """End to end on the hand-made release: every count there is small. The completeness of the
    family welfare fields (18 of 68 cells) was shown before, at regency, province and nation; but
    68 cells are 17 fields x 4 families, so its denominator gives the 4 families away: hidden."""
    table = indicators(duck, _release(duck), QualitySettings())
    paths = write_scorecards(duck, table, tmp_path, release_id="R1", regions=None, settings=QualitySettings())
    page = _parse(paths[0])
    districts = [row[1][1] for row in page.tables["peringkat-kecamatan"][1:]]
    assert sorted(districts) == ["32.04.01", "32.04.02"]
    shares = [text for tag, text in page.cells if tag == "td" and text.endswith("%")]
    assert shares == []
    families = next(r for r in page.tables["indikator-utama"] if r[0][1].startswith("Kelengkapan data kesejahteraan"))
    assert [c[1] for c in families[1:3]] == ["18", "–"]
