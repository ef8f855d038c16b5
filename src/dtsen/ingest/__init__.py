"""Ingest: read source files, map, check and standardize them, quarantine what cannot be used."""

from dtsen.ingest.accounting import FileCount, IngestReport, SourceCount
from dtsen.ingest.pipeline import ingest
from dtsen.ingest.readers import ReadOptions, StagedFile, stage_file
from dtsen.ingest.reasons import REASONS, Reason

__all__ = ["REASONS", "FileCount", "IngestReport", "ReadOptions", "Reason", "SourceCount", "StagedFile", "ingest", "stage_file"]
