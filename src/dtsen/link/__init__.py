"""Linkage: source records -> one person and one family, with stable ids (issue 3).

`link(engine, settings)` runs the whole job; the modules hold one step each: `records` (the
records and their keys), `deterministic` (the NIK pass), `model` (Splink), `cluster`, `review`
(clerical review files), `identity` and `previous` (stable ids across runs), `families`,
`evaluation` (against the synthetic truth) and `explain`.
"""

from dtsen.link.evaluation import LinkEvaluation, TruthError, evaluate_links, load_truth
from dtsen.link.explain import ExplainError, PersonExplanation, explain_person
from dtsen.link.identity import Identities, assign_ids
from dtsen.link.pipeline import LinkResult, link, link_dir
from dtsen.link.previous import PreviousRun, PreviousRunError, load_previous, write_manifest
from dtsen.link.records import LinkInput, LinkInputError, load_records
from dtsen.link.review import ReviewFileError, apply_decisions, read_decisions, write_review

__all__ = [
    "ExplainError",
    "Identities",
    "LinkEvaluation",
    "LinkInput",
    "LinkInputError",
    "LinkResult",
    "PersonExplanation",
    "PreviousRun",
    "PreviousRunError",
    "ReviewFileError",
    "TruthError",
    "apply_decisions",
    "assign_ids",
    "evaluate_links",
    "explain_person",
    "link",
    "link_dir",
    "load_previous",
    "load_records",
    "load_truth",
    "read_decisions",
    "write_manifest",
    "write_review",
]
