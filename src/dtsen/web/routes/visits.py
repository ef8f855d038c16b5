"""The ground-check visit lists of the current release, to download (dinas sosial, operators).

    GET /web/kunjungan?wilayah=32.04                 the villages of the region with their files
    GET /web/kunjungan/{village}/{file}              kunjungan.csv, kunjungan.xlsx or formulir.xlsx
                                                     (the ODK/Kobo XLSForm), always as an attachment

The lists name families (KK, head's name, address), so reading them is `family.read` for the
purpose `ground_check`, within the viewer's region, and only for a viewer whose fields for it
cover everything a list holds (`dtsen.web.views.visits.LIST_FIELDS`; a kepala daerah, who may not see KK numbers, has no
downloads). A village outside the viewer's region is answered exactly like one without a list
(404), and the refusal is audited; every download is an audit entry naming the families the list
holds. Files are sent with `Content-Disposition: attachment`, `nosniff` and a sandboxing content
security policy: never rendered inline.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Resource
from dtsen.serve.regions import check_prefix
from dtsen.web.pages import NotFound, WebRoute
from dtsen.web.routes.region import REGION
from dtsen.web.viewer import Viewer, ViewerDep
from dtsen.web.views.visits import (
    ACTION,
    FILES,
    LIST_FIELDS,
    PURPOSE,
    listed_families,
    village_files,
    visit_file,
)

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

VILLAGE = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"
FILE = r"^(kunjungan\.csv|kunjungan\.xlsx|formulir\.xlsx)$"
NOT_FOUND = "daftar kunjungan tidak ditemukan / visit list not found"


def _release_dir(viewer: Viewer) -> tuple[str, FsPath]:
    with viewer.state.release() as h:
        directory = h.release_dir if h.release_dir is not None else viewer.state.releases.store.path(h.release_id)
        return h.release_id, directory


@router.get("/kunjungan")
def visit_lists(viewer: ViewerDep, request: Request,
                wilayah: Annotated[str | None, Query(max_length=13, pattern=REGION)] = None) -> Response:
    scope = viewer.access.scope(ACTION, PURPOSE)  # 403, audited, when nowhere
    if not scope.fields >= LIST_FIELDS:
        viewer.access.record(ACTION, PURPOSE, [], outcome="denied", detail={"reason": "fields", "view": "web.visits"})
        raise AccessDenied("akses ditolak / access denied: the visit lists hold fields you may not see")
    prefixes = scope.region_prefixes
    region = check_prefix(wilayah if wilayah is not None else ("" if prefixes is None else prefixes[0]))
    ref = f"region:{region or 'national'}"
    viewer.access.require(ACTION, PURPOSE, Resource(region_code=region), records=[ref])  # 403, audited
    release_id, directory = _release_dir(viewer)
    villages = village_files(directory, region)
    viewer.access.record(ACTION, PURPOSE, [ref], region_code=region,
                         detail={"release_id": release_id, "view": "web.visits", "villages": len(villages)})
    own = [] if prefixes is None else [{"code": p, "name": viewer.state.region_name(p)} for p in prefixes]
    return viewer.state.pages.render(request, "visits.html", {
        **viewer.page_context(), "region": {"code": region, "name": viewer.state.region_name(region)},
        "release_id": release_id, "own_regions": own,
        "villages": [{"code": v.code, "name": viewer.state.region_name(v.code), "files": v.files} for v in villages]})


@router.get("/kunjungan/{village}/{name}")
def download(viewer: ViewerDep, village: Annotated[str, Path(pattern=VILLAGE)],
             name: Annotated[str, Path(pattern=FILE)]) -> Response:
    ref = f"region:{village}"
    try:
        decision = viewer.access.require(ACTION, PURPOSE, Resource(region_code=village), records=[ref])
    except AccessDenied:
        raise NotFound(NOT_FOUND) from None
    if not decision.fields >= LIST_FIELDS:
        viewer.access.record(ACTION, PURPOSE, [ref], outcome="denied", region_code=village,
                             detail={"reason": "fields", "file": name})
        raise NotFound(NOT_FOUND)
    release_id, directory = _release_dir(viewer)
    path = visit_file(directory, village, name)
    if path is None:
        viewer.access.record(ACTION, PURPOSE, [ref], decision=decision, region_code=village,
                             detail={"release_id": release_id, "file": name, "found": 0})
        raise NotFound(NOT_FOUND)
    data = path.read_bytes()
    families = listed_families(directory, village)
    viewer.access.record(ACTION, PURPOSE, [f"family:{f}" for f in families] or [ref], decision=decision,
                         region_code=village, detail={"release_id": release_id, "view": "web.visit_download",
                                                      "file": name, "families": len(families)})
    filename = f"{name.split('.')[0]}-{village.replace('.', '')}-{release_id}.{name.rsplit('.', 1)[1]}"
    return Response(data, media_type=FILES[name], headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "no-store"})
