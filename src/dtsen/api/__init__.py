"""The service: a FastAPI application built by `dtsen.api.app.create_app(settings)` (no state at
import time), its one JSON error shape, middleware, the authentication endpoints, `/health`, and
the typed dependencies (`CurrentPrincipal`, `AccessDep`, ...) that data endpoints use.
"""
