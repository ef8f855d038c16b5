"""The region overview, with its release and region picker.

    GET /web/wilayah?wilayah=32.04&rilis=R0002    region.summary, purpose statistics

The region must lie within the viewer's scope for `region.summary` (the policy decides; a region
outside it is refused and the refusal audited). Without `wilayah`, the viewer's own region (the
first of their scope; the whole country for a national scope). Every view is an audit entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dtsen.security.policy import Resource
from dtsen.serve.regions import check_prefix, level_of
from dtsen.web.messages import Translator, language_of
from dtsen.web.pages import WebRoute
from dtsen.web.viewer import ViewerDep
from dtsen.web.views.cases import overdue_below
from dtsen.web.views.overview import build_overview
from dtsen.web.views.visits import can_download

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

ACTION, PURPOSE = "region.summary", "statistics"
REGION = r"^([0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?)?$"
RELEASE = r"^R[0-9]{1,9}$"


def breadcrumbs(viewer: ViewerDep, region: str) -> list[dict[str, str]]:
    """The regions above `region` (and itself) that the viewer may open."""
    scope = viewer.access.security.policy.scope(viewer.principal, ACTION, PURPOSE)
    out = []
    for width in (0, 2, 5, 8, 13):
        if width > len(region):
            break
        code = region[:width]
        if scope.decide(Resource(region_code=code)).allowed:
            out.append({"code": code, "name": viewer.state.region_name(code), "level": level_of(code)})
    return out


@router.get("/wilayah")
def overview(viewer: ViewerDep, request: Request,
             wilayah: Annotated[str | None, Query(max_length=13, pattern=REGION)] = None,
             rilis: Annotated[str | None, Query(pattern=RELEASE)] = None) -> Response:
    scope = viewer.access.scope(ACTION, PURPOSE)  # 403, audited, when the viewer may see no region at all
    prefixes = scope.region_prefixes
    region = check_prefix(wilayah if wilayah is not None else ("" if prefixes is None else prefixes[0]))
    ref = f"region:{region or 'national'}"
    decision = viewer.access.require(ACTION, PURPOSE, Resource(region_code=region), records=[ref])
    state = viewer.state
    t = Translator(language_of(request))
    with state.release(rilis) as h:
        model = build_overview(state, h, region, t)
    viewer.access.record(ACTION, PURPOSE, [ref], decision=decision, region_code=region,
                         detail={"release_id": model.release_id, "view": "web.overview"})
    own = [] if prefixes is None else [{"code": p, "name": state.region_name(p)} for p in prefixes]
    releases = state.release_ids() if viewer.can("release.read") else [model.release_id]
    return state.pages.render(request, "overview.html", {
        **viewer.page_context(), "m": model, "crumbs": breadcrumbs(viewer, region), "own_regions": own,
        "releases": releases, "chosen_release": rilis or "", "national": prefixes is None,
        "overdue": overdue_below(viewer, region), "visit_lists": can_download(viewer)})
