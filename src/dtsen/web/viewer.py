"""Who is looking at a page: the person behind the session cookie, the policy's answers for
them, and the `Access` that audits what the page reads. A citizen's token is refused here (the
citizens' pages have their own cookie and dependency: `dtsen.web.routes.citizen`).

    def page(viewer: ViewerDep) -> Response:
        viewer.can("region.summary", "statistics")     # the policy, never a role comparison
        viewer.purposes("family.read")                 # the purposes they may state, in order
        viewer.access.require(...); viewer.access.record(...)   # as the API does

`CsrfDep` is added to every POST route: it refuses the request unless it carries the session's
CSRF token (`dtsen.web.session`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from dtsen.api.access import Access, Caller
from dtsen.api.deps import request_id, source_of
from dtsen.security.errors import AuthenticationError
from dtsen.security.principal import Principal
from dtsen.web.pages import LoginRequired
from dtsen.web.session import check_csrf, session_csrf, session_token
from dtsen.web.state import WebState

# The purposes a page states for a personal-data action, in the order it prefers them: a person
# with several chooses on the page; the first one they may state is the default.
PURPOSE_ORDER: tuple[str, ...] = ("ground_check", "case_work", "data_quality", "self_service", "eligibility",
                                  "targeting", "statistics", "audit")

# The navigation: (label key, path, action, purpose). An item shows when the policy gives the
# viewer the action (for the purpose) anywhere.
NAVIGATION: tuple[tuple[str, str, str, str | None], ...] = (
    ("nav.overview", "/web/wilayah", "region.summary", "statistics"),
    ("nav.families", "/web/keluarga", "family.read", None),
    ("nav.cases", "/web/kasus", "case.list", "case_work"),
    ("nav.approval", "/web/persetujuan", "batch.list", "case_work"),
    ("nav.audit", "/web/audit", "audit.read", "audit"),
)


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


WebStateDep = Annotated[WebState, Depends(web_state)]


@dataclass
class Viewer:
    principal: Principal
    access: Access
    csrf: str
    state: WebState
    _scopes: dict[tuple[str, str | None], bool] = field(default_factory=dict)

    def can(self, action: str, purpose: str | None = None) -> bool:
        """Whether the policy gives this viewer `action` (for `purpose`) anywhere; with purpose
        None for a personal action: for some purpose."""
        key = (action, purpose)
        if key not in self._scopes:
            policy = self.state.security.policy
            spec = policy.table.actions.get(action)
            if purpose is None and spec is not None and spec.personal:
                self._scopes[key] = bool(self.purposes(action))
            else:
                self._scopes[key] = policy.scope(self.principal, action, purpose).allowed
        return self._scopes[key]

    def purposes(self, action: str) -> list[str]:
        """The purposes this viewer may state for `action`, in PURPOSE_ORDER."""
        policy = self.state.security.policy
        known = [p for p in PURPOSE_ORDER if p in policy.table.purposes]
        known += sorted(p for p in policy.table.purposes if p not in PURPOSE_ORDER)
        return [p for p in known if policy.scope(self.principal, action, p).allowed]

    def purpose_for(self, action: str, wanted: str | None) -> str | None:
        """The purpose a page states: `wanted` when the viewer may state it, else the first one."""
        allowed = self.purposes(action)
        if wanted in allowed:
            return wanted
        return allowed[0] if allowed else None

    def nav(self) -> list[dict[str, str]]:
        return [{"key": key, "href": href} for key, href, action, purpose in NAVIGATION if self.can(action, purpose)]

    def page_context(self) -> dict[str, Any]:
        return {"viewer": self, "csrf": self.csrf, "nav": self.nav()}

    @property
    def name(self) -> str:
        return self.principal.name


async def current_viewer(request: Request, state: WebStateDep) -> AsyncIterator[Viewer]:
    token = session_token(request)
    if token is None:
        raise LoginRequired("belum masuk / not logged in")
    try:
        principal = state.security.auth.principal(token)
    except AuthenticationError:
        raise LoginRequired("sesi berakhir / the session has ended") from None
    if principal.kind == "citizen":  # a citizen's session opens the citizen pages only (/web/warga)
        raise LoginRequired("sesi warga bukan sesi petugas / a citizen session is not a staff session")
    request.state.principal_ref = principal.ref
    access = Access(state.security, Caller(principal, source_of(request), request_id(request)))
    viewer = Viewer(principal, access, session_csrf(state.security.keys, principal.token_id or ""), state)
    request.state.web_viewer = viewer
    with access.request():
        yield viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def csrf_checked(request: Request, viewer: ViewerDep) -> Viewer:
    await check_csrf(request, viewer.csrf)
    return viewer


CsrfDep = Annotated[Viewer, Depends(csrf_checked)]
