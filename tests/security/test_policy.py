"""The policy: the role matrix over the whole rule table, known answers written out by hand, and a
property test that nothing outside a principal's scope is ever allowed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Decision, Policy, Resource
from dtsen.security.principal import Grant, Principal, prefix_level, within

POLICY = Policy.load()
TABLE = POLICY.table

IN_VILLAGE = "32.04.05.2001"  # Cileunyi Kulon, Kab. Bandung
OTHER_VILLAGE_SAME_DISTRICT = "32.04.05.2002"
OTHER_REGENCY = "32.73.01.1001"  # Kota Bandung
OTHER_PROVINCE = "35.78.01.1001"  # Surabaya

# The prefix a role is given at in the matrix: its narrowest allowed level around IN_VILLAGE.
_PREFIX_AT = {"national": "", "province": "32", "regency": "32.04", "district": "32.04.05", "village": IN_VILLAGE}


def _principal(role: str, prefix: str | None = None, purposes: frozenset[str] | None = None,
               programmes: frozenset[str] | None = None, family_id: int | None = 45) -> Principal:
    spec = TABLE.roles[role]
    if prefix is None:
        prefix = _PREFIX_AT[spec.regions[-1]]
    if spec.principal == "client" and purposes is None:
        purposes = TABLE.purposes_of(role)
    grant = Grant(role, prefix, purposes, programmes)
    return Principal(spec.principal, 1, role, (grant,), family_id=family_id if spec.principal == "citizen" else None)


def test_within_matches_whole_code_parts() -> None:
    assert within("32.04.05.2001", "32.04") and within("32.04", "32.04") and within("32.04.05.2001", "")
    assert not within("32.045.05.2001", "32.04") and not within("32.73.01.1001", "32.04")
    assert not within(None, "32") and within(None, "")
    assert prefix_level("32.04.05") == "district"
    with pytest.raises(ValueError):
        prefix_level("32.4")


@pytest.mark.parametrize("role", sorted(TABLE.roles))
def test_role_matrix_follows_the_rule_table(role: str) -> None:
    """Every action x purpose x (inside, outside) the role's region: allowed exactly when the table
    has the (role, action, purpose) and the resource is in scope, with exactly the table's fields."""
    principal = _principal(role)
    national = principal.grants[0].region_prefix == "" and TABLE.roles[role].principal != "citizen"
    citizen = TABLE.roles[role].principal == "citizen"
    checked = allowed_somewhere = 0
    for action, spec in TABLE.actions.items():
        for purpose in [*TABLE.purposes, None]:
            rule = TABLE.rule(role, action, purpose if spec.personal else None)
            if spec.personal and purpose is None:
                rule = None
            cases: list[tuple[Resource | None, bool]]
            if spec.resource in ("record", "region"):
                inside = Resource(IN_VILLAGE, family_id=45)
                outside = Resource(OTHER_PROVINCE, family_id=46)
                cases = [(inside, True), (outside, national and not citizen)]
            else:
                cases = [(None, True)]
            for resource, in_scope in cases:
                decision = POLICY.decide(principal, action, purpose, resource)
                expected = rule is not None and in_scope
                where = f"{role} {action} {purpose} {resource}"
                assert decision.allowed is expected, where
                if expected:
                    assert rule is not None
                    assert decision.fields == rule.fields, where
                    if spec.personal and purpose is not None:
                        assert decision.fields <= TABLE.purpose_fields[purpose], where
                    allowed_somewhere += 1
                else:
                    assert decision.fields == frozenset(), where
                checked += 1
    assert checked > 100
    assert allowed_somewhere > 0, f"{role} may do nothing at all"


# eligible or not, the decile and the programme, and the programme's rule (what it asks; not personal data)
ELIGIBILITY_FIELDS = {"person_id", "family_id", "eligible", "programme", "decile", "eligibility_rule"}
IDENTIFYING = {"nik", "kk", "full_name", "address", "rt", "rw", "birth_date"}

