"""Indonesian names for the synthetic population, sampled with numpy from pools drawn once.

Two pool sources:

* Faker `id_ID` (default): its given-name and surname lists, with Zipf-like frequencies in a
  seeded random order, plus the common first tokens that Faker lacks (MUHAMMAD ~8% of men;
  SITI ~7%, NUR ~4%, SRI ~3% of women).
* a name-frequency file like ``refdata/names.csv`` (columns
  ``name,sex,count,male_count,female_count,first_token_male,first_token_female,region_tag``):
  the first token is drawn by ``first_token_male``/``first_token_female``, further tokens by
  ``male_count``/``female_count``. Tokens tagged ``sundanese_given_name`` take ~15% of first
  tokens in Jawa Barat (32); ``batak_marga_surname`` tokens are family surnames of ~45% of
  families in Sumatera Utara (12): head and children carry the father's marga, a wife her own.

A name has 1-3 tokens (25% / 55% / 20%), upper-cased as on a KTP. About 0.2% of people carry
a token with an accent (JOSÉ, RENÉ, ...) so that encodings are exercised; every token is
Windows-1252-encodable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dtsen.errors import ReferenceDataError
from dtsen.synth.render import join

ACCENTED = ("JOSÉ", "RENÉ", "ANDRÉ", "NOËL", "CLÉMENT", "HÉLÈNE", "AGNÈS", "THÉRÈSE")
TOKENS_P = (0.25, 0.55, 0.20)
_COMMON_MALE = (("MUHAMMAD", 0.08),)
_COMMON_FEMALE = (("SITI", 0.07), ("NUR", 0.04), ("SRI", 0.03))
_MARGA = (
    "NASUTION",
    "SIREGAR",
    "HARAHAP",
    "LUBIS",
    "SIMANJUNTAK",
    "SITUMORANG",
    "SINAGA",
    "PANJAITAN",
    "HUTAPEA",
    "MARPAUNG",
    "TAMPUBOLON",
    "SIMATUPANG",
    "PANGARIBUAN",
    "SIHOMBING",
    "MANURUNG",
    "GINTING",
    "TARIGAN",
    "SEMBIRING",
    "PURBA",
    "SARAGIH",
    "HUTAGALUNG",
    "SILALAHI",
    "SIAHAAN",
    "PASARIBU",
    "NAINGGOLAN",
)


@dataclass(frozen=True)
class Pool:
    tokens: pa.StringArray
    p: np.ndarray

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return np.minimum(np.searchsorted(np.cumsum(self.p), rng.random(n), side="right"), len(self.p) - 1)


@dataclass(frozen=True)
class NamePools:
    first: tuple[Pool, Pool]  # male, female
    other: tuple[Pool, Pool]
    sundanese: tuple[Pool, Pool] | None
    marga: Pool | None


def load_pools(names: Path | None, seed: int) -> NamePools:
    """Name pools from a frequency file, or from Faker id_ID (seeded)."""
    return _file_pools(names) if names is not None else _faker_pools(seed)


def sample_names(
    rng: np.random.Generator,
    pools: NamePools,
    female: np.ndarray,
    province: np.ndarray,
    marga: np.ndarray,
) -> pa.StringArray:
    """Full names for persons; `marga` is a marga pool index per person or -1 (none)."""
    n = len(female)
    n_tokens = np.minimum(np.searchsorted(np.cumsum(TOKENS_P), rng.random(n), side="right"), 2) + 1
    parts: list[pa.Array] = []
    for position in range(3):
        present = n_tokens > position
        if position > 0:
            # the last of several tokens may be a marga instead
            present &= ~((marga >= 0) & (n_tokens == position + 1))
        kinds = pools.first if position == 0 else pools.other
        idx_m = kinds[0].sample(rng, n)
        idx_f = kinds[1].sample(rng, n)
        token = pc.if_else(
            pa.array(female), kinds[1].tokens.take(pa.array(idx_f)), kinds[0].tokens.take(pa.array(idx_m))
        )
        if position == 0 and pools.sundanese is not None:
            sunda = (province == 32) & (rng.random(n) < 0.15)
            s_m = pools.sundanese[0].sample(rng, n)
            s_f = pools.sundanese[1].sample(rng, n)
            s_tok = pc.if_else(
                pa.array(female),
                pools.sundanese[1].tokens.take(pa.array(s_f)),
                pools.sundanese[0].tokens.take(pa.array(s_m)),
            )
            token = pc.if_else(pa.array(sunda), s_tok, token)
        if position == 0:
            accent = rng.random(n) < 0.002
            token = pc.if_else(
                pa.array(accent), pa.array(list(ACCENTED)).take(pa.array(rng.integers(0, len(ACCENTED), n))), token
            )
        parts.append(pc.if_else(pa.array(present), token, pa.scalar(None, pa.string())))
    if pools.marga is not None:
        has = marga >= 0
        marga_tok = pools.marga.tokens.take(pa.array(np.where(has, marga, 0)))
        parts.append(pc.if_else(pa.array(has), marga_tok, pa.scalar(None, pa.string())))
    return join(parts, " ")


def _normalise(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return p / p.sum()


def _faker_pools(seed: int) -> NamePools:
    from faker import Faker

    fake = Faker("id_ID")
    fake.seed_instance(seed)
    provider = next(p for p in fake.get_providers() if hasattr(p, "first_names_male"))
    rng = np.random.default_rng(seed)

    def pool(tokens: object, common: tuple[tuple[str, float], ...] = ()) -> Pool:
        words = sorted({str(t).upper() for t in tokens if str(t).replace("-", "").isalpha()})  # type: ignore[attr-defined]
        words = [w for w in words if w not in {c for c, _ in common}]
        order = rng.permutation(len(words))
        zipf = 1.0 / (np.arange(len(words)) + 3.0) ** 0.9
        p = zipf[np.argsort(order)]
        p = p / p.sum() * (1.0 - sum(s for _, s in common))
        return Pool(pa.array([c for c, _ in common] + words, pa.string()), np.concatenate([[s for _, s in common], p]))

    first = (pool(provider.first_names_male, _COMMON_MALE), pool(provider.first_names_female, _COMMON_FEMALE))
    other = (
        pool(list(provider.first_names_male) + list(provider.last_names_male)),
        pool(list(provider.first_names_female) + list(provider.last_names_female)),
    )
    marga = Pool(pa.array(list(_MARGA), pa.string()), _normalise(1.0 / (np.arange(len(_MARGA)) + 2.0)))
    return NamePools(first=first, other=other, sundanese=None, marga=marga)


def _file_pools(path: Path) -> NamePools:
    try:
        t = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={"name": pa.string(), "region_tag": pa.string(), "sex": pa.string()}
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReferenceDataError(f"cannot read name file {path}: {exc}") from None
    need = {"name", "count", "male_count", "female_count", "first_token_male", "first_token_female", "region_tag"}
    if not need <= set(t.column_names):
        raise ReferenceDataError(f"name file {path} lacks column(s) {', '.join(sorted(need - set(t.column_names)))}")
    name = np.asarray(pc.utf8_upper(pc.fill_null(t["name"], "")).to_pylist(), dtype=str)
    tag = np.asarray(pc.fill_null(t["region_tag"], "").to_pylist(), dtype=str)
    simple = np.array([w.replace("-", "").replace("'", "").isalpha() and w.isascii() and len(w) > 1 for w in name])
    col = {c: np.nan_to_num(t[c].to_numpy(zero_copy_only=False).astype(float)) for c in need - {"name", "region_tag"}}

    def pool(weight: np.ndarray, mask: np.ndarray) -> Pool:
        keep = mask & (weight > 0)
        if not keep.any():
            raise ReferenceDataError(f"name file {path} has no usable tokens for a pool")
        return Pool(pa.array(name[keep].tolist(), pa.string()), _normalise(weight[keep]))

    first = (pool(col["first_token_male"], simple), pool(col["first_token_female"], simple))
    other = (pool(col["male_count"], simple), pool(col["female_count"], simple))
    sunda_mask = simple & np.char.startswith(tag, "sundanese")
    sundanese = None
    total = col["count"] + 1.0
    male_w = np.where(col["male_count"] >= col["female_count"], total, 0.0)
    female_w = np.where(col["female_count"] > col["male_count"], total, 0.0)
    if (sunda_mask & (male_w > 0)).any() and (sunda_mask & (female_w > 0)).any():
        sundanese = (pool(male_w, sunda_mask), pool(female_w, sunda_mask))
    marga_mask = (
        np.char.startswith(tag, "batak")
        & ~np.char.startswith(name, "SUBMARGA")
        & np.array([w.replace(" ", "").replace("-", "").isalpha() and w.isascii() for w in name])
    )
    marga = pool(col["count"] + 1.0, marga_mask) if marga_mask.any() else None
    return NamePools(first=first, other=other, sundanese=sundanese, marga=marga)
