"""One typed settings tree, loaded from the project file `dtsen.toml` and `DTSEN_*` variables.

Environment variables override the file; nested fields use a double underscore, e.g.
`DTSEN_ENGINE__KIND=spark` or `DTSEN_ENGINE__MEMORY_LIMIT=8GB`. Relative paths in the file are
relative to the file's own directory. Every mistake in the file is reported at once, each
with its line number (see `dtsen.config_lines`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dtsen.api.settings import ApiSettings
from dtsen.backup.settings import BackupSettings
from dtsen.config_lines import LineIndex
from dtsen.consolidate.rules import SurvivorshipSettings, unknown_source_refs
from dtsen.errors import ProblemLog, SettingsError
from dtsen.release.ids import LINK_RUN_ID_PATTERN
from dtsen.release.settings import QualitySettings, ReleaseSettings, VerifySettings
from dtsen.schema import FIELDS
from dtsen.security.settings import SecuritySettings
from dtsen.serve.settings import ServingSettings
from dtsen.store.settings import StoreSettings
from dtsen.vault.settings import VaultSettings
from dtsen.welfare.settings import RULE_FIELDS, ProgrammeRule, WelfareSettings

PROJECT_FILE = "dtsen.toml"

DATE_FORMATS = ("DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "DD-MM-YY", "YYYYMMDD", "EXCEL_SERIAL")
DEFAULT_DATE_FORMATS = ("DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "EXCEL_SERIAL")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ProjectSettings(_Section):
    name: str = Field("dtsen", description="A name for this project, shown in reports.")
    root: Path = Field(Path("."), description="Directory that relative paths start from (set by the loader).")


class EngineSettings(_Section):
    kind: Literal["duckdb", "spark"] = Field("duckdb", description="Compute engine: embedded DuckDB or PySpark.")
    database: str = Field(":memory:", description="DuckDB database file, or ':memory:'.")
    memory_limit: str = Field("4GB", description="DuckDB memory limit; past it DuckDB spills to spill_dir.")
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores).")
    spill_dir: Path | None = Field(None, description="Where DuckDB spills (default: a temp directory).")
    spark_master: str = Field("local[2]", description="Spark master URL when kind = 'spark'.")
    spark_driver_memory: str = Field("4g", description="Spark driver memory when kind = 'spark'.")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark configuration.")


class ReferenceSettings(_Section):
    regions: Path | None = Field(
        None, description="Kemendagri region list (code,name,level). Without it only code format is checked."
    )
    regions_edition: str = Field("", description="Edition label of the region list, e.g. 'Kepmendagri 300.2.2-2430/2025'.")


Severity = Literal["reject", "warn"]


class IngestSettings(_Section):
    work_dir: Path = Field(Path("work"), description="Where staged records, quarantine and the report are written.")
    chunk_rows: int = Field(200_000, ge=1_000, description="Rows per streamed chunk when reading files.")
    max_age: int = Field(120, ge=1, description="Ages above this are quarantined as implausible.")
    severity: dict[str, Severity] = Field(
        default_factory=dict,
        description="Override a reason's severity: 'reject' sends the row to quarantine, 'warn' keeps it flagged.",
    )
    excel_zero_share: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="A NIK/KK column whose share of values ending in 0 exceeds this went through a float.",
    )


class LinkSettings(_Section):
    threshold: float = Field(0.9, gt=0, lt=1, description="Match probability at or above which two records are one person.")
    review_low: float = Field(0.5, gt=0, lt=1, description="Pairs from this probability up to the threshold go to clerical review.")
    review_file: str = Field("review/pasangan_untuk_diperiksa.xlsx", description="Where the review pairs are written (.xlsx or .csv).")
    decisions: list[str] = Field(default_factory=list, description="Review decision files (must-link / cannot-link) honoured by the run.")
    previous: str | None = Field(None, description="Directory of the previous run's link output, whose ids carry on.")
    previous_release: str | None = Field(
        None, pattern=LINK_RUN_ID_PATTERN, description="The release id the previous mapping must belong to."
    )
    em_max_pairs: float = Field(2e6, ge=1e3, description="Pairs sampled per EM training session.")
    u_max_pairs: float = Field(2e6, ge=1e3, description="Random pairs sampled to estimate u.")
    seed: int = Field(42, description="Seed for the random sampling of training pairs.")

    @model_validator(mode="after")
    def _band(self) -> LinkSettings:
        if self.review_low >= self.threshold:
            raise ValueError(f"review_low ({self.review_low}) must be below threshold ({self.threshold})")
        return self


class SourceMapping(_Section):
    """How one source's files translate into canonical records."""

    level: Literal["person", "family"] = Field("person", description="One row is a person or a family.")
    files: list[str] = Field(description="File paths or glob patterns, relative to the project file.")
    format: Literal["auto", "csv", "xlsx", "parquet"] = Field("auto", description="File format (auto: by extension).")
    delimiter: str | None = Field(None, description="CSV delimiter (default: detected among , ; | and tab).")
    encoding: str = Field("auto", description="CSV encoding (auto: UTF-8, UTF-8 with BOM or Windows-1252).")
    sheet: str | None = Field(None, description="XLSX sheet to read (default: every sheet).")
    as_of: dt.date = Field(description="As-of date of the data (the observed_at of every row).")
    description: str = Field("", description="What this source is.")
    columns: dict[str, str] = Field(description="Source column -> canonical field.")
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per canonical field: source value -> canonical value."
    )
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS), description="Accepted date formats.")
    trust: dict[str, float] = Field(default_factory=dict, description="Per canonical field: trust 0..1.")
    required: list[str] = Field(default_factory=list, description="Canonical fields that must be mapped and present.")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v is not None and v not in {",", ";", "|", "\t"}:
            raise ValueError("delimiter must be one of ',', ';', '|' or a tab")
        return v


