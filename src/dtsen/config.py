"""One typed settings tree, loaded from the project file `dtsen.toml` and `DTSEN_*` variables.

Environment variables override the file; nested fields use a double underscore, e.g.
`DTSEN_ENGINE__KIND=spark` or `DTSEN_ENGINE__MEMORY_LIMIT=8GB`. Relative paths in the file are
relative to the file's own directory. Every mistake in the file is reported at once, each
with its line number (see `dtsen.config_lines`).
"""

from __future__ import annotations

import contextvars
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dtsen.api.settings import ApiSettings
from dtsen.backup.settings import BackupSettings
from dtsen.config_lines import LineIndex
from dtsen.consolidate.rules import SurvivorshipSettings, unknown_source_refs
from dtsen.errors import Problem, ProblemLog, SettingsError
from dtsen.mapping import (
    DATE_FORMATS,
    DEFAULT_DATE_FORMATS,
    SourceMapping,
    check_mapping,
    expand_kinds,
    mapping_warnings,
)
from dtsen.release.ids import LINK_RUN_ID_PATTERN
from dtsen.release.settings import QualitySettings, ReleaseSettings, VerifySettings
from dtsen.schema import FIELDS
from dtsen.security.settings import SecuritySettings
from dtsen.serve.settings import ServingSettings
from dtsen.store.settings import StoreSettings
from dtsen.vault.settings import VaultSettings
from dtsen.welfare.settings import RULE_FIELDS, ProgrammeRule, WelfareSettings
from dtsen.workflow.settings import WorkflowSettings

PROJECT_FILE = "dtsen.toml"

__all__ = ["DATE_FORMATS", "DEFAULT_DATE_FORMATS", "PROJECT_FILE", "Settings", "SourceMapping", "load_settings"]



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
    spark_shuffle_partitions: int | None = Field(
        None, ge=1, description="Spark shuffle partitions (default: 3 per core the session has, at least 4)."
    )
    spark_checkpoint_dir: str | None = Field(
        None, description="Spark checkpoint directory; on a cluster one every executor reaches (default: a temp dir)."
    )
    spark_break_lineage: Literal["persist", "parquet", "checkpoint"] = Field(
        "parquet", description="How Splink cuts long Spark plans: Parquet files, checkpoints or cache (persist)."
    )


class ReferenceSettings(_Section):
    regions: Path | None = Field(
        None, description="Kemendagri region list (code,name,level). Without it only code format is checked."
    )
    regions_edition: str = Field("", description="Edition label of the region list, e.g. 'Kepmendagri 300.2.2-2430/2025'.")


Severity = Literal["reject", "warn"]


class RangeSetting(_Section):
    """A plausible range of a number field (inclusive); a value outside is withheld and flagged."""

    min: float | None = Field(None, description="Smallest plausible value (none: open).")
    max: float | None = Field(None, description="Largest plausible value (none: open).")

    @model_validator(mode="after")
    def _ordered(self) -> RangeSetting:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


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
    strict: bool = Field(
        False,
        description="Stop at a file that cannot be read (default: quarantine the whole file and go on).",
    )
    ranges: dict[str, RangeSetting] = Field(
        default_factory=dict,
        description="Per number field, its plausible range {min, max}, over the schema's (`dtsen fields`).",
    )

    def field_ranges(self) -> dict[str, tuple[float | None, float | None]]:
        """The schema's ranges with the project's laid over them, field by field."""
        out = {spec.name: (spec.low, spec.high) for fields in FIELDS.values() for spec in fields.values()
               if spec.has_range}
        for name, r in self.ranges.items():
            low, high = out.get(name, (None, None))
            out[name] = (r.min if "min" in r.model_fields_set else low, r.max if "max" in r.model_fields_set else high)
        return out


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
    workflow: WorkflowSettings = Field(default_factory=lambda: WorkflowSettings())

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
    settings.sources, kind_problems = expand_kinds(settings.sources)
    apply_roles(settings, data)
    check_mappings(settings, lines, label, [Problem(m, where=lines.where(label, p)) for p, m in kind_problems])
    return settings


