"""Synthetic population, source extracts and survey, with ground truth (see `generate`)."""

from dtsen.synth.generate import SynthSummary, generate
from dtsen.synth.welfare import EXTREME_LINE, POVERTY_LINE

__all__ = ["EXTREME_LINE", "POVERTY_LINE", "SynthSummary", "generate"]
