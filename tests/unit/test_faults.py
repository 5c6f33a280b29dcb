"""Fault rules: validation (each bad field named), the queue order, the facts a rule can match."""
import json

import pytest

from mockprovider.state.faults import FaultRuleError, INTERACTIONS, check_rule, choose, rule_matches
from mockprovider.http import routes
from mockprovider.http.faults import Facts, nhs_number_of
from tests import helpers as h


def test_interaction_names_are_the_routes_table_names():
    assert set(INTERACTIONS) == set(routes.BY_NAME)


@pytest.mark.parametrize("raw", [
    {"kind": "error", "code": "NO_RECORD_FOUND"},
    {"kind": "error", "code": "ACCESS DENIED", "times": 2, "diagnostics": "off"},
    {"kind": "error", "status": 503, "ms": 100},
    {"kind": "delay", "ms": 0},
    {"kind": "reset", "match": {"interaction": "retrieve_document", "document_id": "doc-1.2"}},
    {"kind": "empty", "match": {"nhs_number": "9690937286", "from_asid": "200000000359"}},
    {"kind": "malformed"}, {"kind": "truncated", "times": 1}, {"kind": "drip", "duration_ms": 500},
])
def test_good_rules_are_kept_with_an_id(raw):
    rule = check_rule(raw)
    assert rule.pop("id")
    assert rule == raw


def test_each_rule_gets_its_own_id():
    assert check_rule({"kind": "malformed"})["id"] != check_rule({"kind": "malformed"})["id"]


@pytest.mark.parametrize("raw,field", [
    ({}, "kind"),
    ({"kind": "explode"}, "kind"),
    ({"kind": "error"}, "code"),
    ({"kind": "error", "code": "NO_RECORD_FOUND", "status": 502}, "code"),
    ({"kind": "error", "code": "NOT_A_CODE"}, "code"),
    ({"kind": "error", "status": 500}, "status"),
    ({"kind": "error", "status": "502"}, "status"),
    ({"kind": "error", "status": 502, "diagnostics": ""}, "diagnostics"),
    ({"kind": "delay"}, "ms"),
    ({"kind": "delay", "ms": -1}, "ms"),
    ({"kind": "delay", "ms": 1.5}, "ms"),
    ({"kind": "delay", "ms": True}, "ms"),
    ({"kind": "delay", "ms": 60_001}, "ms"),
    ({"kind": "drip"}, "duration_ms"),
    ({"kind": "drip", "duration_ms": 0}, "duration_ms"),
    ({"kind": "reset", "duration_ms": 10}, "duration_ms"),
    ({"kind": "reset", "code": "BAD_REQUEST"}, "code"),
    ({"kind": "malformed", "status": 502}, "status"),
    ({"kind": "reset", "times": 0}, "times"),
    ({"kind": "reset", "times": "2"}, "times"),
    ({"kind": "reset", "time": 2}, "time"),
    ({"kind": "reset", "id": "mine"}, "id"),
    ({"kind": "reset", "match": []}, "match"),
    ({"kind": "reset", "match": {"patient": "x"}}, "match.patient"),
    ({"kind": "reset", "match": {"interaction": "get_structured"}}, "match.interaction"),
    ({"kind": "reset", "match": {"nhs_number": 9690937286}}, "match.nhs_number"),
    ({"kind": "reset", "match": {"from_asid": "abc"}}, "match.from_asid"),
    ({"kind": "reset", "match": {"document_id": "a/b"}}, "match.document_id"),
])
def test_bad_rules_name_the_field(raw, field):
    with pytest.raises(FaultRuleError) as caught:
        check_rule(raw)
    assert caught.value.field == field
    assert str(caught.value)


def test_a_rule_that_is_not_an_object():
    with pytest.raises(FaultRuleError):
        check_rule(["kind", "reset"])


def rule(kind, n, **match):
    return {"id": str(n), "kind": kind, "match": match} if match else {"id": str(n), "kind": kind}


