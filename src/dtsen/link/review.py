"""Clerical review: uncertain pairs out to a person, their decisions back into the next run.

`write_review` writes the pairs of the uncertain band as a file a data steward opens in Excel:
one row per pair, the two records side by side field by field, the per-comparison match
weights (log2 Bayes factors), the match probability, and an empty ``keputusan`` (decision)
column with ``catatan`` (note). Headers say in Bahasa Indonesia what a column is and carry the
English column key in brackets, ``Nama lengkap A (full_name_l)``, which is what
`read_decisions` looks for. XLSX is the format to prefer: every text cell (NIK, KK, RT/RW,
record keys) is stored as text, the decision column offers a SAMA/BEDA list, and a
``Petunjuk`` sheet explains the work. CSV is UTF-8 with a byte-order mark, comma-separated;
a value that Excel would turn into a number or a date (a NIK, ``003``, ``2020-01-05``) or run
as a formula (one starting with ``=``, ``+``, ``-`` or ``@``) is written as ``="..."``, which
Excel shows as the text itself (beyond Excel's 255-character limit for such a literal, a
formula-like value gets a leading ``'`` instead). Both formats are written by `dtsen.export`, whose
rule also puts a leading ``'`` before formula-like text in XLSX and removes control characters.

`read_decisions` reads the file back (or any CSV/XLSX with the columns ``record_key_l``,
``record_key_r`` and ``keputusan`` or ``decision``) into must-link / cannot-link decisions and
refuses, all problems at once with their rows, a file with missing columns, unknown values or
keys, a pair decided both ways, or must-links that chain two records a cannot-link separates.
`apply_decisions` honours the decisions on the scored edges, on the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.errors import DtsenError, InputFileError, ProblemLog
from dtsen.export import Choices, Column, Sheet, write_csv, write_xlsx

REVIEW_SHEET = "Tinjauan"
GUIDE_SHEET = "Petunjuk"
MUST_LINK = "must_link"
CANNOT_LINK = "cannot_link"
DECISION_VALUES: dict[str, str] = {
    "SAMA": MUST_LINK,
    "YA": MUST_LINK,
    "MUST_LINK": MUST_LINK,
    "MATCH": MUST_LINK,
    "1": MUST_LINK,
    "BEDA": CANNOT_LINK,
    "TIDAK": CANNOT_LINK,
    "CANNOT_LINK": CANNOT_LINK,
    "NO_MATCH": CANNOT_LINK,
    "0": CANNOT_LINK,
}
DECISIONS_SCHEMA = pa.schema(
    [
        ("record_key_l", pa.string()),
        ("record_key_r", pa.string()),
        ("decision", pa.string()),
        ("row", pa.int64()),
    ]
)

# Indonesian names of the fields and comparisons a review file may show; others show their key.
LABELS: dict[str, str] = {
    "nik": "NIK",
    "kk": "No. KK",
    "full_name": "Nama lengkap",
    "name": "Nama baku",
    "name_titles": "Gelar",
    "name_tokens": "Bagian nama",
    "name_phonetic": "Kunci fonetik nama",
    "sex": "Jenis kelamin",
    "birth_date": "Tanggal lahir",
    "birth_place": "Tempat lahir",
    "relationship": "Hubungan keluarga",
    "marital_status": "Status kawin",
    "education": "Pendidikan",
    "occupation": "Pekerjaan",
    "disability": "Disabilitas",
    "region_code": "Kode wilayah",
    "region": "Wilayah",
    "address": "Alamat",
    "rt": "RT",
    "rw": "RW",
    "rt_rw": "RT/RW",
    "is_deceased": "Meninggal",
    "death_date": "Tanggal meninggal",
    "observed_at": "Tanggal data",
    "source": "Sumber",
}

_KEY_IN_HEADER = re.compile(r"\(\s*([A-Za-z0-9_]+)\s*\)\s*$")
DECISION_FILL = "FFF2CC"
DECISION_LIST = Choices(
    ("SAMA", "BEDA"),
    title="Keputusan",
    prompt="SAMA = orang yang sama; BEDA = orang berbeda; kosong = belum diputuskan.",
    error="Isi dengan SAMA (orang yang sama) atau BEDA (orang berbeda), atau biarkan kosong.",
    error_title="Keputusan tidak dikenal",
)
_EXCEL_TEXT = re.compile(r'^="(.*)"$', re.DOTALL)


class ReviewFileError(DtsenError):
    """A review file cannot be written, or its decisions cannot be used; every problem is listed."""


# --- columns of the review file ------------------------------------------------------------


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


class _Column:
    """One column of the review file: its header, its key, where its values come from."""

    def __init__(self, key: str, header: str, kind: str, side: str = "", width: float = 14) -> None:
        self.key = key
        self.header = f"{header} ({key})"
        self.kind = kind  # 'text' | 'int' | 'prob' | 'weight' | 'decision' | 'note'
        self.side = side  # 'A' | 'B' | ''
        self.width = width


def _columns(pairs: pa.Table, fields: Sequence[str]) -> list[_Column]:
    names = set(pairs.column_names)
    needed = ["record_key_l", "record_key_r", "match_probability"] + [f"{f}{s}" for f in fields for s in ("_l", "_r")]
    missing = [c for c in needed if c not in names]
    if missing:
        raise ReviewFileError(
            f"review pairs lack the columns {', '.join(missing)}; they have {', '.join(pairs.column_names)}"
        )
    cols = [
        _Column("pair", "No.", "int", width=6),
        _Column("match_probability", "Peluang cocok", "prob", width=10),
    ]
    for f in fields:
        cols.append(_Column(f"{f}_l", f"{_label(f)} A", "text", "A"))
        cols.append(_Column(f"{f}_r", f"{_label(f)} B", "text", "B"))
    cols.append(_Column("keputusan", "Keputusan: SAMA / BEDA", "decision", width=14))
    cols.append(_Column("catatan", "Catatan", "note", width=30))
    if "match_weight" in names:
        cols.append(_Column("match_weight", "Bobot total", "weight", width=9))
    for name in pairs.column_names:
        if name.startswith("weight_"):
            cols.append(_Column(name, f"Bobot: {_label(name.removeprefix('weight_'))}", "weight", width=9))
    for side, letter in (("l", "A"), ("r", "B")):
        if f"source_{side}" in names:
            cols.append(_Column(f"source_{side}", f"Sumber {letter}", "text", letter))
        if f"row_{side}" in names:
            cols.append(_Column(f"row_{side}", f"Baris {letter}", "int", letter, width=8))
    cols.append(_Column("record_key_l", "Kunci A", "text", "A", width=18))
    cols.append(_Column("record_key_r", "Kunci B", "text", "B", width=18))
    return cols


def _text(value: Any) -> str | None:
    """A field value as the text a person reads: dates YYYY-MM-DD, lists space-joined."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "YA" if value else "TIDAK"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else (str(int(value)) if value.is_integer() else repr(value))
    if isinstance(value, list | tuple):
        return " ".join(t for t in map(_text, value) if t)
    return str(value)