def check_mappings(settings: Settings, lines: LineIndex, label: str, problems: list[Problem] | None = None) -> None:
    """Semantic checks of every source mapping (`dtsen.mapping.check_mapping`), all reported at once."""
    from dtsen.ingest.reasons import REASONS

    log = ProblemLog(list(problems or []))
    for reason in settings.ingest.severity:
        if reason not in REASONS:
            log.add(f"unknown reason {reason!r}; known: {', '.join(sorted(REASONS))}",
                    where=lines.where(label, ("ingest", "severity", reason)))
    _check_ranges(settings, lines, label, log)
    for path, source in unknown_source_refs(settings.survivorship, set(settings.sources)):
        log.add(f"names unknown source {source!r}; known: {', '.join(sorted(settings.sources))}",
                where=lines.where(label, ("survivorship", *path)))
    _check_welfare(settings, lines, label, log)

    def where(path: tuple[str, ...]) -> str:
        return lines.where(label, path)

    for name, src in settings.sources.items():
        check_mapping(name, src, settings.sources, where, log)
        base = src.config_path(name)
        for pattern, encoding in {"": src.encoding, **src.encodings}.items():
            if encoding != "auto" and not _known_encoding(encoding):
                log.add(f"unknown encoding {encoding!r}",
                        where=lines.where(label, (*base, "encodings", pattern) if pattern else (*base, "encoding")),
                        hint="e.g. utf-8, utf-8-sig, utf-16, cp1252, latin-1, or auto")
    log.raise_if_any(SettingsError, f"{label} has mistakes")


def apply_roles(settings: Settings, data: dict[str, Any]) -> None:
    """Lay the defaults that follow from the sources' roles (`dtsen.roles.role_defaults`) over
    the built-in ones: the survivorship source orders, `deaths_from`, `above_all`, and the PMT
    survey. What the project file (or a DTSEN_* variable) sets itself is kept."""
    from dtsen.consolidate.rules import FieldRule
    from dtsen.roles import role_defaults, role_of

    info = {name: (role_of(name, src.role, src.kind.source if src.kind else None), src.level, src.mapped_fields())
            for name, src in settings.sources.items()}
    found = role_defaults(info)
    given = data.get("survivorship") if isinstance(data.get("survivorship"), dict) else {}
    assert isinstance(given, dict)
    sv = settings.survivorship
    if "deaths_from" not in given and "deaths_from" not in sv.model_fields_set and found.deaths_from:
        sv.deaths_from = list(found.deaths_from)
    if "above_all" not in given and "above_all" not in sv.model_fields_set and found.above_all:
        sv.above_all = list(found.above_all)
    for rules, orders, mine in ((sv.person, found.person, given.get("person")),
                                (sv.family, found.family, given.get("family"))):
        named = set(mine) if isinstance(mine, dict) else set()
        for name, order in orders.items():
            if name not in named:
                rules[name] = FieldRule(rule="source_order", order=list(order))
    if found.survey and "survey" not in settings.welfare.model_fields_set:
        settings.welfare.survey = found.survey


def source_warnings(settings: Settings) -> list[Problem]:
    """What the mappings allow but probably did not mean (`dtsen.mapping.mapping_warnings`)."""
    out: list[Problem] = []
    for name, src in settings.sources.items():
        out += mapping_warnings(name, src, lambda path: settings.where(*path))
    return out


def _known_encoding(name: str) -> bool:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _check_ranges(settings: Settings, lines: LineIndex, label: str, log: ProblemLog) -> None:
    """`[ingest.ranges]` names number fields (or RT/RW)."""
    numbers = sorted({spec.name for fields in FIELDS.values() for spec in fields.values()
                      if spec.dtype in ("int", "float") or spec.has_range})
    for name in settings.ingest.ranges:
        if name not in numbers:
            log.add(f"a range is given for {name!r}, which is not a number field",
                    where=lines.where(label, ("ingest", "ranges", name)), hint=f"number fields: {', '.join(numbers)}")


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