class Settings(BaseSettings):
    """The whole settings tree. Build it with `load_settings`."""

    model_config = SettingsConfigDict(env_prefix="DTSEN_", env_nested_delimiter="__", extra="forbid")

    project: ProjectSettings = Field(default_factory=lambda: ProjectSettings())
    engine: EngineSettings = Field(default_factory=lambda: EngineSettings())
    reference: ReferenceSettings = Field(default_factory=lambda: ReferenceSettings())
    ingest: IngestSettings = Field(default_factory=lambda: IngestSettings())
    link: LinkSettings = Field(default_factory=lambda: LinkSettings())
    survivorship: SurvivorshipSettings = Field(default_factory=lambda: SurvivorshipSettings())
    sources: dict[str, SourceMapping] = Field(default_factory=dict)
    welfare: WelfareSettings = Field(default_factory=lambda: WelfareSettings())
    programmes: dict[str, ProgrammeRule] = Field(default_factory=dict)
    release: ReleaseSettings = Field(default_factory=lambda: ReleaseSettings())
    quality: QualitySettings = Field(default_factory=lambda: QualitySettings())
    verify: VerifySettings = Field(default_factory=lambda: VerifySettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    security: SecuritySettings = Field(default_factory=lambda: SecuritySettings())
    api: ApiSettings = Field(default_factory=lambda: ApiSettings())
    serving: ServingSettings = Field(default_factory=lambda: ServingSettings())
    vault: VaultSettings = Field(default_factory=lambda: VaultSettings())
    backup: BackupSettings = Field(default_factory=lambda: BackupSettings())

    _lines: LineIndex = PrivateAttr(default_factory=lambda: LineIndex(""))
    _label: str = PrivateAttr("(defaults)")

    def where(self, *path: str) -> str:
        """Where a setting stands, e.g. 'dtsen.toml line 23 (sources.dtks.columns.NIK)'."""
        return self._lines.where(self._label, tuple(path))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    def path(self, p: str | Path) -> Path:
        """Resolve a path from the project file against the project root."""
        q = Path(p)
        return q if q.is_absolute() else self.project.root / q

    @property
    def work_dir(self) -> Path:
        return self.path(self.ingest.work_dir)


_FILE_DATA: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("_FILE_DATA", default=None)


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


def load_settings(path: str | Path | None = None) -> Settings:
    """Load `dtsen.toml` (or the given file) plus `DTSEN_*` variables; report all mistakes."""
    if path is None:
        data: dict[str, Any] = {}
        lines = LineIndex("")
        root = Path.cwd()
        label = "(defaults)"
    else:
        p = Path(path)
        if p.is_dir():
            p = p / PROJECT_FILE
        if not p.exists():
            raise SettingsError(f"project file {p} not found; `dtsen init DIR` writes a starter project")
        text = p.read_text(encoding="utf-8")
        label = str(p)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{p} is not valid TOML: {exc}") from None
        lines = LineIndex(text)
        root = p.parent.resolve()
    token = _FILE_DATA.set(data)
    try:
        settings = Settings()
    except ValidationError as exc:
        log = ProblemLog()
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            log.add(err["msg"], where=lines.where(label, loc))
        log.raise_if_any(SettingsError, f"{label} has mistakes")
        raise  # pragma: no cover - raise_if_any always raises here
    finally:
        _FILE_DATA.reset(token)
    settings.project.root = root
    settings._lines = lines
    settings._label = label
    check_mappings(settings, lines, label)
    return settings


def check_mappings(settings: Settings, lines: LineIndex, label: str) -> None:
    """Semantic checks of every source mapping, all reported at once."""
    from dtsen.ingest.reasons import REASONS

    log = ProblemLog()
    for reason in settings.ingest.severity:
        if reason not in REASONS:
            log.add(f"unknown reason {reason!r}; known: {', '.join(sorted(REASONS))}",
                    where=lines.where(label, ("ingest", "severity", reason)))
    for path, source in unknown_source_refs(settings.survivorship, set(settings.sources)):
        log.add(f"names unknown source {source!r}; known: {', '.join(sorted(settings.sources))}",
                where=lines.where(label, ("survivorship", *path)))
    _check_welfare(settings, lines, label, log)
    for name, src in settings.sources.items():
        base = ("sources", name)
        fields = FIELDS[src.level]
        seen: dict[str, str] = {}
        for column, field in src.columns.items():
            where = lines.where(label, (*base, "columns", column))
            if field not in fields:
                log.add(f"column {column!r} maps to unknown {src.level} field {field!r}",
                        where=where, hint=f"known fields: {', '.join(fields)}")
            elif field in seen:
                log.add(f"columns {seen[field]!r} and {column!r} both map to {field!r}", where=where)
            else:
                seen[field] = column
        for field, table in src.codes.items():
            where = lines.where(label, (*base, "codes", field))
            spec = fields.get(field)
            if spec is None:
                log.add(f"codes given for unknown {src.level} field {field!r}", where=where)
                continue
            if field not in seen:
                log.add(f"codes given for {field!r}, but no column maps to it", where=where)
            if spec.vocabulary:
                for raw, value in table.items():
                    if value not in spec.vocabulary:
                        log.add(f"code {raw!r} -> {value!r} is not in the {field} vocabulary",
                                where=lines.where(label, (*base, "codes", field, raw)),
                                hint=f"use one of {', '.join(spec.vocabulary)}")
        for fmt in src.date_formats:
            if fmt not in DATE_FORMATS:
                log.add(f"unknown date format {fmt!r}", where=lines.where(label, (*base, "date_formats")),
                        hint=f"use {', '.join(DATE_FORMATS)}")
        for field, trust in src.trust.items():
            where = lines.where(label, (*base, "trust", field))
            if field not in fields:
                log.add(f"trust given for unknown {src.level} field {field!r}", where=where)
            if not 0.0 <= trust <= 1.0:
                log.add(f"trust {trust} for {field!r} is outside 0..1", where=where)
        for field in src.required:
            if field not in seen:
                log.add(f"required field {field!r} is not mapped from any column",
                        where=lines.where(label, (*base, "required")))
        from dtsen.schema import IDENTITY_FIELDS

        if src.columns and not any(f in seen for f in IDENTITY_FIELDS[src.level]):
            log.add(f"no identity field is mapped; map at least one of {', '.join(IDENTITY_FIELDS[src.level])}",
                    where=lines.where(label, (*base, "columns")))
        if not src.files:
            log.add("no files listed", where=lines.where(label, (*base, "files")))
    log.raise_if_any(SettingsError, f"{label} has mistakes")


def _check_welfare(settings: Settings, lines: LineIndex, label: str, log: ProblemLog) -> None:
    """The survey names a family source; programme rules name fields that the ranking writes."""
    survey = settings.welfare.survey
    if "survey" in settings.welfare.model_fields_set and survey not in settings.sources:
        log.add(f"survey {survey!r} is not a source; known: {', '.join(sorted(settings.sources))}",
                where=lines.where(label, ("welfare", "survey")))
    for name, rule in settings.programmes.items():
        base = ("programmes", name)
        named = [("any_of", f) for f in rule.any_of] + [
            (part, f) for part in ("minimum", "maximum", "equals") for f in getattr(rule, part)
        ]
        for part, field in named:
            kind = RULE_FIELDS.get(field)
            where = lines.where(label, (*base, part) if part == "any_of" else (*base, part, field))
            if kind is None:
                log.add(f"programme {name!r} names unknown field {field!r}", where=where,
                        hint=f"known fields: {', '.join(RULE_FIELDS)}")
            elif part == "any_of" and kind != "count":
                log.add(f"any_of needs count fields; {field!r} is a {kind} field", where=where,
                        hint=f"count fields: {', '.join(f for f, k in RULE_FIELDS.items() if k == 'count')}")
            elif part in ("minimum", "maximum") and kind not in ("count", "number"):
                log.add(f"{part} needs a number field; {field!r} is a {kind} field", where=where)
