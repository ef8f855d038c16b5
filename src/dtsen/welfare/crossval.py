"""Cross-validation folds by region: a region's survey families are all in one fold.

Holding out whole regions measures how well a model ranks families in a region it has not
seen, which is what happens when a model trained on the survey ranks the whole registry. The
grouping level is the coarsest of province, regency and district that has at least as many
regions as folds; with fewer districts than folds, families are split at random.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

GROUP_LEVELS: tuple[str, ...] = ("province_code", "regency_code", "district_code")


def group_level(train: pd.DataFrame, folds: int) -> str | None:
    """The coarsest region column with at least `folds` distinct regions (None: random split)."""
    for column in GROUP_LEVELS:
        if train[column].nunique(dropna=True) >= folds:
            return column
    return None


def region_folds(train: pd.DataFrame, folds: int, seed: int) -> tuple[np.ndarray, str]:
    """Fold number (0..folds-1) of every row of `train`, and the level the folds were cut at.

    Regions are dealt to folds in a seeded order so that fold sizes stay close; the result
    does not depend on the row order of `train`.
    """
    level = group_level(train, folds)
    if level is None:
        key = train["family_id"].astype("int64").to_numpy()
        fold = np.array([_hash(f"{seed}:{k}") % folds for k in key], dtype=np.int64)
        return fold, "family"
    region = train[level].fillna("").astype(str)
    sizes = region.value_counts()
    order = sorted(sizes.index, key=lambda r: (-int(sizes[r]), _hash(f"{seed}:{r}")))
    load = np.zeros(folds, dtype=np.int64)
    assigned: dict[str, int] = {}
    for r in order:  # largest regions first, each to the lightest fold: balanced folds
        k = int(np.argmin(load))
        assigned[r] = k
        load[k] += int(sizes[r])
    return region.map(assigned).to_numpy(dtype=np.int64), level


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
