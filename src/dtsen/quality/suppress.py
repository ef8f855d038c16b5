"""Small-count suppression: the rule every shareable quality page follows.

The rule, with threshold t (`QualitySettings.suppress_below`, 10 by default):

1. A count c is shown as "0" when c = 0, as "<t" when 1 <= c <= t - 1, and as the number
   otherwise (Indonesian digit grouping: 12.345).
2. A share n / d is shown as "–" (an en dash) when d = 0, when n or d is shown as "<t", or when
   the complement d - n is in 1..t - 1: with d and the share on the page, n and d - n could be
   backed out, so a share is shown only when n, d and d - n are each 0 or at least t.
3. A count n shown next to its denominator d (a numerator column) is shown as "–" when d is
   shown as a number (d = 0 or d >= t) and the complement d - n is in 1..t - 1, for the same
   reason; otherwise as in rule 1.
4. A mean over d units (for example the mean age of the newest observation) is shown as "–"
   when d is 0 or shown as "<t".
5. A score combining several shares is shown only when every share in it may be shown.

A threshold of 0 or 1 suppresses nothing. The rule protects each figure against being read off
or computed from the figures next to it; it does not protect against differencing across
pages (a district total minus all its villages), which is why the scorecard names only the
worst villages and never lists all villages of a district with their counts.
"""

from __future__ import annotations

import math

DASH = "\u2013"


def is_small(count: int, threshold: int) -> bool:
    """True when a count must not be shown: 1 <= count <= threshold - 1."""
    return 0 < count < threshold


def suppress(count: int, threshold: int) -> str:
    """A count as shown on a shareable page: "0", "<threshold", or the number (12.345)."""
    if is_small(count, threshold):
        return f"<{threshold}"
    return format_count(count)


def share_hidden(numerator: int, denominator: int, threshold: int) -> bool:
    """True when the share numerator / denominator must be shown as "–" (rule 2)."""
    return (
        denominator == 0
        or is_small(numerator, threshold)
        or is_small(denominator, threshold)
        or is_small(denominator - numerator, threshold)
    )


def suppress_share(numerator: int, denominator: int, threshold: int, digits: int = 1) -> str:
    """A share as shown on a shareable page: "99,5%" or "–" (rule 2)."""
    if share_hidden(numerator, denominator, threshold):
        return DASH
    return format_percent(numerator / denominator, digits)


def suppress_numerator(numerator: int, denominator: int, threshold: int) -> str:
    """A count shown beside its denominator: as `suppress`, or "–" when d - n is small (rule 3)."""
    shown = not is_small(numerator, threshold) and not is_small(denominator, threshold)
    if shown and is_small(denominator - numerator, threshold):
        return DASH
    return suppress(numerator, threshold)


def mean_hidden(denominator: int, threshold: int) -> bool:
    """True when a mean over `denominator` units must be shown as "–" (rule 4)."""
    return denominator == 0 or is_small(denominator, threshold)


def format_count(count: int) -> str:
    """An integer with Indonesian digit grouping: 12345 -> "12.345"."""
    return f"{count:,}".replace(",", ".")


def format_decimal(value: float, digits: int = 1) -> str:
    """A decimal number with an Indonesian decimal comma: 2.04 -> "2,0"; NaN -> "–"."""
    if math.isnan(value):
        return DASH
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_percent(share: float, digits: int = 1) -> str:
    """A share as a percentage with a decimal comma: 0.9956 -> "99,6%"."""
    return format_decimal(share * 100, digits) + "%"
