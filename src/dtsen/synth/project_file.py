"""The `dtsen.toml` of a synthetic run: one commented `[sources.NAME]` table per extract."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dtsen.synth.extract import SourceSpec

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _key(key: str) -> str:
    return key if _BARE.match(key) and not key.isdigit() else _s(key)


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.strip().splitlines()]


def project_text(
    name: str,
    regions: str,
    edition: str,
    specs: list[tuple[SourceSpec, list[str]]],
    header: str,
) -> str:
    """The project file text: [project], [reference], [ingest] and the source mappings."""
    lines = [
        *_comment(header),
        "#",
        "# Every [sources.NAME] table says how one ministry's files map onto dtsen's canonical schema",
        "# (src/dtsen/schema.py): `columns` maps a source column to a canonical field (columns not",
        "# listed are kept in staging but not used), `codes.FIELD` translates the source's code list",
        "# into the canonical vocabulary, `date_formats` lists how the source writes dates, and",
        "# `trust` (0..1) says how far each field is believed when sources disagree.",
        "",
        "[project]",
        f"name = {_s(name)}",
        "",
        "[reference]",
        "# The Kemendagri region list (code,name,level) that village codes are checked against.",
        f"regions = {_s(regions)}",
        f"regions_edition = {_s(edition)}",
        "",
        "[ingest]",
        "# Staged records, quarantine and the ingest report go here.",
        'work_dir = "work"',
    ]
    for spec, files in specs:
        lines += ["", "# " + "-" * 96, *_comment(spec.profile), f"[sources.{spec.name}]"]
        lines.append(f"level = {_s(spec.level)}")
        if spec.role:
            lines.append(f"role = {_s(spec.role)}")
        lines.append("files = [" + ", ".join(_s(f) for f in files) + "]")
        lines.append(f"format = {_s(spec.format)}")
        if spec.delimiter is not None:
            lines.append(f"delimiter = {_s(spec.delimiter)}")
        if spec.format == "csv":
            lines.append(f"encoding = {_s(spec.encoding)}")
        lines.append(f"as_of = {spec.as_of.isoformat()}")
        lines.append(f"description = {_s(spec.description)}")
        if spec.date_formats:
            lines.append("date_formats = [" + ", ".join(_s(f) for f in spec.date_formats) + "]")
        if spec.kind_column:
            lines.append(f"kind_column = {_s(spec.kind_column)}")
        lines += _mapping(f"sources.{spec.name}", spec.columns, spec.codes, spec.trust)
        if spec.compose:
            lines += ["", f"[sources.{spec.name}.compose]", "# canonical field = template of columns (:0N pads)"]
            lines += [f"{_key(field)} = {_s(t)}" for field, t in spec.compose.items()]
        for column, table in spec.value_flags.items():
            lines += ["", f"[sources.{spec.name}.value_flags.{_key(column)}]", "# value = the yes/no field it sets"]
            lines += [f"{_key(v)} = {_s(f)}" for v, f in table.items()]
        for kind, k in spec.kinds.items():
            path = f"sources.{spec.name}.kinds.{kind}"
            lines += ["", f"[{path}]", "values = [" + ", ".join(_s(v) for v in k.values) + "]",
                      f"level = {_s(k.level)}"]
            if k.parent:
                lines += [f"parent = {_s(k.parent)}", f"key = {_s(k.key or '')}",
                          "inherit = [" + ", ".join(_s(f) for f in k.inherit) + "]"]
            lines += _mapping(path, k.columns, k.codes, k.trust)
    from dtsen.welfare.example import welfare_toml

    survey = next((spec.name for spec, _ in specs if "consumption_per_capita" in spec.columns.values()), "susenas")
    return "\n".join(lines) + "\n" + welfare_toml(survey)


def _mapping(path: str, columns: dict[str, str], codes: dict[str, dict[str, str]], trust: dict[str, float]) -> list[str]:
    lines: list[str] = []
    if columns:
        lines += ["", f"[{path}.columns]", "# source column = canonical field"]
        lines += [f"{_key(col)} = {_s(field)}" for col, field in columns.items()]
    for field, table in codes.items():
        lines += ["", f"[{path}.codes.{field}]"]
        lines += [f"{_s(raw)} = {_s(value)}" for raw, value in table.items()]
    if trust:
        lines += ["", f"[{path}.trust]"]
        lines += [f"{_key(field)} = {value:.2f}" for field, value in trust.items()]
    return lines


def write_project(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
