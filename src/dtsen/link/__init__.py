"""Linkage: source records -> one person and one family (issue 3)."""
