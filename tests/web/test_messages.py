"""Every text a page shows is in the catalogue, in Bahasa Indonesia and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dtsen.security.rules import load_rules
from dtsen.web.messages import LANGUAGES, MESSAGES, Translator
from dtsen.web.pages import _BY_EXCEPTION
from dtsen.web.viewer import NAVIGATION
from dtsen.web.views.family import FAMILY_GROUPS, HISTORY_FIELDS, MEMBER_FIELDS
from dtsen.workflow.changes import FAMILY_CHANGE_FIELDS
from dtsen.workflow.evidence import KINDS
from dtsen.workflow.machine import load_machine

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "dtsen" / "web" / "templates"
LITERAL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        # literal keys; a key ending in "." is a prefix joined to a name (`t("field." ~ name)`)
        keys |= {k for k in LITERAL.findall(path.read_text(encoding="utf-8")) if not k.endswith(".")}
    for path in (TEMPLATES.parent / "routes").glob("*.py"):
        keys |= set(re.findall(r'error="([a-z_.]+)"', path.read_text(encoding="utf-8")))
    for path in (TEMPLATES.parent / "views").glob("*.py"):
        keys |= set(re.findall(r"""\bt\(["']([a-z0-9_.]+)["']""", path.read_text(encoding="utf-8")))
    keys |= {key for key, *_ in NAVIGATION}
    for _, _, key in _BY_EXCEPTION:
        keys |= {key, key + "_help"}
    keys |= {"error.not_found", "error.method", "error.forbidden", "error.internal", "error.internal_help",
             "error.not_found_help", "error.method_help"}
    keys |= {f"level.{lv}" for lv in ("national", "province", "regency", "district", "village")}
    keys |= {f"overview.children.{lv}" for lv in ("province", "regency", "district", "village")}
    keys |= {f"purpose.{p}" for p in load_rules().purposes}
    keys |= {key for key, _ in FAMILY_GROUPS}
    keys |= {f"field.{f}" for _, names in FAMILY_GROUPS for f in names}
    keys |= {f"field.{f}" for f in (*MEMBER_FIELDS, *HISTORY_FIELDS)}
    keys |= {"provenance.family", "provenance.person"}
    # the workflow's pages: every case type, kind, action (history rows too), evidence kind and batch status
    machine = load_machine()
    keys |= {f"type.{k}" for k in machine.types} | {f"kind.{k}" for t in machine.types.values() for k in t.kinds}
    keys |= {f"action.{t.action}" for t in machine.transitions} | {"action.create"}
    keys |= {f"evidence.{k}" for k in KINDS} | {f"batch.{s}" for s in ("draft", "signed", "void")}
    keys |= {f"field.{f}" for f in FAMILY_CHANGE_FIELDS}
    return keys


def test_templates_use_keys_of_the_catalogue() -> None:
    keys = used_keys()
    assert len(keys) > 100
    missing = sorted(k for k in keys if k not in MESSAGES)
    assert not missing


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_both_languages(lang: str) -> None:
    i = LANGUAGES.index(lang)
    assert not [k for k, v in MESSAGES.items() if not v[i].strip()]


def test_translator() -> None:
    assert Translator("id")("nav.logout") == "Keluar"
    assert Translator("en")("nav.logout") == "Log out"
    assert Translator("xx")("nav.logout") == "Keluar"  # an unknown language: Bahasa Indonesia
    assert Translator("id")("family.title", id=45) == "Keluarga 45"
    assert Translator("id")("field.something_new") == "something_new"
    with pytest.raises(KeyError):
        Translator("id")("no.such.key")
