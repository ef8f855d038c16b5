"""Ground-check campaigns: which families each village visits, and the lists the officers take.

`draw_candidates` turns the risk signals (`dtsen.verify.risk.risk_signals`) into the release's
`verification_candidates` table. Per village (region_code), with capacity
C = `visits_per_village` and R = floor(C * `random_share` + 0.5) (half rounds up):

1. random visits: the village's families ordered by `random_key` (the hex MD5 of
   "<seed>:<family_id>", then family_id) and the first R taken. The draw is a function of the
   seed and the ids only, so it is the same on every engine and every run, and a family's
   chance does not depend on its score: these visits measure what a check finds by chance.
2. risk visits: among the families not drawn at random and with a score above 0, the highest
   scores (ties: the smaller family_id), up to C - R. A family with no signal is never a risk
   visit, so a village with few risky families gets fewer visits than C.

Columns (CANDIDATE_COLUMNS): family_id, region_code, kk, selection ("risk" | "random"),
priority (1..n within the village: score descending, then family_id; every visit should be
made, the priority is the order), score, signals, decile, persons.

`write_village_exports` writes, per village, the list for the operator (CSV and XLSX, headers
in Bahasa Indonesia, the family's current values and the reasons for the visit in words) and
the XLSForm the officer fills in (`dtsen.verify.xlsform`), under
out_dir/<regency>/<district>/<village>/{kunjungan.csv, kunjungan.xlsx, formulir.xlsx}.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.config import Settings
from dtsen.engine import Engine, as_float64, as_int64
from dtsen.export import Column, Sheet, write_csv, write_xlsx
from dtsen.reference import RegionMaster
from dtsen.release.settings import VerifySettings
from dtsen.release.tables import ReleaseTables
from dtsen.verify.risk import SIGNALS
from dtsen.verify.xlsform import WELFARE_FIELDS, xlsform

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "family_id",
    "region_code",
    "kk",
    "selection",
    "priority",
    "score",
    "signals",
    "decile",
    "persons",
)
RISK = "risk"
RANDOM = "random"
LIST_CSV = "kunjungan.csv"
LIST_XLSX = "kunjungan.xlsx"
FORM_XLSX = "formulir.xlsx"
LIST_SHEET = "Daftar Kunjungan"

SIGNAL_WORDS: dict[str, str] = {
    "conflict": "data antarsumber berbeda",
    "low_confidence_link": "pencocokan data kurang meyakinkan",
    "stale": "data sudah lama tidak diperbarui",
    "suspected_deceased": "diduga ada anggota yang sudah meninggal",
    "rich_recipient": "penerima bantuan tetapi berada di desil 6-10",
    "poor_not_receiving": "sangat miskin tetapi tidak menerima bantuan",
    "near_threshold": "dekat batas kelayakan program",
    "implausible_composition": "susunan keluarga tidak wajar",
    "incomplete_welfare": "data rumah dan aset belum lengkap",
    "uncertain_poverty": "belum pasti di atas atau di bawah garis kemiskinan",
}
SELECTION_WORDS = {RISK: "Risiko", RANDOM: "Acak"}

# (key in the export frame, column): codes stay text, the officer's words are neutralised text
_LIST_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("priority", Column("Prioritas", "number")),
    ("selection_word", Column("Dasar Pemilihan")),
    ("family_id", Column("ID Keluarga", "number")),
    ("kk", Column("Nomor KK", "code")),
    ("head_name", Column("Nama Kepala Keluarga")),
    ("address", Column("Alamat")),
    ("rt", Column("RT", "code")),
    ("rw", Column("RW", "code")),
    ("region_code", Column("Kode Wilayah", "code")),
    ("persons", Column("Jumlah Anggota", "number")),
    ("decile", Column("Desil", "number")),
    ("score", Column("Skor Risiko", "number")),
    ("signal_words", Column("Alasan Pemeriksaan")),
    *((f.name, Column(f.header, "number" if f.kind == "integer" else "text")) for f in WELFARE_FIELDS),
)
LIST_COLUMNS: tuple[Column, ...] = tuple(c for _, c in _LIST_COLUMNS)


def random_key(family_id: ir.IntegerValue, seed: int) -> ir.StringValue:
    """The random order of the draw: hex MD5 of '<seed>:<family_id>' (same on every engine)."""
    return ibis.literal(f"{seed}:").concat(family_id.cast("int64").cast("string")).hexdigest("md5")


def random_visits(visits_per_village: int, random_share: float) -> int:
    """How many of a village's visits are drawn at random: floor(C * share + 0.5)."""
    return math.floor(visits_per_village * random_share + 0.5)


