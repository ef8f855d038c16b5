"""The approval inbox (`dtsen.workflow.approval`): batches of verified cases and the kepala
daerah's signature.

    GET  /web/persetujuan                    batches within the viewer's region; for dinas sosial also the
                                             verified cases not yet in a batch, to compose one per regency
    POST /web/persetujuan                    compose a batch (batch.create)
    GET  /web/persetujuan/{id}               what the batch changes, family by family (before and after)
    POST /web/persetujuan/{id}/tandatangan   sign it (batch.sign: Ed25519 over its content hash)

A batch outside the viewer's region is answered like one that does not exist (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from dtsen.security.errors import AccessDenied
from dtsen.web.pages import PAGE_HEADERS, NotFound, WebRoute
from dtsen.web.viewer import CsrfDep, Viewer, ViewerDep
from dtsen.web.views.cases import CASE_PURPOSE, workflow_of
from dtsen.workflow import approval
from dtsen.workflow.approval import ComposeBody
from dtsen.workflow.cases import Filters
from dtsen.workflow.errors import CaseNotFound, WorkflowError

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

BatchId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND = "paket tidak ditemukan / batch not found"


def _inbox(viewer: Viewer, request: Request, error: Exception | None = None, status: int = 200) -> Response:
    wf = workflow_of(viewer)
    rows = approval.batches(wf, viewer.access, CASE_PURPOSE)
    for r in rows:
        r["region_name"] = viewer.state.region_name(str(r["region_prefix"]))
    pending: dict[str, list[object]] = {}
    if viewer.can("batch.create", CASE_PURPOSE):
        for c in wf.cases(viewer.access, CASE_PURPOSE, Filters(state="approval", limit=200)):
            if c.batch_id is None:
                pending.setdefault(c.region_code[:5], []).append(c)
    groups = [{"region": r, "region_name": viewer.state.region_name(r), "cases": cs} for r, cs in sorted(pending.items())]
    return viewer.state.pages.render(request, "approvals.html", {
        **viewer.page_context(), "batches": rows, "pending": groups, "error": error,
        "can_sign": viewer.can("batch.sign", CASE_PURPOSE)}, status=status)


@router.get("/persetujuan")
def inbox(viewer: ViewerDep, request: Request) -> Response:
    if not viewer.can("batch.list", CASE_PURPOSE):
        viewer.access.scope("batch.list", CASE_PURPOSE)  # records the refusal and raises
        raise AccessDenied("akses ditolak / access denied")
    return _inbox(viewer, request)


@router.post("/persetujuan")
def compose(viewer: CsrfDep, request: Request,
            wilayah: Annotated[str, Form(pattern=r"^\d{2}(\.\d{2})?$")],
            kasus: Annotated[list[int], Form()]) -> Response:
    wf = workflow_of(viewer)
    try:
        made = approval.compose(wf, viewer.access, CASE_PURPOSE, ComposeBody(region=wilayah, case_ids=kasus))
    except WorkflowError as exc:
        return _inbox(viewer, request, exc, status=400)
    return RedirectResponse(f"/web/persetujuan/{made.id}", status_code=303, headers=PAGE_HEADERS)


def _batch_page(viewer: Viewer, request: Request, batch_id: int, error: Exception | None = None,
                status: int = 200) -> Response:
    wf = workflow_of(viewer)
    try:
        batch = approval.view(wf, viewer.access, CASE_PURPOSE, batch_id)
    except (AccessDenied, CaseNotFound, WorkflowError):
        raise NotFound(NOT_FOUND) from None
    return viewer.state.pages.render(request, "approval.html", {
        **viewer.page_context(), "b": batch, "region_name": viewer.state.region_name(batch.region),
        "can_sign": batch.status == "draft" and viewer.can("batch.sign", CASE_PURPOSE), "error": error},
        status=status)


@router.get("/persetujuan/{batch_id}")
def batch_page(viewer: ViewerDep, request: Request, batch_id: BatchId) -> Response:
    return _batch_page(viewer, request, batch_id)


@router.post("/persetujuan/{batch_id}/tandatangan")
def sign(viewer: CsrfDep, request: Request, batch_id: BatchId) -> Response:
    wf = workflow_of(viewer)
    try:
        approval.sign(wf, viewer.access, CASE_PURPOSE, batch_id)
    except (AccessDenied, CaseNotFound):
        raise NotFound(NOT_FOUND) from None
    except WorkflowError as exc:
        return _batch_page(viewer, request, batch_id, exc, status=400)
    return RedirectResponse(f"/web/persetujuan/{batch_id}", status_code=303, headers=PAGE_HEADERS)
