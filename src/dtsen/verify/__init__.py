"""Ground checks: risk scores, candidate lists per village, field forms and results (issue 5)."""
