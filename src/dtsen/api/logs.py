"""Logging of the running service: uvicorn's and dtsen's loggers on one console handler that
masks identifiers (`MaskingFilter`). uvicorn's own access log is off (it prints raw paths and
query strings); `dtsen.api.access` logs route templates instead."""

from __future__ import annotations

from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for `uvicorn.run(log_config=...)`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": "dtsen.security.masking.MaskingFilter"}},
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask"],
                                 "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["console"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "dtsen": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }
