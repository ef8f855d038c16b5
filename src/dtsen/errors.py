"""The one exception root of dtsen and its specific subclasses.

Every error a person can meet says what is wrong and where (file, row, column, project-file
line) so that it can be fixed without reading a traceback. The CLI turns any `DtsenError`
into a clean message and a non-zero exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with where it is. Several are reported together."""

    message: str
    where: str = ""
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class DtsenError(Exception):
    """Root of every error dtsen raises on purpose."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = self.args[0] if self.args else type(self).__name__
        if not self.problems:
            return str(head)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"{head}\n{lines}"


class SettingsError(DtsenError):
    """The project file or DTSEN_* variables are wrong; every mistake is listed."""


class MappingError(SettingsError):
    """A source mapping is wrong, or does not fit the file it is applied to."""


class InputFileError(DtsenError):
    """An input file cannot be read at all (empty, binary, no header, unknown delimiter)."""


class ReferenceDataError(DtsenError):
    """A reference file (region master, name frequencies) is malformed."""


class EngineError(DtsenError):
    """The compute engine cannot be started or is missing an optional dependency."""


class AccountingError(DtsenError):
    """Rows were lost or invented: rows read != rows accepted + rows quarantined."""


@dataclass
class ProblemLog:
    """Collects problems so that all of them are reported at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, where: str = "", hint: str = "") -> None:
        self.problems.append(Problem(message, where, hint))

    def raise_if_any(self, error: type[DtsenError], message: str) -> None:
        if self.problems:
            n = len(self.problems)
            raise error(f"{message} ({n} problem{'s' if n > 1 else ''})", self.problems)
