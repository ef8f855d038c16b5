"""Planted records for the linkage's known-answer tests: rows written into a synthetic project.

A synthetic project (`dtsen.synth.generate`) holds the true population under `truth/`. The
helpers here pick real persons and families from that truth and append rows to the project's
CSV sources in each source's own dialect (columns, codes, date format, delimiter, encoding and
line ends, all read from the project's mapping and the file itself), so that ingest reads them
like any other row. Each planted row is returned as a `Planted` with the row number it lands
on, for the test to find it again in `work/link/links.parquet`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.config import Settings

_DATE_PATTERNS = {"DD-MM-YYYY": "%d-%m-%Y", "DD/MM/YYYY": "%d/%m/%Y", "YYYY-MM-DD": "%Y-%m-%d", "YYYYMMDD": "%Y%m%d"}


@dataclass(frozen=True)
class Planted:
    """One planted source row: where it is, and the identity it carries."""

    source: str
    file: str  # relative to the project, as ingest and links name it
    row: int  # 1-based, the header being row 1
    nik: str | None
    full_name: str
    birth_date: dt.date

    @property
    def location(self) -> tuple[str, str, int]:
        return (self.source, self.file, self.row)


# --- writing rows in a source's own dialect -------------------------------------------------


def _newline(raw: bytes) -> bytes:
    first = raw.split(b"\n", 1)[0]
    return b"\r\n" if first.endswith(b"\r") else b"\n"


def csv_records(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    """Every record of a CSV file, the header first."""
    text = path.read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def append_csv(path: Path, rows: list[Mapping[str, str]], *, encoding: str, delimiter: str) -> list[int]:
    """Append `rows` (column -> raw text; columns left out are empty) to a CSV file, keeping
    its encoding, delimiter and line ends; returns the row number each one lands on."""
    raw = path.read_bytes()
    records = csv_records(path, encoding, delimiter)
    header = records[0]
    unknown = sorted({c for r in rows for c in r} - set(header))
    if unknown:
        raise ValueError(f"{path}: no column(s) {unknown}; the header is {header}")
    newline = _newline(raw)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline.decode())
    for r in rows:
        writer.writerow([r.get(c, "") for c in header])
    lead = b"" if raw.endswith(b"\n") else newline
    path.write_bytes(raw + lead + buf.getvalue().encode(encoding))
    first = len(records) + 1
    return list(range(first, first + len(rows)))


def shuffle_csv(path: Path, seed: int, *, encoding: str, delimiter: str) -> None:
    """Shuffle the data lines of a CSV file, the header kept first; refuses a file whose
    records span lines (a line shuffle would break them)."""
    raw = path.read_bytes()
    lines = raw.decode(encoding).splitlines(keepends=True)
    if len(csv_records(path, encoding, delimiter)) != len(lines):
        raise ValueError(f"{path}: some records span several lines")
    newline = _newline(raw).decode()
    header, data = lines[0], [ln if ln.endswith("\n") else ln + newline for ln in lines[1:]]
    random.Random(seed).shuffle(data)
    path.write_bytes((header + "".join(data)).encode(encoding))


class SourceWriter:
    """Canonical values -> a source's raw cells, through the project's mapping (inverted)."""

    def __init__(self, settings: Settings, source: str, file: str) -> None:
        self.settings = settings
        self.source = source
        self.file = file
        self.mapping = settings.sources[source]
        if self.mapping.format != "csv" or not self.mapping.delimiter or self.mapping.encoding == "auto":
            raise ValueError(f"source {source!r} is not a CSV with a known delimiter and encoding")
        self.path = settings.path(file)
        self.columns = {fld: col for col, fld in self.mapping.columns.items()}
        records = csv_records(self.path, self.mapping.encoding, self.mapping.delimiter)
        region_col = self.columns.get("region_code")
        sample = records[1][records[0].index(region_col)] if region_col and len(records) > 1 else ""
        self.dotted_regions = "." in sample
        self.date_format = _DATE_PATTERNS[self.mapping.date_formats[0]]

    def _code(self, fld: str, value: str) -> str:
        table = self.mapping.codes.get(fld)
        if not table:
            return value
        raws = [raw for raw, canonical in table.items() if canonical == value]
        return raws[0] if raws else ""

    def cells(self, values: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for fld, value in values.items():
            column = self.columns.get(fld)
            if column is None or value is None:
                continue
            if isinstance(value, dt.date):
                text = value.strftime(self.date_format)
            elif isinstance(value, bool):
                text = self._code(fld, "TRUE" if value else "FALSE")
            elif fld == "region_code":
                text = value if self.dotted_regions else value.replace(".", "")
            else:
                text = self._code(fld, str(value))
            out[column] = text
        return out

    def append(self, rows: list[Mapping[str, Any]]) -> list[Planted]:
        numbers = append_csv(
            self.path,
            [self.cells(r) for r in rows],
            encoding=self.mapping.encoding,
            delimiter=self.mapping.delimiter or ",",
        )
        return [
            Planted(self.source, self.file, n, r.get("nik"), r["full_name"], r["birth_date"])
            for n, r in zip(numbers, rows, strict=True)
        ]


def cleanest_file(project: Path, source: str) -> str:
    """The file of a source whose rows ingest accepted most often (a synthetic source may have
    a whole file whose NIK column went through Excel: every row of it is quarantined)."""
    report = json.loads((project / "work" / "ingest" / "report.json").read_text(encoding="utf-8"))
    files = [f for s in report["sources"] if s["source"] == source for f in s["files"]]
    best = max(files, key=lambda f: (f["accepted"] / max(f["rows_read"], 1), f["file"]))
    return str(best["file"])


# --- choosing real persons and families from the truth --------------------------------------


class Population:
    """The synthetic truth of a project, to pick persons and families from."""

    def __init__(self, project: Path) -> None:
        truth = project / "truth"
        self.persons = pq.read_table(truth / "persons.parquet")
        self.families = pq.read_table(truth / "families.parquet")
        records = pq.read_table(truth / "records.parquet")
        dukcapil = records.filter(pc.equal(records["source"], "dukcapil"))
        self.dukcapil_rows: dict[int, tuple[str, int]] = {
            r["person_id"]: (r["file"], r["row"]) for r in dukcapil.select(["person_id", "file", "row"]).to_pylist()
        }
        clean = dukcapil.filter(pc.equal(pc.list_value_length(dukcapil["errors"]), 0))
        self.clean_dukcapil = set(clean["person_id"].to_pylist())
        # the living head of each family, when Dukcapil lists the head
        self.heads: dict[int, int] = {
            p["family_id"]: p["person_id"]
            for p in self.persons.select(["family_id", "person_id", "relationship", "is_deceased"]).to_pylist()
            if p["relationship"] == "KEPALA_KELUARGA" and not p["is_deceased"] and p["person_id"] in self.dukcapil_rows
        }
        self.niks = set(self.persons["nik"].drop_null().to_pylist())
        self.names = set(self.persons["full_name"].drop_null().to_pylist())
        # every NIK any source carries (mistyped ones included), so that a new NIK is unused
        for part in sorted((project / "work" / "ingest" / "records").glob("*/*.parquet")):
            table = pq.read_table(part)
            if "nik" in table.column_names:
                self.niks |= set(table["nik"].drop_null().to_pylist())

    def steady_families(self) -> list[dict[str, Any]]:
        """Families that did not move, with a valid KK and a living head, oldest id first."""
        f = self.families
        keep = pc.and_(pc.invert(f["moved"]), pc.match_substring_regex(f["kk"], r"^[0-9]{16}$"))
        rows = f.filter(keep).select(["family_id", "kk", "region_code", "address", "rt", "rw"]).to_pylist()
        return sorted((r for r in rows if r["family_id"] in self.heads), key=lambda r: r["family_id"])

    def person(self, person_id: int) -> dict[str, Any]:
        rows = self.persons.filter(pc.equal(self.persons["person_id"], person_id)).to_pylist()
        return dict(rows[0])

    def clean_adults(self, exclude_families: Iterable[int] = ()) -> list[dict[str, Any]]:
        """Living adults with a clean Dukcapil row, a valid NIK and a name of two words or more."""
        steady = {f["family_id"] for f in self.steady_families()}
        barred = set(exclude_families)
        out = []
        for p in self.persons.to_pylist():
            if (
                p["person_id"] in self.clean_dukcapil
                and not p["is_deceased"]
                and p["age"] >= 20
                and p["family_id"] in steady
                and p["family_id"] not in barred
                and p["nik"]
                and len(p["nik"]) == 16
                and len(p["full_name"]) >= 10
                and " " in p["full_name"]
            ):
                out.append(p)
        return out

    def new_nik(self, region_code: str, birth: dt.date, sex: str, serial_from: int = 1) -> str:
        """An unused NIK for someone registered in `region_code`'s district."""
        day = birth.day + (40 if sex == "P" else 0)
        stem = region_code.replace(".", "")[:6] + f"{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        for serial in range(serial_from, 10_000):
            nik = f"{stem}{serial:04d}"
            if nik not in self.niks:
                self.niks.add(nik)
                return nik
        raise ValueError(f"no free serial for {stem}")

    def unused_niks(self, stem: str, count: int) -> list[str]:
        """`count` consecutive unused NIKs that start with `stem` (twins get consecutive serials)."""
        for serial in range(1, 10_000 - count):
            run = [f"{stem}{s:04d}" for s in range(serial, serial + count)]
            if not any(n in self.niks for n in run):
                self.niks.update(run)
                return run
        raise ValueError(f"no {count} free consecutive serials for {stem}")


