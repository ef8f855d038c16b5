"""What a source is (its role), and the built-in defaults that follow from roles, not names.

A source declares its role (`sources.NAME.role`):

| role | what it is | defaults that follow |
|---|---|---|
| `civil_registry` | Dukcapil's biodata | first for identity fields, the KK and relationship; its deaths are decisive |
| `deaths` | a deaths list | its deaths are decisive; second for death date and deceased |
| `health_insurance` | BPJS membership | second for identity fields |
| `census` | Regsosek-like household census | third for identity fields (its person rows) |
| `welfare_list` | the old welfare list (DTKS), P3KE | fourth for identity fields |
| `utility` | electricity customers | first for the PLN power and use |
| `programme` | a programme's recipients | first for the programme flags it maps |
| `survey` | a consumption survey (Susenas) | the survey the PMT trains on; first for consumption |
| `field_check` | ground-check results | above all other sources |
| `other` | anything else | none |

A source without a role takes the one its name had in the synthetic population (`dukcapil`,
`dtks`, `regsosek_*`, `p3ke`, `pln`, `bpjs`, `pkh`, `sembako`, `susenas`, `cek_lapangan`), else
`other`, so that older project files keep their results. `role_defaults` turns the roles into
survivorship rules (`survivorship.deaths_from`, `above_all`, and the source orders of the fields
above) and the PMT survey; the project file's own settings always win, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Role = Literal["civil_registry", "deaths", "health_insurance", "census", "welfare_list", "utility", "programme",
               "survey", "field_check", "other"]
ROLES: tuple[str, ...] = ("civil_registry", "deaths", "health_insurance", "census", "welfare_list", "utility",
                          "programme", "survey", "field_check", "other")

# The role a source's name had in the synthetic population, for project files without roles.
_BY_NAME: dict[str, str] = {
    "dukcapil": "civil_registry", "dtks": "welfare_list", "p3ke": "welfare_list", "pln": "utility",
    "bpjs": "health_insurance", "pkh": "programme", "sembako": "programme", "susenas": "survey",
    "cek_lapangan": "field_check",
}

IDENTITY_FIELDS = ("nik", "full_name", "sex", "birth_date", "birth_place")
_IDENTITY_ROLES = ("civil_registry", "health_insurance", "census", "welfare_list")


def role_of(name: str, declared: str | None, kind_source: str | None = None) -> str:
    """A source's role: the declared one, else the one its name (or its file's source name,
    for a record kind) had in the synthetic population, else `other`."""
    if declared:
        return declared
    for candidate in (name, kind_source or ""):
        if candidate in _BY_NAME:
            return _BY_NAME[candidate]
        if candidate.startswith("regsosek"):
            return "census"
    return "other"


@dataclass(frozen=True)
class RoleDefaults:
    """The defaults that follow from the sources' roles."""

    deaths_from: list[str]  # sources whose deaths are decisive
    above_all: list[str]  # sources above all others (field checks)
    person: dict[str, list[str]]  # person field -> source order (only fields some source of the roles maps)
    family: dict[str, list[str]]
    survey: str | None  # the survey the PMT trains on


def role_defaults(sources: Mapping[str, tuple[str, str, set[str]]]) -> RoleDefaults:
    """The defaults that follow from the roles of `sources` (name -> (role, level, mapped
    fields)), sources of one role in the project file's order."""
    def having(roles: tuple[str, ...], level: str | None = None, field: str | None = None) -> list[str]:
        out = []
        for role in roles:  # by role first, then in the project file's order
            out += [n for n, (r, lvl, fields) in sources.items()
                    if r == role and (level is None or lvl == level) and (field is None or field in fields)]
        return out

    person: dict[str, list[str]] = {}
    family: dict[str, list[str]] = {}
    identity = having(_IDENTITY_ROLES, level="person")
    for f in IDENTITY_FIELDS:
        person[f] = identity
    for f in ("kk", "relationship"):
        person[f] = having(("civil_registry",), level="person")
    for f in ("is_deceased", "death_date"):
        person[f] = having(("civil_registry", "deaths"), level="person")
    for f in ("electricity_va", "electricity_kwh"):
        family[f] = having(("utility",), field=f)
    for f in ("pkh", "bpnt", "pbi_jk"):
        family[f] = having(("programme",), field=f)
    family["consumption_per_capita"] = having(("survey",), field="consumption_per_capita")
    surveys = having(("survey",), level="family")
    return RoleDefaults(
        deaths_from=having(("civil_registry", "deaths"), level="person"),
        above_all=having(("field_check",)),
        person={f: order for f, order in person.items() if order},
        family={f: order for f, order in family.items() if order},
        survey=surveys[0] if surveys else None,
    )