# (role, grant prefix, action, purpose, resource, allowed, fields that must be there, fields that must not)
KNOWN: list[tuple[str, str | None, str, str | None, Resource | None, bool, set[str], set[str]]] = [
    ("client", "", "eligibility.check", "eligibility", Resource(IN_VILLAGE, programme="pkh"), True,
     ELIGIBILITY_FIELDS, IDENTIFYING | {"region_code"}),
    ("client", "", "family.read", "eligibility", Resource(OTHER_PROVINCE), True, {"decile"}, IDENTIFYING),
    ("client", "", "family.read", "targeting", Resource(IN_VILLAGE), True, {"region_code", "match_status"},
     IDENTIFYING),
    ("client", "", "family.read", "ground_check", Resource(IN_VILLAGE), False, set(), set()),
    ("client", "32.04", "family.read", "eligibility", Resource(OTHER_REGENCY), False, set(), set()),
    ("client", "", "account.manage", None, None, False, set(), set()),
    ("regency_operator", "32.04", "family.read", "ground_check", Resource(IN_VILLAGE), True,
     {"nik", "address", "decile", "full_name"}, {"provenance"}),
    ("regency_operator", "32.04", "family.read", "ground_check", Resource(OTHER_REGENCY), False, set(), set()),
    ("regency_operator", "32.04", "family.read", "ground_check", Resource(None), False, set(), set()),
    ("regency_operator", "32.04", "region.summary", "statistics", Resource("32"), False, set(), set()),
    ("regency_operator", "32.04", "region.summary", "statistics", Resource("32.04.05"), True, {"counts"},
     IDENTIFYING),
    ("regency_operator", "32.04", "family.read", "statistics", Resource(IN_VILLAGE), False, set(), set()),
    ("regency_operator", "32.04", "family.read", None, Resource(IN_VILLAGE), False, set(), set()),
    ("village_operator", IN_VILLAGE, "family.read", "ground_check", Resource(OTHER_VILLAGE_SAME_DISTRICT), False,
     set(), set()),
    ("village_operator", IN_VILLAGE, "family.read", "ground_check", Resource(IN_VILLAGE), True, {"address"}, set()),
    ("village_operator", IN_VILLAGE, "account.manage", None, None, False, set(), set()),
    ("province_operator", "32", "person.read", "ground_check", Resource(OTHER_REGENCY), True, {"nik"}, set()),
    ("province_operator", "32", "person.read", "ground_check", Resource(OTHER_PROVINCE), False, set(), set()),
    ("admin", "", "account.manage", None, None, True, set(), set()),
    ("admin", "", "family.read", "data_quality", Resource(IN_VILLAGE), False, set(), set()),
    ("steward", "", "family.read", "data_quality", Resource(OTHER_PROVINCE), True, {"provenance", "nik"}, set()),
    ("auditor", "", "audit.read", "audit", None, True, {"audit_entries"}, IDENTIFYING),
    ("auditor", "", "family.read", "audit", Resource(IN_VILLAGE), False, set(), set()),
    ("kepala_daerah", "32.04", "family.read", "ground_check", Resource(IN_VILLAGE), True,
     {"decile", "full_name", "address"}, {"nik", "kk", "birth_date"}),
    ("kepala_daerah", "32.04", "person.read", "ground_check", Resource(IN_VILLAGE), False, set(), set()),
    ("kepala_daerah", "32.04", "family.read", "ground_check", Resource(OTHER_REGENCY), False, set(), set()),
    ("citizen", "", "family.read", "self_service", Resource(OTHER_PROVINCE, family_id=45), True,
     {"pkh", "decile"}, {"nik", "address", "kk"}),
    ("citizen", "", "family.read", "self_service", Resource(IN_VILLAGE, family_id=46), False, set(), set()),
    ("citizen", "", "tracker.read", "self_service", Resource(None, family_id=45), True, {"accessed_by"}, set()),
    ("citizen", "", "region.summary", "statistics", Resource(IN_VILLAGE), False, set(), set()),
    ("citizen", "", "person.read", "self_service", Resource(IN_VILLAGE, family_id=45), False, set(), set()),
]