def typo(name: str) -> str:
    """One letter changed: the middle consonant of the longest word becomes the next consonant."""
    words = name.split(" ")
    w = max(range(len(words)), key=lambda i: (len(words[i]), -i))
    word = words[w]
    consonants = "BCDFGHJKLMNPQRSTVWXYZ"
    positions = [i for i, c in enumerate(word) if c in consonants]
    i = min(positions, key=lambda k: (abs(k - len(word) // 2), k))
    replacement = consonants[(consonants.index(word[i]) + 1) % len(consonants)]
    words[w] = word[:i] + replacement + word[i + 1 :]
    return " ".join(words)


def mistype_nik(nik: str, used: set[str]) -> str:
    """The NIK with one serial digit changed, to a NIK nobody carries."""
    for position in (15, 14):
        for digit in "7395":
            if nik[position] == digit:
                continue
            candidate = nik[:position] + digit + nik[position + 1 :]
            if candidate not in used:
                used.add(candidate)
                return candidate
    raise ValueError(f"cannot mistype {nik}")


# --- the scenario of the known-answer tests --------------------------------------------------

TWIN_BIRTH = dt.date(2012, 8, 14)
TWIN_NAMES = ("PUTRI ANGGRAENI", "DEWI ANGGRAENI")
NAMESAKE = "DARMAWAN SUTISNA"
NAMESAKE_BIRTHS = (dt.date(1981, 3, 21), dt.date(1976, 10, 25))
STRANGER = ("BAMBANG SUTRISNO", "L", dt.date(1968, 2, 3))
_PERSON_FIELDS = (
    "kk", "full_name", "sex", "birth_place", "birth_date", "relationship", "marital_status", "education",
    "region_code", "address", "rt", "rw",
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """The planted rows, and the Dukcapil rows of the real persons they are about."""

    typo_of: tuple[Planted, Planted]  # (P's Dukcapil row, P's DTKS row: no NIK, one letter off)
    mistyped_of: tuple[Planted, Planted]  # (Q's Dukcapil row, Q's DTKS row: NIK one digit off)
    twin_a: Planted  # Dukcapil
    twin_b: Planted  # Dukcapil
    twin_a_dtks: Planted  # no NIK, name exact
    twins_family_head: Planted  # Dukcapil row of the head of the twins' family
    namesakes: tuple[Planted, Planted]  # Dukcapil
    namesakes_dtks: tuple[Planted, Planted]  # no NIK, no KK, each with his own birth date
    stranger: Planted  # DTKS, carries twin A's NIK
    year_typo_of: tuple[Planted, Planted]  # (R's Dukcapil row, R's DTKS row: her NIK, the birth year mistyped)
    sex_of: tuple[Planted, Planted]  # (S's Dukcapil row, S's DTKS row: his NIK, the sex miscoded)


def _dukcapil_row(pop: Population, person_id: int) -> Planted:
    file, row = pop.dukcapil_rows[person_id]
    p = pop.person(person_id)
    return Planted("dukcapil", file, row, p["nik"], p["full_name"], p["birth_date"])


def plant(project: Path, settings: Settings) -> Scenario:
    """Write the scenario's rows into the project's Dukcapil and DTKS files (see the tests)."""
    pop = Population(project)
    families = pop.steady_families()
    adults = pop.clean_adults()
    p = adults[0]
    q = next(a for a in adults if a["family_id"] != p["family_id"])
    used = {p["family_id"], q["family_id"]}
    fam = next(f for f in families if f["family_id"] not in used)
    used.add(fam["family_id"])
    by_village: dict[str, list[dict[str, Any]]] = {}
    for f in families:
        if f["family_id"] not in used and f["region_code"] != fam["region_code"]:
            by_village.setdefault(f["region_code"], []).append(f)
    village = min(v for v, fs in by_village.items() if len({(f["address"], f["rt"], f["rw"]) for f in fs}) >= 2)
    g1 = by_village[village][0]
    g2 = next(
        f for f in by_village[village][1:] if (f["address"], f["rt"], f["rw"]) != (g1["address"], g1["rt"], g1["rw"])
    )
    h = next(f for v, fs in sorted(by_village.items()) if v != village for f in fs)
    for name in (*TWIN_NAMES, NAMESAKE, STRANGER[0]):
        assert name not in pop.names, f"{name} already lives in the synthetic population"

    def home(f: dict[str, Any], kk: bool = True) -> dict[str, Any]:
        keys = ("kk", "region_code", "address", "rt", "rw") if kk else ("region_code", "address", "rt", "rw")
        return {k: f[k] for k in keys}

    twin_stem = fam["region_code"].replace(".", "")[:6] + f"{TWIN_BIRTH.day + 40:02d}{TWIN_BIRTH.month:02d}12"
    nik_a, nik_b = pop.unused_niks(twin_stem, 2)
    twin = {"sex": "P", "birth_date": TWIN_BIRTH, "birth_place": "BANDUNG", "relationship": "ANAK",
            "marital_status": "BELUM_KAWIN", "education": "SD", "occupation": "PELAJAR/MAHASISWA",
            "disability": "TIDAK", "is_deceased": False}  # fmt: skip
    man = {"sex": "L", "birth_place": "BANDUNG", "relationship": "FAMILI_LAIN", "marital_status": "KAWIN",
           "education": "SMA", "occupation": "WIRASWASTA", "disability": "TIDAK", "is_deceased": False}  # fmt: skip
    n1_nik = pop.new_nik(g1["region_code"], NAMESAKE_BIRTHS[0], "L")
    n2_nik = pop.new_nik(g2["region_code"], NAMESAKE_BIRTHS[1], "L")
    dukcapil = SourceWriter(settings, "dukcapil", settings.sources["dukcapil"].files[0])
    a, b, n1, n2 = dukcapil.append(
        [
            {**twin, **home(fam), "nik": nik_a, "full_name": TWIN_NAMES[0]},
            {**twin, **home(fam), "nik": nik_b, "full_name": TWIN_NAMES[1]},
            {**man, **home(g1), "nik": n1_nik, "full_name": NAMESAKE, "birth_date": NAMESAKE_BIRTHS[0]},
            {**man, **home(g2), "nik": n2_nik, "full_name": NAMESAKE, "birth_date": NAMESAKE_BIRTHS[1]},
        ]
    )

    def dtks_of(person: dict[str, Any], **change: Any) -> dict[str, Any]:
        values = {k: person[k] for k in _PERSON_FIELDS}
        values["nik"] = person["nik"]
        return {**values, **change}

    dtks = SourceWriter(settings, "dtks", cleanest_file(project, "dtks"))
    q_nik = mistype_nik(q["nik"], pop.niks)
    pt, qt, at, n1t, n2t, st = dtks.append(
        [
            dtks_of(p, nik=None, full_name=typo(p["full_name"])),
            dtks_of(q, nik=q_nik),
            {**twin, **home(fam), "nik": None, "full_name": TWIN_NAMES[0]},
            {**man, **home(g1, kk=False), "nik": None, "full_name": NAMESAKE, "birth_date": NAMESAKE_BIRTHS[0]},
            {**man, **home(g2, kk=False), "nik": None, "full_name": NAMESAKE, "birth_date": NAMESAKE_BIRTHS[1]},
            {**man, **home(h), "relationship": "KEPALA_KELUARGA", "nik": nik_a, "full_name": STRANGER[0],
             "sex": STRANGER[1], "birth_date": STRANGER[2]},
        ]
    )  # fmt: skip
    taken = used | {g1["family_id"], g2["family_id"], h["family_id"]}
    slips = [a for a in adults if a["family_id"] not in taken and (a["birth_date"].month, a["birth_date"].day) != (2, 29)]
    r = slips[0]
    s = next(a for a in slips if a["family_id"] != r["family_id"])
    year = r["birth_date"].year
    digits = f"{year:04d}"
    typo_year = int(digits[:2] + digits[3] + digits[2]) if digits[2] != digits[3] else year - 10
    flipped = {"L": "P", "P": "L"}[s["sex"]]
    year_row, sex_row = dtks.append(
        [
            dtks_of(r, birth_date=r["birth_date"].replace(year=typo_year)),  # 21/03/2001 for 21-03-2010
            dtks_of(s, sex=flipped),
        ]
    )
    head = pop.heads[fam["family_id"]]
    return Scenario(
        typo_of=(_dukcapil_row(pop, p["person_id"]), pt),
        mistyped_of=(_dukcapil_row(pop, q["person_id"]), qt),
        twin_a=a,
        twin_b=b,
        twin_a_dtks=at,
        twins_family_head=_dukcapil_row(pop, head),
        namesakes=(n1, n2),
        namesakes_dtks=(n1t, n2t),
        stranger=st,
        year_typo_of=(_dukcapil_row(pop, r["person_id"]), year_row),
        sex_of=(_dukcapil_row(pop, s["person_id"]), sex_row),
    )
