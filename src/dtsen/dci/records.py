"""Registry records as DCI Social Registry objects: a person as a `Member` (with an `SRPerson`),
a family as a `Group` with its members.

Identifiers: NIN (the NIK) and DTSEN_PERSON_ID for a person; HOUSEHOLD_ID (the nomor KK) and
DTSEN_FAMILY_ID for a family. `poverty_score` is the family's national decile (1 = poorest tenth;
`poverty_score_type` says so). The rest of the registry's fields travel in `additional_attributes`
as name/value pairs. A field the caller may not see (left out by the policy before mapping) is
simply absent; nothing is invented.
"""

from __future__ import annotations

from typing import Any

from dtsen.serve.models import Family, Person

SEX = {"L": "male", "P": "female"}
POVERTY_SCORE_TYPE = "dtsen:pmt-decile (1 = poorest tenth)"


def _ids(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"@type": "Identifier", "identifier_type": t, "identifier_value": str(v)} for t, v in pairs if v is not None]


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


def member(p: Person) -> dict[str, Any]:
    ids = _ids(("NIN", p.nik), ("DTSEN_PERSON_ID", p.person_id))
    address = _clean({"@type": "Address", "street_address": p.address, "region_code": p.region_code,
                      "rt": p.rt, "rw": p.rw})
    demographic = _clean({
        "@type": "SRPerson",
        "identifier": ids,
        "name": _clean({"@type": "Name", "given_name": p.full_name}) if p.full_name else None,
        "sex": SEX.get(p.sex or ""),
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "birth_place": p.birth_place,
        "death_date": p.death_date.isoformat() if p.death_date else None,
        "address": address if len(address) > 1 else None,
    })
    extra = _clean({"is_deceased": p.is_deceased, "education": p.education, "occupation": p.occupation,
                    "family_id": p.family_id, "kk": p.kk})
    return _clean({
        "@type": "Member",
        "member_identifier": ids,
        "demographic_info": demographic,
        "is_disabled": None if p.disability is None else p.disability.upper() not in ("TIDAK", "NONE", ""),
        "marital_status": p.marital_status,
        "relationship_head": p.relationship,
        "additional_attributes": [{k: v} for k, v in extra.items()],
    })


def group(f: Family, members: list[Person] | None = None) -> dict[str, Any]:
    people = members or []
    head = next((m for m in people if m.person_id == f.head_person_id), None)
    extra = _clean({
        "decile": f.decile, "decile_province": f.decile_province, "decile_regency": f.decile_regency,
        "predicted_consumption": f.predicted_consumption, "poor": f.poor, "extreme_poor": f.extreme_poor,
        "pkh": f.pkh, "bpnt": f.bpnt, "pbi_jk": f.pbi_jk, "children": f.children, "elderly": f.elderly,
        "disabled": f.disabled, "all_deceased": f.all_deceased, "model_id": f.model_id,
    })
    place = _clean({"@type": "Place", "address": f.address, "region_code": f.region_code, "rt": f.rt, "rw": f.rw})
    return _clean({
        "@type": "Group",
        "group_identifier": _ids(("HOUSEHOLD_ID", f.kk), ("DTSEN_FAMILY_ID", f.family_id)),
        "group_type": "family",
        "place": place if len(place) > 1 else None,
        "poverty_score": f.decile,
        "poverty_score_type": POVERTY_SCORE_TYPE if f.decile is not None else None,
        "group_size": f.size,
        "group_head_info": member(head) if head is not None else None,
        "member_list": [member(m) for m in people],
        "additional_attributes": [{k: v} for k, v in extra.items()],
    })


def identifiers_only(entity: str, record_id: int) -> dict[str, Any]:
    """What a deletion notice carries: the id that is gone."""
    if entity == "family":
        return {"@type": "Group", "group_identifier": _ids(("DTSEN_FAMILY_ID", record_id))}
    return {"@type": "Member", "member_identifier": _ids(("DTSEN_PERSON_ID", record_id))}