@pytest.mark.parametrize(("role", "prefix", "action", "purpose", "resource", "allowed", "present", "absent"), KNOWN)
def test_known_answers(role: str, prefix: str | None, action: str, purpose: str | None, resource: Resource | None,
                       allowed: bool, present: set[str], absent: set[str]) -> None:
    decision = POLICY.decide(_principal(role, prefix), action, purpose, resource)
    assert decision.allowed is allowed, decision.reason
    assert present <= decision.fields
    assert not (absent & decision.fields)


def test_the_eligibility_answer_is_exactly_eligible_decile_and_programme() -> None:
    assert TABLE.purpose_fields["eligibility"] == ELIGIBILITY_FIELDS
    for (_, _, purpose), rule in TABLE.rules.items():
        if purpose == "eligibility":
            assert rule.fields <= ELIGIBILITY_FIELDS
            assert "address" not in rule.fields


def test_clients_are_held_to_their_purposes_and_programmes() -> None:
    client = _principal("client", "", purposes=frozenset({"eligibility"}), programmes=frozenset({"pkh"}))
    assert POLICY.decide(client, "eligibility.check", "eligibility", Resource(IN_VILLAGE, programme="pkh")).allowed
    denied = POLICY.decide(client, "eligibility.check", "eligibility", Resource(IN_VILLAGE, programme="bpnt"))
    assert not denied.allowed and "bpnt" in denied.reason
    targeting = POLICY.decide(client, "match.bulk", "targeting")
    assert not targeting.allowed and "not granted" in targeting.reason
    assert POLICY.purposes_for(client) == {"eligibility"}
    with pytest.raises(AccessDenied, match="access denied"):
        targeting.require()


def test_scope_gives_the_filters_of_a_list() -> None:
    two = Principal("user", 1, "op", (Grant("regency_operator", "32.04"), Grant("regency_operator", "32.73")))
    scope = POLICY.scope(two, "changes.read", "ground_check")
    assert scope.allowed and scope.region_prefixes == ("32.04", "32.73") and not scope.national
    assert scope.decide(Resource(OTHER_REGENCY)).allowed and not scope.decide(Resource(OTHER_PROVINCE)).allowed
    national = POLICY.scope(_principal("client", ""), "changes.read", "targeting")
    assert national.national and national.region_prefixes is None
    citizen = POLICY.scope(_principal("citizen"), "tracker.read", "self_service")
    assert citizen.family_ids == (45,) and citizen.region_prefixes == ()
    nothing = POLICY.scope(_principal("auditor"), "changes.read", "ground_check")
    assert not nothing.allowed and nothing.reason


def test_mixed_grants_see_the_union_only_where_both_reach() -> None:
    """A regency operator who is also a ministry client: inside the regency the ground-check fields
    (only for that purpose), elsewhere only what the client grant gives."""
    p = Principal("user", 1, "x", (Grant("regency_operator", "32.04"),
                                   Grant("client", "", frozenset({"eligibility"}))))
    here = POLICY.decide(p, "family.read", "ground_check", Resource(IN_VILLAGE))
    there = POLICY.decide(p, "family.read", "ground_check", Resource(OTHER_REGENCY))
    elig = POLICY.decide(p, "family.read", "eligibility", Resource(OTHER_REGENCY))
    assert here.allowed and "address" in here.fields
    assert not there.allowed
    assert elig.allowed and elig.fields <= ELIGIBILITY_FIELDS


def test_a_record_action_needs_its_resource() -> None:
    with pytest.raises(ValueError, match="Resource"):
        POLICY.decide(_principal("steward"), "family.read", "data_quality")


def test_unknown_actions_and_purposes_are_denied() -> None:
    steward = _principal("steward")
    assert not POLICY.decide(steward, "family.delete", "data_quality", Resource(IN_VILLAGE)).allowed
    assert not POLICY.decide(steward, "family.read", "curiosity", Resource(IN_VILLAGE)).allowed


