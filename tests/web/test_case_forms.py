"""How the case page's forms become the workflow's action bodies (known answers; the library
checks them)."""

from __future__ import annotations

import pytest

from dtsen.web.views.cases import action_body, typed_value
from dtsen.workflow.bodies import parse_body
from dtsen.workflow.errors import InvalidCaseInput


def test_values_take_the_schema_type_of_their_field() -> None:
    assert typed_value("floor_area", "36") == 36.0
    assert typed_value("floor_area", "36,5") == 36.5
    assert typed_value("electricity_va", "900") == 900
    assert typed_value("has_motorbike", "Ya") is True and typed_value("has_motorbike", "tidak") is False
    assert typed_value("floor_type", "tanah") == "tanah"  # the library upper-cases a vocabulary value
    assert typed_value("electricity_va", "banyak") == "banyak"  # left for the library to refuse


def test_the_visit_form_becomes_visit_answers() -> None:
    form = {"tanggal": "2026-11-30", "ditemukan": "ya", "meninggal": [12, 15], "kolom": "floor_type",
            "nilai": "TANAH", "catatan": " rumah dicek "}
    body = action_body("visit", form)
    assert body == {"visited_on": "2026-11-30", "found": True, "notes": "rumah dicek", "form": "web",
                    "deceased": [{"person_id": 12, "death_date": "2026-11-30"},
                                 {"person_id": 15, "death_date": "2026-11-30"}],
                    "family_fields": {"floor_type": "TANAH"}}
    parsed = parse_body("visit", body)
    assert [d["person_id"] for d in parsed.model_dump()["deceased"]] == [12, 15]
    assert action_body("visit", {"tanggal": "2026-11-30", "ditemukan": "tidak"})["found"] is False
    with pytest.raises(InvalidCaseInput):
        action_body("visit", {"tanggal": "2026-11-30", "kolom": "nik", "nilai": "x"})  # not a changeable field


def test_the_musdes_form_lists_its_attendees() -> None:
    body = action_body("musdes", {"tanggal": "2026-11-30", "tempat": "Balai desa", "hadir": "Kades\n\n BPD \n",
                                  "keputusan": "Diusulkan", "berita_acara": 3})
    assert body["attendees"] == ["Kades", "BPD"] and body["minutes_evidence_id"] == 3
    assert parse_body("musdes", body).model_dump()["place"] == "Balai desa"
    assert action_body("reject", {"alasan": " ganda "}) == {"reason": "ganda"}
    assert action_body("verify", {"catatan": ""}) == {"note": None}
    with pytest.raises(InvalidCaseInput):
        parse_body("reject", action_body("reject", {}))  # a rejection needs its reason
