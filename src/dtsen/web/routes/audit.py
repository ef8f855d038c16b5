"""The auditor's pages: search the audit chain, verify it.

    GET  /web/audit?aktor=&aksi=&catatan=&hasil=&dari=&sampai=&sebelum=   audit.read, purpose audit
    POST /web/audit/verifikasi    audit.verify: walks the whole chain, says where it is broken

Reading the audit log is itself an entry of the chain (it names people and records).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dtsen.web.pages import WebRoute, is_htmx
from dtsen.web.viewer import CsrfDep, ViewerDep
from dtsen.web.views.auditlog import AuditQuery, parse_query, search

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

READ, VERIFY, PURPOSE = "audit.read", "audit.verify", "audit"
TEXT = Annotated[str, Query(max_length=100)]


@router.get("/audit")
def audit_search(viewer: ViewerDep, request: Request, aktor: TEXT = "", aksi: TEXT = "", catatan: TEXT = "",
                 hasil: TEXT = "", dari: TEXT = "", sampai: TEXT = "",
                 sebelum: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    decision = viewer.access.require(READ, PURPOSE)
    security = viewer.state.security
    query = parse_query(security.audit, aktor, aksi, catatan, hasil, dari, sampai, sebelum)
    page = search(security.store, query)
    seqs = [int(e["seq"]) for e in page.entries]
    viewer.access.record(READ, PURPOSE, [], decision=decision,
                         detail={"view": "web.audit", "filters": sorted(query.link(None)), "shown": len(seqs),
                                 "from_seq": min(seqs, default=0), "to_seq": max(seqs, default=0)})
    context = {**viewer.page_context(), "q": query, "form": {"aktor": aktor, "aksi": aksi, "catatan": catatan,
                                                             "hasil": hasil, "dari": dari, "sampai": sampai},
               "entries": page.entries, "next": query.link(page.next_before) if page.next_before else None,
               "can_verify": viewer.can(VERIFY), "report": None}
    template = "_audit_results.html" if is_htmx(request) and request.headers.get("hx-target") == "hasil" \
        else "audit.html"
    return viewer.state.pages.render(request, template, context)


@router.post("/audit/verifikasi")
def audit_verify(viewer: CsrfDep, request: Request) -> Response:
    viewer.access.require(VERIFY)
    security = viewer.state.security
    report = security.audit.verify(security.store)
    viewer.access.record(VERIFY, None, [], outcome="ok" if report.ok else "failed",
                         detail={"entries": report.entries, "problems": len(report.problems)})
    context = {**viewer.page_context(), "report": report, "q": AuditQuery(), "form": {}, "entries": [],
               "next": None, "can_verify": True}
    template = "_audit_report.html" if is_htmx(request) else "audit.html"
    return viewer.state.pages.render(request, template, context)
