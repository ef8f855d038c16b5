"""Vectorised error planting: typos, mistyped digits, Excel damage, titles, old spellings, dates.

Each function transforms whole arrays (the rows chosen for an error), never one row at a time.

* `typo`: one character edit (substitution, deletion, insertion or transposition of
  neighbours; 25% get a second edit); the result always differs from the input.
* `mistype_digit`: one digit of a 16-digit number changed (positions 2-16), or two neighbouring
  different digits swapped.
* Excel damage of a 16-digit number: `excel_rounded` (15 significant digits, so the last digit
  becomes 0, with carry: 3204059999999999 -> 3204060000000000), `excel_scientific`
  (``3.20405E+15`` as Excel's General format shows it) and `excel_float` (``3204051234567890.0``).
* `year_typo`: a birth year mistyped with day and month kept (`21/03/2001` for `21-03-2010`):
  the last two digits swapped, else the tens digit one off.
* `old_spelling`: pre-1972 spelling (J -> DJ, C -> TJ, Y -> J, U -> OE: YUSUF -> JOESOEF).
* `titles`: religious and academic titles (H., HJ., DRS., DRA., IR. before; , S.PD, , S.E, ,
  S.H, , S.KOM, , S.T, , A.MD after).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.synth.render import choose, join, plain, to_numpy_text


def typo(rng: np.random.Generator, text: np.ndarray) -> np.ndarray:
    """One (25%: two) character edits of each string; strings of length 0 are left alone."""
    out = _one_edit(rng, np.asarray(text, dtype=str))
    second = rng.random(len(out)) < 0.25
    if second.any():
        out[second] = _one_edit(rng, out[second])
    return out


def _one_edit(rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    n = len(s)
    if n == 0:
        return s.copy()
    width = max(s.dtype.itemsize // 4, 1) + 2
    m = s.astype(f"<U{width}").view(np.uint32).reshape(n, width).copy()
    length = np.char.str_len(s)
    rows = np.arange(n)
    kind = rng.integers(0, 4, n)  # 0 substitute, 1 delete, 2 insert, 3 transpose
    kind = np.where(length < 3, np.where(kind == 1, 2, kind), kind)
    kind = np.where((kind == 3) & (length < 2), 0, kind)
    pos = np.floor(rng.random(n) * np.maximum(np.where(kind == 3, length - 1, length), 1)).astype(np.int64)
    here = m[rows, pos]
    after = m[rows, np.minimum(pos + 1, width - 1)]
    kind = np.where((kind == 3) & (here == after), 0, kind)
    letter = (65 + rng.integers(0, 26, n)).astype(np.uint32)
    letter = np.where(letter == here, 65 + (letter - 64) % 26, letter).astype(np.uint32)
    cols = np.arange(width)[None, :]
    p = pos[:, None]
    k = kind[:, None]
    src = np.where(k == 1, cols + (cols >= p), np.where(k == 2, cols - (cols > p), cols))
    src = np.where((k == 3) & (cols == p), p + 1, np.where((k == 3) & (cols == p + 1), p, src))
    out = np.take_along_axis(m, np.clip(src, 0, width - 1), axis=1)
    put = (kind == 0) | (kind == 2)
    out[rows[put], pos[put]] = letter[put]
    out[length == 0] = m[length == 0]
    return out.reshape(-1).view(f"<U{width}").astype(str)


def mistype_digit(rng: np.random.Generator, values: np.ndarray, width: int = 16) -> np.ndarray:
    """Change one digit (not the first) of each number, or swap two different neighbours."""
    v = np.asarray(values, dtype=np.int64)
    n = len(v)
    pos = rng.integers(1, width, n)  # digit position from the left, 1..width-1
    power = 10 ** (width - 1 - pos).astype(np.int64)
    digit = (v // power) % 10
    new = (digit + rng.integers(1, 10, n)) % 10
    substituted = v + (new - digit) * power
    left_power = power * 10
    left = (v // left_power) % 10
    swap_ok = (pos >= 2) & (left != digit) & (rng.random(n) < 0.3)
    swapped = v + (left - digit) * power + (digit - left) * left_power
    return np.where(swap_ok, swapped, substituted)


def excel_rounded(values: np.ndarray) -> np.ndarray:
    """A 16-digit number after a float with 15 significant digits: the last digit rounded off."""
    v = np.asarray(values, dtype=np.int64)
    return (v + 5) // 10 * 10


def excel_scientific(values: np.ndarray) -> pa.StringArray:
    """Excel's General display of a 16-digit number: 6 significant digits, '3.20405E+15'."""
    v = np.asarray(values, dtype=np.int64)
    mantissa = (v + 5 * 10**9) // 10**10  # 6 digits
    exponent = 15 + (mantissa >= 10**6)
    mantissa = np.where(mantissa >= 10**6, mantissa // 10, mantissa)
    text = plain(mantissa)
    lead = pc.utf8_slice_codeunits(text, 0, 1)
    rest = pc.utf8_slice_codeunits(text, 1, 6)
    rest = pc.replace_substring_regex(rest, "0+$", "")
    body = choose(np.asarray(pc.equal(rest, "").to_numpy(zero_copy_only=False)), lead, join([lead, ".", rest]))
    return join([body, "E+", plain(exponent)])


def excel_float(values: np.ndarray) -> pa.StringArray:
    """A 16-digit number read back as a float and written with '.0' (15 significant digits)."""
    return join([plain(excel_rounded(values)), ".0"])


def year_typo(year: np.ndarray, latest: int, oldest: int) -> np.ndarray:
    """Birth years mistyped: the last two digits swapped (2010 -> 2001) when they differ and the
    result lies in [oldest, latest], else ten years earlier (or later, near `oldest`)."""
    y = np.asarray(year, dtype=np.int64)
    tens, units = (y // 10) % 10, y % 10
    swapped = y - tens * 10 - units + units * 10 + tens
    ok = (tens != units) & (swapped <= latest) & (swapped >= oldest)
    return np.where(ok, swapped, np.where(y - 10 >= oldest, y - 10, y + 10))


def old_spelling(names: pa.Array) -> pa.StringArray:
    """Pre-1972 (van Ophuijsen / Soewandi) spelling of upper-case names."""
    out = names
    for new, old in (("J", "DJ"), ("C", "TJ"), ("Y", "J"), ("U", "OE")):
        out = pc.replace_substring(out, new, old)
    return out


def titles(
    rng: np.random.Generator,
    names: pa.Array,
    female: np.ndarray,
    age: np.ndarray,
    education: np.ndarray,
    birth_year: np.ndarray,
    rate: float,
) -> tuple[pa.StringArray, np.ndarray]:
    """Names with titles where a person plausibly has one (about `rate` of the eligible)."""
    n = len(female)
    u = rng.random(n)
    hajj = (age >= 40) & (u < rate * 1.5)
    s1 = education >= 5
    old_s1 = s1 & (birth_year < 1970) & (rng.random(n) < rate * 6)
    young_s1 = s1 & (birth_year >= 1965) & ~old_s1 & (rng.random(n) < rate * 5)
    diploma = (education == 4) & (rng.random(n) < rate * 3)
    before = np.select(
        [old_s1 & female, old_s1 & ~female & (rng.random(n) < 0.2), old_s1, hajj & female, hajj], [1, 2, 3, 4, 5], 0
    )
    prefixes = pa.array([None, "DRA. ", "IR. ", "DRS. ", "HJ. ", "H. "], pa.string())
    suffixes = pa.array([None, ", S.PD", ", S.E", ", S.H", ", S.KOM", ", S.T", ", A.MD"], pa.string())
    after = np.where(young_s1, 1 + rng.integers(0, 5, n), np.where(diploma, 6, 0))
    pre = prefixes.take(pa.array(before))
    post = suffixes.take(pa.array(after))
    out = join([pre, names, post])
    return out, (before > 0) | (after > 0)


def replace_masked(values: pa.Array, mask: np.ndarray, new: pa.Array | np.ndarray) -> pa.StringArray:
    """`values` with the masked positions replaced by `new` (one value per masked row)."""
    if not mask.any():
        return values
    replacement = new if isinstance(new, pa.Array) else pa.array(np.asarray(new, dtype=str), pa.string())
    return pc.replace_with_mask(values, pa.array(mask), replacement.cast(values.type))


def typo_where(rng: np.random.Generator, values: pa.Array, mask: np.ndarray) -> pa.StringArray:
    """`values` with a typo planted in the masked rows."""
    if not mask.any():
        return values
    return replace_masked(values, mask, typo(rng, to_numpy_text(values.filter(pa.array(mask)))))
