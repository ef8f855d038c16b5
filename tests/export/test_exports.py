"""Known answers: the programme lists dtsen writes for people carry hostile values neutralised
(before, the leakage and undercoverage lists were written raw by pandas)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dtsen.engine import Engine
from dtsen.welfare.pipeline import write_recipient_reports
from dtsen.welfare.targeting import select_recipients, simulate, write_recipients

from ..welfare.test_targeting import _rule, ranked_arrow
from .safety import csv_rows, unsafe_csv_cells

HOSTILE_KK = "=cmd|' /C calc'!A0"


def _ranked(duck: Engine) -> pa.Table:
    t = ranked_arrow()
    kk = [
        HOSTILE_KK if fid == 10 else v for fid, v in zip(t["family_id"].to_pylist(), t["kk"].to_pylist(), strict=True)
    ]
    return duck.from_arrow(t.set_column(t.schema.get_field_index("kk"), "kk", pa.array(kk, pa.string())))


def test_leakage_and_undercoverage_lists(duck: Engine, tmp_path: Path) -> None:
    files = write_recipient_reports(duck, _ranked(duck), tmp_path)
    for name in ("leakage", "undercoverage"):
        assert unsafe_csv_cells(files[name]) == [], name
    rows = csv_rows(files["undercoverage"])
    assert rows[0][:3] == ["family_id", "kk", "region_code"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["10"][1:3] == ["=\"=cmd|' /C calc'!A0\"", '="32.04.01.2001"']  # one text constant each
    assert by_id["3"][1] == '="3204011200000003"' and by_id["3"][-3:] == ["TIDAK", "TIDAK", "TIDAK"]


def test_recipient_list(duck: Engine, tmp_path: Path) -> None:
    ranked = _ranked(duck)
    rule = _rule(deciles=(1, 4), benefit=100.0)
    recipients = select_recipients(ranked, "pkh", rule)
    path = write_recipients(duck, recipients, simulate(recipients, rule), tmp_path)["csv"]
    assert unsafe_csv_cells(path) == []
    assert "=\"=cmd|' /C calc'!A0\"" in [r[3] for r in csv_rows(path)[1:]]
    plain = write_recipients(duck, recipients, simulate(recipients, rule), tmp_path / "p", excel_text=False)["csv"]
    assert "'=cmd|' /C calc'!A0" in [r[3] for r in csv_rows(plain)[1:]]  # without ="...", the ' rule
