"""Data-quality indicators per region and source, and the regency scorecards (issue 5)."""
