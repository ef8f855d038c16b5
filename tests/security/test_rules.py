"""The rule table is checked at start-up: every inconsistency is reported at once, with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtsen.security.errors import PolicyError
from dtsen.security.rules import load_rules, parse_rules

GOOD = """\
[fields]
ids = ["person_id", "family_id"]
identity = ["nik", "full_name"]
counts_group = ["counts"]

[roles.operator]
label = "Operator"
principal = "user"
regions = ["regency"]

[roles.citizen]
label = "Warga"
principal = "citizen"
regions = ["national"]

[purposes.ground_check]
label = "Verifikasi"
fields = ["ids", "identity"]

[purposes.statistics]
label = "Statistik"
aggregate = true
fields = ["counts_group"]

[actions."family.read"]
label = "Baca"
resource = "record"
personal = true

[actions."region.summary"]
label = "Ringkasan"
resource = "region"
personal = true

[actions."release.read"]
label = "Rilis"
resource = "none"
personal = false

[rules.operator]
roles = ["operator"]
actions = ["family.read"]
purposes = ["ground_check"]

[rules.operator_stats]
roles = ["operator"]
actions = ["region.summary", "release.read"]
purposes = ["statistics"]

[rules.citizen]
roles = ["citizen"]
actions = ["family.read"]
purposes = ["ground_check"]
fields = ["ids"]
scope = "own_family"
"""


def test_the_builtin_table_loads_and_covers_every_role() -> None:
    table = load_rules()
    assert {"admin", "steward", "client", "province_operator", "regency_operator", "village_operator",
            "kepala_daerah", "auditor", "citizen", "field_officer", "approval_delegate"} == set(table.roles)
    assert {"eligibility", "targeting", "ground_check", "statistics", "audit", "self_service"} <= set(table.purposes)
    assert all(table.purposes_of(role) or role == "admin" for role in table.roles)
    assert table.rule("client", "eligibility.check", "eligibility") is not None


def test_a_small_table_with_one_mistake_names_it_and_its_line() -> None:
    # release.read has no personal data, yet the rule gives it purposes
    with pytest.raises(PolicyError) as err:
        parse_rules(GOOD, "p.toml")
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert "'release.read' has no personal data" in problem.message
    assert problem.where == "p.toml line 45 (rules.operator_stats)"


def test_every_mistake_is_reported_at_once() -> None:
    bad = (GOOD
           .replace('actions = ["region.summary", "release.read"]', 'actions = ["region.summary"]')
           .replace('fields = ["ids", "identity"]', 'fields = ["ids", "identity", "adress"]')
           .replace('fields = ["ids"]\nscope = "own_family"', 'fields = ["ids", "counts"]\nscope = "assigned"')
           + '\n[rules.again]\nroles = ["operator", "auditor"]\nactions = ["family.read"]\npurposes = ["ground_check", "statistics"]\n')
    with pytest.raises(PolicyError) as err:
        parse_rules(bad, "p.toml")
    messages = [str(p) for p in err.value.problems]
    text = "\n".join(messages)
    assert "unknown field or field group 'adress'" in text and "p.toml line 18 (purposes.ground_check.fields)" in text
    assert "role 'citizen' with scope 'assigned'" in text
    assert "fields counts are beyond what purpose 'ground_check' may see" in text
    assert "unknown role 'auditor'" in text
    assert "(operator, family.read, ground_check) is already given by rule 'operator'" in text
    assert "aggregate purposes go with region actions" in text
    assert "action 'release.read' is given to no role" in text
    assert len(messages) == 7, text


def test_structure_errors_name_their_line() -> None:
    with pytest.raises(PolicyError) as err:
        parse_rules(GOOD.replace('resource = "region"', 'resource = "area"'), "p.toml")
    assert any("line 32" in str(p) for p in err.value.problems)


def test_a_project_policy_file_replaces_the_builtin(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(GOOD.replace('actions = ["region.summary", "release.read"]', 'actions = ["region.summary"]')
                    .replace('[rules.citizen]', '[rules.rilis]\nroles = ["operator"]\nactions = ["release.read"]\n\n'
                             '[rules.citizen]'), encoding="utf-8")
    table = load_rules(path)
    assert set(table.roles) == {"operator", "citizen"}
    assert table.rule("citizen", "family.read", "ground_check") is not None
    assert table.rule("citizen", "family.read", "ground_check").fields == {"person_id", "family_id"}  # type: ignore[union-attr]
    with pytest.raises(PolicyError, match="not found"):
        load_rules(tmp_path / "missing.toml")
