"""Golden records: one value per person and family field, chosen by declared survivorship
rules, each with its source, as-of date and agreement (provenance), and the disagreements of
trusted sources that a ground check should settle (conflicts). Family composition is derived
from the golden persons."""

from dtsen.consolidate.conflicts import CONFLICT_FIELDS, find_conflicts, trusted_sources
from dtsen.consolidate.families import COMPOSITION_FIELDS, FAMILY_GOLDEN_FIELDS, golden_families
from dtsen.consolidate.persons import PERSON_GOLDEN_FIELDS, golden_persons
from dtsen.consolidate.rules import (
    FieldRule,
    SurvivorshipError,
    SurvivorshipSettings,
    unknown_source_refs,
    unknown_sources,
)
from dtsen.consolidate.survivorship import Decisive, GoldenTables, Implied, Survived, survive

__all__ = [
    "COMPOSITION_FIELDS",
    "CONFLICT_FIELDS",
    "FAMILY_GOLDEN_FIELDS",
    "PERSON_GOLDEN_FIELDS",
    "Decisive",
    "FieldRule",
    "GoldenTables",
    "Implied",
    "Survived",
    "SurvivorshipError",
    "SurvivorshipSettings",
    "find_conflicts",
    "golden_families",
    "golden_persons",
    "survive",
    "trusted_sources",
    "unknown_source_refs",
    "unknown_sources",
]