def test_every_delay_and_the_oldest_other_rule_apply():
    rules = [rule("delay", 1), rule("error", 2), rule("delay", 3), rule("reset", 4)]
    assert [r["id"] for r in choose(rules)] == ["1", "2", "3"]


def test_a_spent_rule_lets_the_next_one_through():
    rules = [rule("error", 1), rule("reset", 2)]
    assert [r["id"] for r in choose(rules, is_live=lambda r: r["id"] != "1")] == ["2"]


def test_rule_matching_needs_every_field():
    facts = {"interaction": "migrate_structured", "nhs_number": "9690937286", "from_asid": "1"}
    assert rule_matches(rule("reset", 1), facts)
    assert rule_matches(rule("reset", 1, interaction="migrate_structured", nhs_number="9690937286"), facts)
    assert not rule_matches(rule("reset", 1, interaction="migrate_structured", nhs_number="9690937287"), facts)
    assert not rule_matches(rule("reset", 1, document_id="x"), facts)


def test_nhs_number_from_a_migrate_body():
    assert nhs_number_of(json.dumps(h.migrate_body("9690937286")).encode()) == "9690937286"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"parameter": 5}', b'{"parameter": [1, {"name": 2}]}',
                                  b'{"parameter": [{"name": "patientNHSNumber", "valueIdentifier": {"value": 5}}]}'])
def test_nhs_number_of_an_odd_body_is_none(body):
    assert nhs_number_of(body) is None


def test_nhs_number_from_a_find_patient_query():
    assert nhs_number_of(b"", [("identifier", "https://fhir.nhs.uk/Id/nhs-number|9690937286")]) == "9690937286"
    assert nhs_number_of(b"", [("identifier", "https://example.org/other|9690937286")]) is None


def test_facts_read_the_body_only_when_asked():
    class Exploding(bytes):
        def decode(self, *a):  # json.loads on bytes decodes: prove it is never called
            raise AssertionError("body read")
    facts = Facts("retrieve_document", {"document_id": "d1"}, "200000000359", Exploding(b"{}"), [])
    assert facts.get("document_id") == "d1" and facts.get("interaction") == "retrieve_document"
    assert facts.get("from_asid") == "200000000359"


def test_the_described_fields_of_each_kind_are_what_check_rule_takes():
    """KIND_FIELDS (the console's forms, GET /_control/catalogue) says what check_rule accepts."""
    from mockprovider.state.faults import COMMON_FIELDS, KIND_FIELDS, KINDS, MATCH_DOCS, MATCH_FIELDS

    assert tuple(KIND_FIELDS) == KINDS and tuple(MATCH_DOCS) == MATCH_FIELDS
    samples = {"code": "NO_RECORD_FOUND", "status": 503, "diagnostics": "x", "ms": 5, "duration_ms": 50,
               "quirk": "empty-address"}
    for kind, described in KIND_FIELDS.items():
        required = {name: samples[name] for name, need, _ in described if need is True}
        if kind == "error":
            required = {"code": "NO_RECORD_FOUND"}
        assert check_rule({"kind": kind, **required})["kind"] == kind
        for name in required if kind != "error" else ():      # each required field really is required
            with pytest.raises(FaultRuleError):
                check_rule({"kind": kind, **{k: v for k, v in required.items() if k != name}})
        for name, _, _ in described:     # each described field is accepted
            base = {"kind": kind, **required}
            if kind == "error":
                base = {"kind": kind, "code": "NO_RECORD_FOUND"} if name != "status" else {"kind": kind}
            assert check_rule({**base, name: samples[name]})
        others = set(samples) - {n for n, _, _ in described} - {n for n, _, _ in COMMON_FIELDS}
        for name in others:        # fields of other kinds are refused
            with pytest.raises(FaultRuleError):
                check_rule({"kind": kind, **required, name: samples[name]})
    with pytest.raises(FaultRuleError):
        check_rule({"kind": "error"})        # error: one of code / status