def draw_candidates(engine: Engine, signals: ir.Table, settings: VerifySettings) -> ir.Table:
    """The verification candidates (CANDIDATE_COLUMNS) drawn from the risk signals."""
    capacity = settings.visits_per_village
    n_random = min(random_visits(capacity, settings.random_share), capacity)
    s = signals.mutate(_key=random_key(signals.family_id, settings.seed))
    by_key = ibis.window(group_by=s.region_code, order_by=[s._key, s.family_id])
    s = s.mutate(_rpos=ibis.row_number().over(by_key))
    s = s.mutate(_random=s._rpos < n_random)
    rest = s.filter(~s._random & (s.score > 0))
    by_score = ibis.window(group_by=rest.region_code, order_by=[rest.score.desc(), rest.family_id])
    rest = rest.mutate(_spos=ibis.row_number().over(by_score))
    risk = rest.filter(rest._spos < capacity - n_random).mutate(selection=ibis.literal(RISK))
    drawn = s.filter(s._random).mutate(selection=ibis.literal(RANDOM))
    cols = ["family_id", "region_code", "kk", "selection", "score", "signals", "decile", "persons"]
    both = ibis.union(drawn.select(*cols), risk.select(*cols), distinct=False)
    order = ibis.window(group_by=both.region_code, order_by=[both.score.desc(), both.family_id])
    both = both.mutate(priority=ibis.row_number().over(order) + 1)
    return both.select(
        family_id=both.family_id.cast("int64"),
        region_code=both.region_code.cast("string"),
        kk=both.kk.cast("string"),
        selection=both.selection.cast("string"),
        priority=as_int64(both.priority),
        score=as_float64(both.score),
        signals=both.signals.cast("string"),
        decile=as_int64(both.decile),
        persons=as_int64(both.persons),
    )


def signal_words(signals: str | None) -> str:
    """The ';'-joined signal names in Bahasa Indonesia, '; '-joined."""
    names = [n for n in (signals or "").split(";") if n]
    return "; ".join(SIGNAL_WORDS.get(n, n) for n in sorted(names, key=_signal_order))


def _signal_order(name: str) -> int:
    return SIGNALS.index(name) if name in SIGNALS else len(SIGNALS)


def export_frame(engine: Engine, candidates: ir.Table, tables: ReleaseTables) -> pa.Table:
    """The candidates with what the officer needs: head name, address, RT/RW and the current
    welfare fields of the golden family (one row per candidate, ordered by village, priority)."""
    f = tables.families
    fam = f.select(
        _ffid=f.family_id.cast("int64"),
        address=f.address.cast("string"),
        rt=f.rt.cast("string"),
        rw=f.rw.cast("string"),
        **{w.name: f[w.name] for w in WELFARE_FIELDS},
    )
    r = tables.ranking.select(_rfid=tables.ranking.family_id.cast("int64"), _head=tables.ranking.head_person_id)
    p = tables.persons.select(_pid=tables.persons.person_id.cast("int64"), head_name=tables.persons.full_name)
    j = candidates.left_join(fam, candidates.family_id == fam._ffid)
    j = j.left_join(r, j.family_id == r._rfid)
    j = j.left_join(p, j._head.cast("int64") == p._pid)
    cols = [*CANDIDATE_COLUMNS, "address", "rt", "rw", "head_name", *(w.name for w in WELFARE_FIELDS)]
    out = j.select(*cols).order_by(["region_code", "priority"])
    return engine.con.to_pyarrow(out)


def _display(value: Any, key: str) -> Any:
    field = next((w for w in WELFARE_FIELDS if w.name == key), None)
    if field is not None:
        return field.display(value)
    return value


def _list_rows(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for row in rows:
        full = {
            **row,
            "selection_word": SELECTION_WORDS.get(row["selection"], row["selection"]),
            "signal_words": signal_words(row["signals"]),
        }
        out.append([_display(full.get(key), key) for key, _ in _LIST_COLUMNS])
    return out


def write_list_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """The visit list as CSV (`dtsen.export.write_csv`: UTF-8 with BOM, comma-separated,
    Indonesian headers, codes kept as text, no cell a formula)."""
    return write_csv(path, LIST_COLUMNS, _list_rows(rows))


def write_list_xlsx(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """The visit list as XLSX: one sheet LIST_SHEET, bold header, KK, RT/RW and codes as text."""
    return write_xlsx(path, [Sheet(LIST_SHEET, LIST_COLUMNS, _list_rows(rows))])


def village_dir(out_dir: Path, region_code: str) -> Path:
    """out_dir/<regency>/<district>/<village> for a village code PP.KK.CC.DDDD."""
    return Path(out_dir) / region_code[:5] / region_code[:8] / region_code


def write_village_exports(
    engine: Engine, candidates: ir.Table, tables: ReleaseTables, out_dir: Path, settings: Settings
) -> list[Path]:
    """Per village: kunjungan.csv, kunjungan.xlsx and formulir.xlsx; returns the files written
    (village by village, in that order). Candidates without a village code are skipped."""
    frame = export_frame(engine, candidates, tables)
    master = _region_master(settings)
    version = tables.as_of.strftime("%Y%m%d")
    rows = frame.to_pylist()
    by_village: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        code = row["region_code"]
        if code:
            by_village.setdefault(code, []).append(row)
    written: list[Path] = []
    for code in sorted(by_village):
        village_rows = by_village[code]
        d = village_dir(out_dir, code)
        d.mkdir(parents=True, exist_ok=True)
        written.append(write_list_csv(village_rows, d / LIST_CSV))
        written.append(write_list_xlsx(village_rows, d / LIST_XLSX))
        written.append(
            xlsform(village_rows, code, d / FORM_XLSX, title=_form_title(master, code), form_version=version)
        )
    return written


def _region_master(settings: Settings) -> RegionMaster:
    if settings.reference.regions is None:
        return RegionMaster.empty()
    return RegionMaster.load(settings.path(settings.reference.regions), settings.reference.regions_edition)


def _form_title(master: RegionMaster, code: str) -> str:
    region = master.get(code) if master.is_loaded else None
    place = f"{region.name} ({code})" if region is not None else code
    return f"Verifikasi lapangan DTSEN - {place}"
