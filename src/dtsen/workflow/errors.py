"""The errors of the workflow. Their messages never hold personal data (no NIK, KK, name or
address): they reach logs and API responses. The API maps each onto one status
(`dtsen.api.case_errors`)."""

from __future__ import annotations

from dtsen.errors import DtsenError, Problem


class WorkflowError(DtsenError):
    """Root of the workflow's errors."""


class MachineError(WorkflowError):
    """The state machine table is inconsistent, or disagrees with the policy; every problem is listed."""


class CaseNotFound(WorkflowError):
    """No case (or batch, or evidence) with that id."""


class InvalidCaseInput(WorkflowError):
    """What was sent cannot be used: every problem is listed (where and what, never the value)."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message, problems)


class TransitionRefused(WorkflowError):
    """The action is not open to a case of this type in its present state."""


class CaseConflict(WorkflowError):
    """The case (or batch) changed while the request was handled; read it again and retry."""


class EvidenceRefused(WorkflowError):
    """An uploaded file is not an image or PDF we accept (checked by its content)."""


class EvidenceTooLarge(WorkflowError):
    """An uploaded file is larger than `workflow.max_evidence_bytes`."""


class QuotaExceeded(WorkflowError):
    """Too many cases filed by one citizen's family today."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegistryUnavailable(WorkflowError):
    """There is no current release to check a family against."""


class BatchRefused(WorkflowError):
    """An approval batch cannot enter the build: changed after signing, or its signature does not verify."""