def test_grants_are_checked_before_they_are_given() -> None:
    problems = POLICY.grant_problems("user", [Grant("regency_operator", "32"), Grant("client", ""),
                                              Grant("kepala_daerah", "32.04.05"), Grant("nobody")])
    text = " | ".join(problems)
    assert "not at province level" in text and "is for a client" in text
    assert "not at district level" in text and "unknown role 'nobody'" in text
    assert POLICY.grant_problems("user", [Grant("kepala_daerah", "32"), Grant("admin", "")]) == []
    assert any("named purposes" in p for p in POLICY.grant_problems("client", [Grant("client", "")]))
    assert any("not open to role" in p for p in POLICY.grant_problems(
        "client", [Grant("client", "", frozenset({"ground_check"}))]))


# -- property: nothing outside scope is ever allowed -----------------------------------------

REGIONS = ["32.04.05.2001", "32.04.05.2002", "32.04.06.2001", "32.73.01.1001", "35.78.01.1001"]


def _prefixes_of(code: str) -> list[str]:
    parts = code.split(".")
    return ["", parts[0], ".".join(parts[:2]), ".".join(parts[:3]), code]


ALL_PREFIXES = sorted({p for code in REGIONS for p in _prefixes_of(code)})
STAFF_ROLES = sorted(r for r, s in TABLE.roles.items() if s.principal != "citizen")


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    role = draw(st.sampled_from(STAFF_ROLES))
    levels = TABLE.roles[role].regions
    prefix = draw(st.sampled_from([p for p in ALL_PREFIXES if prefix_level(p) in levels]))
    purposes = None
    programmes = None
    if TABLE.roles[role].principal == "client":
        purposes = frozenset(draw(st.sets(st.sampled_from(sorted(TABLE.purposes_of(role))), min_size=1)))
        programmes = draw(st.none() | st.frozensets(st.sampled_from(["pkh", "bpnt", "pbi_jk"]), min_size=1))
    return Grant(role, prefix, purposes, programmes)


@st.composite
def principals(draw: st.DrawFn) -> Principal:
    if draw(st.integers(0, 5)) == 0:
        return Principal("citizen", None, "citizen", (Grant("citizen"),), family_id=draw(st.integers(1, 4)))
    return Principal("user", 1, "p", tuple(draw(st.lists(grants(), min_size=1, max_size=3))))


resources = st.builds(Resource, region_code=st.sampled_from([*REGIONS, None]),
                      family_id=st.integers(1, 4) | st.none(),
                      programme=st.sampled_from(["pkh", "bpnt", "pbi_jk"]) | st.none())
RECORD_ACTIONS = sorted(a for a, s in TABLE.actions.items() if s.resource in ("record", "region"))


@settings(max_examples=400, deadline=None)
@given(principal=principals(), action=st.sampled_from(RECORD_ACTIONS),
       purpose=st.sampled_from([*TABLE.purposes, None, "curiosity"]), resource=resources)
def test_nothing_outside_scope_is_ever_allowed(principal: Principal, action: str, purpose: str | None,
                                               resource: Resource) -> None:
    decision: Decision = POLICY.decide(principal, action, purpose, resource)
    if not decision.allowed:
        assert decision.fields == frozenset()
        return
    assert purpose in TABLE.purposes
    # Some grant reaches this very record, for this purpose and programme, through the table.
    reaching = []
    for g in principal.grants:
        rule = TABLE.rule(g.role, action, purpose)
        if rule is None or (g.purposes is not None and purpose not in g.purposes):
            continue
        if resource.programme and g.programmes is not None and resource.programme not in g.programmes:
            continue
        if principal.kind == "citizen":
            if resource.family_id is None or resource.family_id != principal.family_id:
                continue
        elif not (g.region_prefix == "" or (resource.region_code or "").startswith(g.region_prefix)):
            continue
        reaching.append(rule.fields)
    assert reaching, f"{principal} was allowed {action} on {resource} that no grant reaches"
    assert decision.fields <= frozenset().union(*reaching)
    assert decision.fields <= TABLE.purpose_fields[purpose]
    if resource.region_code is None and principal.kind != "citizen":
        assert any(g.region_prefix == "" for g in principal.grants)
