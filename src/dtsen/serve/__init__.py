"""The data side of the service: the serving index of a release, release switching, queries,
bulk matching (*padan data*).

index        build_serving_index(release_dir, out), index_release(settings)
releases     ServingReleases: the current release, switched atomically; a request holds one
lookups      person by NIK or id, family by KK or id with members, region lists and counts
summaries    region summaries with small counts suppressed
welfare      welfare status, the explanation of a rank, programme eligibility
search       persons or families by attribute (the query layer of DCI)
feed         the releases and the change feed between two of them
matching     bulk matching of standardized rows; match_job: a file in, results out, as a job

Public names are imported lazily, so that `dtsen.config` can import the `[serving]` settings
without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "build_serving_index": "index", "index_release": "index", "ServingIndexInfo": "index",
    "ServingIndexError": "index", "ServingReleases": "releases", "NoReleaseError": "releases",
    "ReleaseHandle": "handle", "person_by_nik": "lookups", "person_by_id": "lookups", "family_by_kk": "lookups",
    "family_by_id": "lookups", "persons_in_region": "lookups", "families_in_region": "lookups",
    "count_in_region": "lookups", "QueryInputError": "lookups", "region_summary": "summaries",
    "welfare_status": "welfare", "explain_rank": "welfare", "eligibility": "welfare", "programme_rule": "welfare",
    "search": "search", "list_releases": "feed", "change_feed": "feed", "match_file": "match_job",
    "MatchJob": "match_job", "MatchResult": "match_job", "export_match_results": "match_job",
    "MatchOptions": "matching", "ServingSettings": "settings",
}  # fmt: skip
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dtsen.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dtsen.serve.{module}"), name)