def _number(value: Any) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, int | float) else float(value)


def _rows(pairs: pa.Table, cols: list[_Column]) -> list[list[Any]]:
    """The cell values, row by row (a review file is small: hundreds to thousands of pairs)."""
    data = {c.key: pairs.column(c.key).to_pylist() for c in cols if c.key in pairs.column_names}
    out: list[list[Any]] = []
    for i in range(pairs.num_rows):
        row: list[Any] = []
        for c in cols:
            if c.kind == "int" and c.key == "pair":
                row.append(i + 1)
            elif c.kind in ("decision", "note"):
                row.append(None)
            elif c.kind == "text":
                row.append(_text(data[c.key][i]))
            else:
                row.append(_number(data[c.key][i]))
        out.append(row)
    return out


# --- writing -------------------------------------------------------------------------------


def write_review(pairs: pa.Table, path: Path, fields: Sequence[str]) -> int:
    """Write the pairs to review as CSV or XLSX (by the suffix); returns the number of pairs."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ReviewFileError(f"{path}: a review file must end in .csv or .xlsx, not {path.suffix or '(none)'!r}")
    cols = _columns(pairs, fields)
    rows = _rows(pairs, cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        _write_csv(path, cols, rows)
    else:
        _write_xlsx(path, cols, rows)
    return len(rows)


def _export_column(col: _Column) -> Column:
    """The column as the export writer (`dtsen.export`) writes it."""
    fills = {"A": "DDEBF7", "B": "E2EFDA", "": "EDEDED"}
    if col.kind == "text":  # NIK, KK, dates, RT/RW, keys: kept as text, ="..." in CSV
        return Column(col.header, "code", width=col.width, fill=fills[col.side])
    if col.kind == "decision":
        return Column(col.header, "text", width=col.width, fill=DECISION_FILL, fill_cells=True, choices=DECISION_LIST)
    if col.kind == "note":
        return Column(col.header, "text", width=col.width, fill=fills[col.side])
    formats = {"int": "0", "prob": "0.000", "weight": "0.00"}
    return Column(
        col.header, "number", width=col.width, number_format=formats[col.kind], digits=6, fill=fills[col.side]
    )


def _write_csv(path: Path, cols: list[_Column], rows: list[list[Any]]) -> None:
    write_csv(path, [_export_column(c) for c in cols], rows)


GUIDE: tuple[str, ...] = (
    "Petunjuk pemeriksaan pasangan catatan (clerical review)",
    "",
    "1. Setiap baris pada lembar 'Tinjauan' adalah satu pasangan catatan, A dan B, yang mungkin "
    "orang yang sama tetapi sistem tidak cukup yakin.",
    "2. Bandingkan kolom A dan B bidang demi bidang: nama, NIK, No. KK, tanggal lahir, jenis kelamin, wilayah, alamat.",
    "3. Isi kolom 'Keputusan' dengan SAMA bila A dan B orang yang sama, atau BEDA bila orang yang "
    "berbeda. Nilai lain yang diterima: YA atau 1 (= SAMA), TIDAK atau 0 (= BEDA).",
    "4. Biarkan 'Keputusan' kosong bila belum yakin; pasangan itu akan muncul lagi pada putaran berikutnya.",
    "5. Kolom 'Catatan' boleh diisi alasan atau keterangan.",
    "6. Jangan mengubah kolom 'Kunci A' dan 'Kunci B' (record_key_l, record_key_r) dan jangan menghapus "
    "baris judul. Urutan baris boleh diubah (filter, pengurutan).",
    "7. 'Peluang cocok' adalah perkiraan peluang bahwa A dan B orang yang sama (0 sampai 1).",
    "8. Kolom 'Bobot' menunjukkan seberapa kuat setiap bidang mendukung (positif) atau menentang (negatif) "
    "kecocokan, dalam log2 faktor Bayes: +3 berarti 8 kali lebih mungkin orang yang sama, -3 berarti 8 "
    "kali lebih mungkin orang yang berbeda.",
    "9. Keputusan yang saling bertentangan ditolak: misalnya A SAMA B, B SAMA C, tetapi A BEDA C. "
    "Pesan kesalahan menyebut nomor barisnya.",
    "10. Simpan dengan format yang sama (.xlsx) dan kembalikan berkas kepada petugas pengolah data.",
    "11. Berkas ini berisi data pribadi yang rahasia: jangan disalin atau dibagikan di luar keperluan "
    "pemeriksaan, dan hapus salinan setelah selesai.",
)


def _write_xlsx(path: Path, cols: list[_Column], rows: list[list[Any]]) -> None:
    review = Sheet(
        REVIEW_SHEET,
        [_export_column(c) for c in cols],
        rows,
        freeze="C2",
        auto_filter=True,
        wrap_header=True,
        header_height=45,
    )
    guide = Sheet(
        GUIDE_SHEET,
        [Column("Judul kolom", width=100), Column("Kunci (column key)", "code", width=24)],
        [[c.header.rsplit(" (", 1)[0], c.key] for c in cols],
        freeze=None,
        notes=GUIDE,
    )
    write_xlsx(path, [review, guide])


# --- reading -------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    """The column key of a header: the key in brackets at its end, else the header itself."""
    text = text.strip().lstrip("\ufeff").strip()
    found = _KEY_IN_HEADER.search(text)
    if found:
        return found.group(1).lower()
    return re.sub(r"[\s\-]+", "_", text.lower())


def _unwrap(text: str) -> str:
    """A CSV value as a person meant it: ``="003"`` (written to keep Excel off it) is ``003``."""
    text = text.strip()
    found = _EXCEL_TEXT.match(text)
    return found.group(1).replace('""', '"').strip() if found else text


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from dtsen.ingest.csv_reader import detect_delimiter, detect_encoding

    try:
        encoding = detect_encoding(path)
        delimiter, _ = detect_delimiter(path, encoding)
    except InputFileError as e:
        raise ReviewFileError(str(e)) from e
    with path.open("r", encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            records = list(reader)
        except csv.Error as e:
            raise ReviewFileError(f"{path}: line {reader.line_num} cannot be parsed ({e})") from None
    numbered = [(n, [_unwrap(v) for v in r]) for n, r in enumerate(records, start=1)]
    return _split_header(path, numbered)


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    from dtsen.ingest.staging import cell_text

    try:
        book = load_workbook(path, data_only=True)
    except Exception as e:  # openpyxl raises several unrelated types for a bad file
        raise ReviewFileError(f"{path}: cannot be read as an XLSX workbook ({e})") from None
    sheet = book[REVIEW_SHEET] if REVIEW_SHEET in book.sheetnames else book.worksheets[0]
    numbered = [
        (n, [(cell_text(v) or "").strip() for v in values])
        for n, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    ]
    book.close()
    return _split_header(path, numbered)


def _split_header(path: Path, numbered: list[tuple[int, list[str]]]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    for i, (_, values) in enumerate(numbered):
        if any(values):
            return [_header_key(v) for v in values], numbered[i + 1 :]
    raise ReviewFileError(f"{path}: the review file is empty")


def _decision_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ReviewFileError(f"{path}: review file not found")
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise ReviewFileError(f"{path}: a review file must be .csv or .xlsx, not {path.suffix or '(none)'!r}")


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _rows_text(rows: Iterable[int]) -> str:
    ordered = sorted(set(rows))
    return ("row " if len(ordered) == 1 else "rows ") + ", ".join(map(str, ordered))


def read_decisions(path: Path, known_keys: set[str] | None = None) -> pa.Table:
    """The decisions in a filled review file; ReviewFileError lists every problem with its row."""
    path = Path(path)
    header, records = _decision_rows(path)
    index: dict[str, int] = {}
    for j, key in enumerate(header):
        index.setdefault(key, j)
    decision_key = next((k for k in ("keputusan", "decision") if k in index), None)
    missing = [k for k in ("record_key_l", "record_key_r") if k not in index]
    if decision_key is None:
        missing.append("keputusan (or decision)")
    if missing or decision_key is None:
        found = ", ".join(repr(h) for h in header if h) or "none"
        raise ReviewFileError(f"{path}: the review file lacks the column(s) {', '.join(missing)}; found {found}")

    log = ProblemLog()
    accepted = ", ".join(DECISION_VALUES)
    decided: list[tuple[int, str, str, str]] = []  # row, key_l, key_r, decision
    for number, values in records:  # a review file is small: thousands of rows at most

        def get(key: str, values: list[str] = values) -> str:
            j = index[key]
            return values[j] if j < len(values) else ""

        raw = get(decision_key)
        if not raw:
            continue  # undecided
        where = f"{path.name} row {number}"
        decision = DECISION_VALUES.get(re.sub(r"[\s\-]+", "_", raw.upper()))
        if decision is None:
            log.add(f"unknown decision {raw!r}", where, f"accepted: {accepted}, or blank for undecided")
        left, right = get("record_key_l"), get("record_key_r")
        for side, key in (("record_key_l", left), ("record_key_r", right)):
            if not key:
                log.add(f"{side} is empty", where)
            elif known_keys is not None and key not in known_keys:
                log.add(f"record key {key!r} ({side}) is not a record of this run", where)
        if left and left == right:
            log.add(f"the same record {left!r} is on both sides", where)
        if decision is not None and left and right and left != right:
            decided.append((number, left, right, decision))

    kept = _check_consistency(path, decided, log)
    log.raise_if_any(ReviewFileError, f"{path}: the review decisions cannot be used")
    return pa.table(
        {
            "record_key_l": [d[1] for d in kept],
            "record_key_r": [d[2] for d in kept],
            "decision": [d[3] for d in kept],
            "row": [d[0] for d in kept],
        },
        schema=DECISIONS_SCHEMA,
    )


def _check_consistency(
    path: Path, decided: list[tuple[int, str, str, str]], log: ProblemLog
) -> list[tuple[int, str, str, str]]:
    """Pairs decided both ways and must-link chains across a cannot-link; one row per pair kept."""
    by_pair: dict[tuple[str, str], list[tuple[int, str, str, str]]] = {}
    for d in decided:
        by_pair.setdefault(_pair(d[1], d[2]), []).append(d)
    kept: list[tuple[int, str, str, str]] = []
    both_ways: set[tuple[str, str]] = set()
    for pair, ds in by_pair.items():
        kinds = {d[3] for d in ds}
        if len(kinds) > 1:
            both_ways.add(pair)
            must = [d[0] for d in ds if d[3] == MUST_LINK]
            cannot = [d[0] for d in ds if d[3] == CANNOT_LINK]
            log.add(
                f"the pair {pair[0]} / {pair[1]} is decided both SAMA ({_rows_text(must)}) "
                f"and BEDA ({_rows_text(cannot)})",
                f"{path.name} {_rows_text(must + cannot)}",
                "keep one decision",
            )
        kept.append(ds[0])
    kept.sort()

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    graph: dict[str, list[tuple[str, int]]] = {}
    for row, a, b, decision in kept:
        if decision == MUST_LINK:
            parent[find(a)] = find(b)
            graph.setdefault(a, []).append((b, row))
            graph.setdefault(b, []).append((a, row))
    for row, a, c, decision in kept:
        if decision != CANNOT_LINK or _pair(a, c) in both_ways or find(a) != find(c):
            continue
        keys, rows = _chain(graph, a, c)
        log.add(
            f"BEDA between {a} and {c} contradicts the SAMA decisions in {_rows_text(rows)}, "
            f"which join them: {' = '.join(keys)}",
            f"{path.name} row {row}",
            "change one of these rows",
        )
    return kept


def _chain(graph: dict[str, list[tuple[str, int]]], start: str, end: str) -> tuple[list[str], list[int]]:
    """The shortest path of must-links from start to end: its keys and the rows deciding them."""
    came: dict[str, tuple[str, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == end:
            break
        for nxt, row in graph.get(node, []):
            if nxt not in came:
                came[nxt] = (node, row)
                queue.append(nxt)
    keys, rows = [end], []
    step = came[end]
    while step is not None:
        keys.append(step[0])
        rows.append(step[1])
        step = came[step[0]]
    return keys[::-1], rows[::-1]


# --- honouring the decisions on the engine -------------------------------------------------


def apply_decisions(edges: ir.Table, decisions: ir.Table) -> ir.Table:
    """Scored edges with the review decisions honoured (pairs are unordered).

    A must-link pair gets ``match_probability`` 1.0 (a missing pair is added, its other columns
    null), a cannot-link pair 0.0; both get ``method`` 'review'. Other edges keep their method,
    or 'splink' when the edges have none. Should a pair be decided both ways (read_decisions
    refuses that), cannot-link wins: no merge on a contradiction.
    """
    schema = edges.schema()
    prob_type = schema["match_probability"]
    d = decisions.select(
        _rv_lo=ibis.least(decisions.record_key_l, decisions.record_key_r),
        _rv_hi=ibis.greatest(decisions.record_key_l, decisions.record_key_r),
        _rv_decision=decisions.decision,
    )
    # 'cannot_link' < 'must_link': the minimum is cannot-link whenever a pair has both
    d = d.group_by(["_rv_lo", "_rv_hi"]).aggregate(_rv_decision=d._rv_decision.min())
    e = edges.mutate(
        _rv_el=ibis.least(edges.record_key_l, edges.record_key_r),
        _rv_eh=ibis.greatest(edges.record_key_l, edges.record_key_r),
    )
    j = e.left_join(d, [e._rv_el == d._rv_lo, e._rv_eh == d._rv_hi])
    decision = j._rv_decision
    probability = ibis.cases(
        (decision == MUST_LINK, ibis.literal(1.0).cast(prob_type)),
        (decision == CANNOT_LINK, ibis.literal(0.0).cast(prob_type)),
        else_=j.match_probability,
    )
    method = j.method.cast("string") if "method" in schema else ibis.literal("splink")
    method = ibis.ifelse(decision.isnull(), method, ibis.literal("review"))
    columns = [*schema.names, *([] if "method" in schema else ["method"])]
    existing = j.select(
        **{c: probability if c == "match_probability" else method if c == "method" else j[c] for c in columns}
    )
    must = d.filter(d._rv_decision == MUST_LINK)
    new = must.anti_join(e, [must._rv_lo == e._rv_el, must._rv_hi == e._rv_eh])
    fill: dict[str, Any] = {
        "record_key_l": new._rv_lo.cast(schema["record_key_l"]),
        "record_key_r": new._rv_hi.cast(schema["record_key_r"]),
        "match_probability": ibis.literal(1.0).cast(prob_type),
        "method": ibis.literal("review"),
    }
    added = new.select(**{c: fill[c] if c in fill else ibis.null().cast(schema[c]) for c in columns})
    return existing.union(added, distinct=False)
