"""Welfare ranking: the proxy means test, deciles, poverty lines, targeting and evaluation."""
