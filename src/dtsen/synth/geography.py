"""Where the synthetic people live: villages, districts and regencies, with population weights.

With a Kemendagri `code,name,level` file the real village codes are used, and when
`population.csv` (Dukcapil population per regency) sits beside it, people are spread over the
regencies in proportion to it. Without a file a small synthetic master is made in the right
format (`PP.KK.CC.DDDD`, villages `1xxx` kelurahan / `2xxx` desa) and returned as a table so that
it can be written out as the project's region list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from dtsen.errors import ReferenceDataError

SYNTHETIC_EDITION = "synthetic (dtsen synth)"
_PROVINCES = {
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "35": "Jawa Timur",
    "12": "Sumatera Utara",
    "73": "Sulawesi Selatan",
}
_HEAD = (
    "Suka",
    "Ci",
    "Karang",
    "Sido",
    "Tanjung",
    "Muara",
    "Bojong",
    "Pasir",
    "Gunung",
    "Kali",
    "Banjar",
    "Sumber",
    "Mekar",
    "Wono",
    "Tegal",
    "Rawa",
    "Jati",
    "Sindang",
    "Pada",
    "Lebak",
)
_TAIL = (
    "maju",
    "mulya",
    "jaya",
    "asih",
    "rejo",
    "makmur",
    "sari",
    "harjo",
    "agung",
    "indah",
    "baru",
    "kulon",
    "wetan",
    "lor",
    "kidul",
    "tengah",
    "raya",
    "wangi",
    "laksana",
    "galih",
)


@dataclass(frozen=True)
class Geography:
    """Villages in scope (one row each) and every district of the master (for NIK origins)."""

    village_code: np.ndarray  # dotted PP.KK.CC.DDDD (str)
    village_name: np.ndarray
    village_district: np.ndarray  # index into district_*
    village_weight: np.ndarray  # share of the population, sums to 1
    urban: np.ndarray  # bool
    district_code: np.ndarray  # every district of the master, dotted PP.KK.CC
    district_regency: np.ndarray  # index into regency_*
    regency_code: np.ndarray
    regency_name: np.ndarray
    regency_place: np.ndarray  # birth-place spelling, e.g. "BANDUNG"
    master: pa.Table  # code,name,level of the whole master
    edition: str
    path: Path | None  # the given region file, None when synthetic

    @property
    def village_int(self) -> np.ndarray:
        return _code_int(self.village_code)

    @property
    def district_int(self) -> np.ndarray:
        return _code_int(self.district_code)

    @property
    def province_of_district(self) -> np.ndarray:
        return np.array([c[:2] for c in self.district_code])


def load_geography(regions: Path | None, scope: str | None, persons: int, rng: np.random.Generator) -> Geography:
    """The geography of a run: from a region file, or synthetic."""
    if regions is None:
        master = _synthetic_master(scope, persons, rng)
        edition, path = SYNTHETIC_EDITION, None
    else:
        master = _read_master(regions)
        digest = hashlib.sha256(regions.read_bytes()).hexdigest()[:12]
        edition, path = f"{regions.name} (sha256 {digest})", regions.resolve()
    population = None
    if regions is not None and (regions.parent / "population.csv").exists():
        population = _read_population(regions.parent / "population.csv")
    return _build(master, scope, population, rng, edition, path)


def _read_master(path: Path) -> pa.Table:
    """The region list, validated by the reference package (all its problems at once)."""
    from dtsen.reference.regions import RegionMaster

    return RegionMaster.load(path).to_arrow().select(["code", "name", "level"])


def _read_population(path: Path) -> dict[str, float]:
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={"code": pa.string()}))
    if not {"code", "level", "total"} <= set(table.column_names):
        raise ReferenceDataError(f"population file {path} lacks code, level or total columns")
    levels, codes, totals = (table[c].to_pylist() for c in ("level", "code", "total"))
    return {c: float(t) for lv, c, t in zip(levels, codes, totals, strict=True) if lv == "regency"}


def _build(
    master: pa.Table,
    scope: str | None,
    population: dict[str, float] | None,
    rng: np.random.Generator,
    edition: str,
    path: Path | None,
) -> Geography:
    codes = np.asarray(master["code"].to_pylist(), dtype=str)
    names = np.asarray(master["name"].to_pylist(), dtype=str)
    lengths = np.char.str_len(codes)
    reg_mask, dis_mask, vil_mask = lengths == 5, lengths == 8, lengths == 13
    regency_code, regency_name = codes[reg_mask], names[reg_mask]
    order = np.argsort(regency_code)
    regency_code, regency_name = regency_code[order], regency_name[order]
    district_code = np.sort(codes[dis_mask])
    d_reg = np.searchsorted(regency_code, np.array([c[:5] for c in district_code]))
    if (
        len(district_code) == 0
        or np.any(d_reg >= len(regency_code))
        or np.any(regency_code[np.minimum(d_reg, len(regency_code) - 1)] != np.array([c[:5] for c in district_code]))
    ):
        raise ReferenceDataError("region list has districts without their regency (or no districts)")
    vo = np.argsort(codes[vil_mask])
    village_code, village_name = codes[vil_mask][vo], names[vil_mask][vo]
    if scope:
        keep = np.char.startswith(village_code, scope.rstrip(".") + ".") | (village_code == scope)
        village_code, village_name = village_code[keep], village_name[keep]
    if len(village_code) == 0:
        raise ReferenceDataError(
            f"no villages found for region scope {scope!r}" if scope else "region list has no villages"
        )
    v_dis = np.searchsorted(district_code, np.array([c[:8] for c in village_code]))
    if np.any(v_dis >= len(district_code)) or np.any(
        district_code[np.minimum(v_dis, len(district_code) - 1)] != np.array([c[:8] for c in village_code])
    ):
        raise ReferenceDataError("region list has villages without their district")
    v_reg = d_reg[v_dis]
    kota = np.char.startswith(np.char.upper(regency_name[v_reg]), "KOTA")
    urban = (np.array([c[9] for c in village_code]) == "1") | kota
    weight = _village_weights(v_reg, regency_code, population, rng)
    place = np.char.upper(regency_name)
    for prefix in ("KABUPATEN ADMINISTRASI ", "KOTA ADMINISTRASI ", "KABUPATEN ", "KOTA "):
        place = np.where(np.char.startswith(place, prefix), np.char.replace(place, prefix, "", count=1), place)
    return Geography(
        village_code=village_code,
        village_name=village_name,
        village_district=v_dis.astype(np.int64),
        village_weight=weight,
        urban=urban,
        district_code=district_code,
        district_regency=d_reg.astype(np.int64),
        regency_code=regency_code,
        regency_name=regency_name,
        regency_place=place,
        master=master,
        edition=edition,
        path=path,
    )


def _village_weights(
    v_reg: np.ndarray, regency_code: np.ndarray, population: dict[str, float] | None, rng: np.random.Generator
) -> np.ndarray:
    """Regency totals from the population file (else by village count), uneven within a regency."""
    noise = rng.gamma(3.0, 1.0, size=len(v_reg))
    per_reg_noise = np.bincount(v_reg, weights=noise, minlength=len(regency_code))
    if population:
        totals = np.array([population.get(c, np.nan) for c in regency_code])
        used = np.unique(v_reg)
        fill = np.nanmean(totals[used]) if np.any(~np.isnan(totals[used])) else 1.0
        totals = np.where(np.isnan(totals), fill, totals)
    else:
        totals = np.bincount(v_reg, minlength=len(regency_code)).astype(float)
    w = totals[v_reg] * noise / per_reg_noise[v_reg]
    return w / w.sum()


def _code_int(codes: np.ndarray) -> np.ndarray:
    return np.char.replace(codes.astype(str), ".", "").astype(np.int64)


def _synthetic_master(scope: str | None, persons: int, rng: np.random.Generator) -> pa.Table:
    """A small region master in the Kemendagri format, sized to the population."""
    n_villages = int(np.clip(persons // 1500, 12, 6000))
    parts = scope.split(".") if scope else []
    if len(parts) >= 2:
        regencies = [(parts[0], parts[1])]
    else:
        n_reg = max(1, n_villages // 150)
        provs = [parts[0]] if parts else list(_PROVINCES)[: max(1, min(len(_PROVINCES), (n_reg + 5) // 6))]
        regencies = [(provs[i % len(provs)], f"{i // len(provs) + 1:02d}") for i in range(n_reg)]
    per_reg = max(4, n_villages // len(regencies))
    rows: list[tuple[str, str, str]] = []
    seen_prov: set[str] = set()
    for k, (prov, reg) in enumerate(regencies):
        if prov not in seen_prov:
            seen_prov.add(prov)
            rows.append((prov, _PROVINCES.get(prov, f"Provinsi {prov}"), "province"))
        kota = k % 5 == 4
        rows.append((f"{prov}.{reg}", f"{'Kota' if kota else 'Kabupaten'} {_place(rng)}", "regency"))
        n_dis = max(2, per_reg // 12, int(parts[2]) if len(parts) >= 3 else 0)
        for d in range(1, n_dis + 1):
            dcode = f"{prov}.{reg}.{d:02d}"
            rows.append((dcode, _place(rng), "district"))
            n_vil = max(2, per_reg // n_dis + int(rng.integers(-2, 3)))
            n_kel = n_vil if kota else int(rng.binomial(n_vil, 0.15))
            if len(parts) == 4 and dcode == ".".join(parts[:3]):
                n_vil = max(n_vil, int(parts[3][1:]))
                n_kel = n_vil if parts[3][0] == "1" else 0
            for v in range(n_vil):
                num = 1001 + v if v < n_kel else 2001 + v - n_kel
                rows.append((f"{dcode}.{num}", _place(rng), "village"))
    rows.sort(key=lambda r: r[0])
    # names must be unique within a district for name resolution to work: suffix duplicates
    seen: dict[tuple[str, str], int] = {}
    out: list[tuple[str, str, str]] = []
    for code, name, level in rows:
        key = (code.rsplit(".", 1)[0] if level == "village" else level, name)
        count = seen.get(key, 0)
        seen[key] = count + 1
        out.append(
            (code, name if count == 0 else f"{name} {'I' * min(count + 1, 3)}{count if count > 2 else ''}", level)
        )
    return pa.table({"code": [r[0] for r in out], "name": [r[1] for r in out], "level": [r[2] for r in out]})


def _place(rng: np.random.Generator) -> str:
    return f"{_HEAD[int(rng.integers(len(_HEAD)))]}{_TAIL[int(rng.integers(len(_TAIL)))]}"


def names_of(geo: Geography, village: np.ndarray, width: int) -> pa.StringArray:
    """Upper-cased name of the region holding each village, at code width 2 (province), 5, 8 or 13."""
    lookup = dict(zip(geo.master["code"].to_pylist(), geo.master["name"].to_pylist(), strict=True))
    used, inverse = np.unique(village, return_inverse=True)
    names = [str(lookup.get(str(geo.village_code[v])[:width], "")).upper() for v in used]
    return pa.array(names, pa.string()).take(pa.array(inverse.astype(np.int64)))
