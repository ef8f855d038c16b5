"""Each family's probability of being under a line, from its prediction and the model's spread.

    p = Φ((ln line - ln predicted) / σ)

σ is the model's residual spread on held-out survey families (`ModelArtefact.residual_sd`): ln
consumption scatters around the prediction with that standard deviation, so a family predicted
just under the line is poor with probability a little over one half, one predicted far under it
almost surely. Φ is the standard normal distribution function, written with the polynomial of
Abramowitz and Stegun (26.2.17, absolute error under 7.5e-8) so that it is the same arithmetic
on every engine. Without a σ (a coefficient table scored on no survey) p is 1 under the line
and 0 above it.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np

_P = 0.2316419
_B = (0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429)
_ROOT_2PI = math.sqrt(2.0 * math.pi)


def normal_cdf_expr(x: ir.FloatingValue) -> ir.FloatingValue:
    """Φ(x) as an engine expression (null where x is)."""
    a = x.abs()
    t = 1.0 / (1.0 + _P * a)
    poly = t * (_B[0] + t * (_B[1] + t * (_B[2] + t * (_B[3] + t * _B[4]))))
    tail = (-(a * a) / 2.0).exp() / _ROOT_2PI * poly
    return (x >= 0).ifelse(1.0 - tail, tail).cast("float64")


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) in numpy, by the same polynomial."""
    x = np.asarray(x, dtype=float)
    a = np.abs(x)
    t = 1.0 / (1.0 + _P * a)
    poly = t * (_B[0] + t * (_B[1] + t * (_B[2] + t * (_B[3] + t * _B[4]))))
    tail = np.exp(-(a * a) / 2.0) / _ROOT_2PI * poly
    return np.where(x >= 0, 1.0 - tail, tail)


def below_line_expr(predicted: ir.FloatingValue, line: ir.FloatingValue, sd: float | None) -> ir.FloatingValue:
    """The probability that a family predicted at `predicted` (Rp) is under `line` (Rp)."""
    if sd is None or not sd > 0:
        return (predicted < line).ifelse(ibis.literal(1.0), ibis.literal(0.0)).cast("float64")
    return normal_cdf_expr((line.ln() - predicted.ln()) / sd)
