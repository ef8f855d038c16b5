"""`pln`: electricity customers (PLN), one row per metered connection.

Profile: family level, current (the billing month of the run's date); every family whose
lighting is a PLN meter (no row for families without one). ~70% of rows carry the family's
KK and ~40% a NIK (the head's); the rest only a name and an address. Families that rent
(SEWA) are billed under the landlord's name, with no KK or NIK (``customer_not_head``); a
head who died is still the customer (``deceased_listed``). Power (DAYA, VA) and monthly use
(PEMAKAIAN_KWH) follow welfare. Addresses in PLN's own style (``JL MELATI 12 RT 003 RW 002``),
the village by name and the district by code (to resolve the village). CSV with `|`, UTF-8.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.synth.extract import Extract, SourceSpec
from dtsen.synth.geography import names_of
from dtsen.synth.names import sample_names
from dtsen.synth.render import blank, choose, join, padded, pick, plain, take
from dtsen.synth.truth import Truth, shown


def pln(t: Truth, rng: np.random.Generator) -> Extract:
    f, w, p, g = t.fam, t.wel, t.per, t.geo
    fam = np.flatnonzero((w.lighting == 0) & (f.living > 0))
    m = len(fam)
    where = shown(t, fam, t.today)
    head = f.head[fam]
    renter = w.ownership[fam] == 1
    known_kk = ~renter & (rng.random(m) < 0.78)
    known_nik = known_kk & (rng.random(m) < 0.55)
    province = g.district_int[g.village_district[where.village]] // 10000
    landlord = sample_names(rng, t.pools, rng.random(m) < 0.3, province, np.full(m, -1, np.int64))
    name = choose(renter, landlord, take(p.full_name, head))
    street = pc.replace_substring(pc.replace_substring(where.address, " NO. ", " "), ".", "")
    address = join([street, " RT ", padded(where.rt, 3), " RW ", padded(where.rw, 3)])
    va = w.electricity_va[fam]
    tariff = join(["R1/", plain(va)])
    tariff = choose(va >= 3500, "R2", tariff)
    kwh10 = np.round(w.electricity_kwh[fam] * 10).astype(np.int64)
    columns: dict[str, pa.Array] = {
        "IDPEL": padded(rng.permutation(m) + 5 * 10**11 + 3 * 10**9, 12),
        "NAMA_PELANGGAN": name,
        "NO_KK": blank(padded(where.kk, 16), ~known_kk),
        "NIK": blank(padded(p.nik[head], 16), ~known_nik),
        "ALAMAT": address,
        "NAMA_DESA": names_of(g, where.village, 13),
        "KODE_KEC": pick(g.district_code, g.village_district[where.village]),
        "TARIF": tariff,
        "DAYA": plain(va),
        "PEMAKAIAN_KWH": join([plain(kwh10 // 10), ".", plain(kwh10 % 10)]),
        "BLTH": pick((f"{t.as_of.year}{t.as_of.month:02d}",), np.zeros(m, np.int64)),
    }
    spec = SourceSpec(
        name="pln",
        level="family",
        format="csv",
        as_of=t.as_of,
        delimiter="|",
        encoding="utf-8",
        description="PLN: electricity customers with power (VA) and monthly use (kWh)",
        columns={
            "NAMA_PELANGGAN": "full_name",
            "NO_KK": "kk",
            "NIK": "nik",
            "ALAMAT": "address",
            "NAMA_DESA": "village_name",
            "KODE_KEC": "district_code",
            "DAYA": "electricity_va",
            "PEMAKAIAN_KWH": "electricity_kwh",
        },
        trust={
            "full_name": 0.4,
            "kk": 0.6,
            "nik": 0.6,
            "address": 0.5,
            "village_name": 0.6,
            "district_code": 0.8,
            "electricity_va": 1.0,
            "electricity_kwh": 1.0,
        },
        profile=__doc__ or "",
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.flag("customer_not_head", renter)
    ext.flag("deceased_listed", p.deceased[head] & ~renter)
    ext.files, ext.file_index = ["pln/pelanggan_pln.csv"], np.zeros(m, np.int64)
    return ext
