"""Retrieve a patient's structured record: the request, every row of the page's error table, forward
compatibility, the not-permitted combinations and the transports (gzip, XML, journal, faults).

Tables transcribed from nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/
accessrecord_structured_development_retrieve_patient_record.md ("Payload request body", "Not permitted
parameter combinations", "Error handling") and accessrecord_structured_development_version_compatibility.md
("Forwards compatibility"); the predefined searches from accessrecord_structured_development_searchMultiAreaSearches.md.
Never from the code's own constants.
"""
import gzip
import json
from datetime import date, timedelta

import pytest

from mockprovider.interactions import retrieve_structured
from tests import helpers as h
from tests.fhir_xml import FHIR_XML, neutral_json, neutral_xml
from tests.spec_tables import SPINE_SYSTEM, assert_outcome

MAIN = "9690990306"          # the suite's patient2 role
NO_LINKS = "9690990314"      # the suite's patient3 role
SENSITIVE, DISSENT, DECEASED, UNVERIFIED, ELSEWHERE, INACTIVE = \
    "9690938533", "9690938576", "9690938681", "9690939106", "9690939114", "9690938142"
TODAY = date(2026, 12, 7)
ALLERGIES = h.area("includeAllergies", includeResolvedAllergies=True)
OO_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(retrieve_structured, "today", lambda: TODAY)


def post(client, body, headers=None, raw=None, **claims):
    return client.post(h.RETRIEVE_URL, data=raw if raw is not None else json.dumps(body),
                       headers=headers or h.retrieve_headers(**claims))


def retrieve(client, *params, nhs=MAIN, **kw):
    return post(client, h.retrieve_body(nhs, *params), **kw)


def ok(response):
    assert response.status_code == 200, response.data[:400]
    assert response.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    return response.get_json()


def iso(day):
    return day.isoformat()


def _xml_value(key, value) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml_value(k, v) for k, v in value.items())
        return f"<{key}>{inner}</{key}>"
    text = {True: "true", False: "false"}.get(value, value) if isinstance(value, bool) else value
    return f'<{key} value="{text}"/>'


def to_xml(body: dict) -> bytes:
    """A Parameters body as FHIR XML, written here by hand (name, then value[x] or parts)."""
    def param(p):
        out = f'<name value="{p["name"]}"/>' if "name" in p else ""
        out += "".join(_xml_value(k, v) for k, v in p.items() if k.startswith("value"))
        out += "".join(f"<part>{param(x)}</part>" for x in p.get("part", []))
        return out
    inner = "".join(f"<parameter>{param(p)}</parameter>" for p in body.get("parameter", []))
    return f'<Parameters xmlns="http://hl7.org/fhir">{inner}</Parameters>'.encode()


def outcomes(bundle):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "OperationOutcome"]


# --- the request: what is always returned -------------------------------------------------------------------
def test_patient_number_alone_returns_the_administrative_resources(client):
    """MultipleRequests.feature (one parameter, no clinical information): 200 and the Patient."""
    bundle = ok(retrieve(client))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "List" not in kinds and "OperationOutcome" not in kinds
    assert {"Patient", "Organization", "Practitioner", "PractitionerRole"} <= set(kinds)


def test_bundle_shape_id_profile_and_headers(client):
    headers = h.retrieve_headers()
    bundle = ok(post(client, h.retrieve_body(MAIN, ALLERGIES), headers=headers))
    assert bundle["id"] == headers["Ssp-TraceID"]
    assert bundle["type"] == "collection"
    assert bundle["meta"] == {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"]}
    assert all(set(e) == {"resource"} for e in bundle["entry"])
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["identifier"][0]["value"] == MAIN


def test_same_request_same_bytes_but_the_trace_id(client):
    body = h.retrieve_body(MAIN, ALLERGIES, h.area("includeProblems"))
    one, two = post(client, body), post(client, body)
    a, b = one.get_json(), two.get_json()
    assert a["id"] != b["id"]
    assert one.data.replace(a["id"].encode(), b"X") == two.data.replace(b["id"].encode(), b"X")


def test_defaults_normalise_to_one_answer(client):
    """includePrescriptionIssues defaults to true, includeNotGiven to false, includeStatus to true."""
    plain = ok(retrieve(client, {"name": "includeMedication"}, {"name": "includeImmunisations"}))
    spelled = ok(retrieve(client, h.area("includeMedication", includePrescriptionIssues=True),
                          h.area("includeImmunisations", includeNotGiven=False, includeStatus=True)))
    assert plain["entry"] == spelled["entry"]


# --- forward compatibility (version compatibility page) -----------------------------------------------------
def check_warning(issue, name):
    assert issue == {"severity": "warning", "code": "not-supported",
                     "details": {"coding": [{"system": SPINE_SYSTEM, "code": "NOT_IMPLEMENTED",
                                             "display": "Not implemented"}],
                                 "text": f"{name} is an unrecognised parameter"},
                     "diagnostics": name}


def test_unknown_parameter_is_a_warning_not_an_error(client):
    bundle = ok(retrieve(client, ALLERGIES, {"name": "includeMadeUpThings"}))
    [outcome] = outcomes(bundle)
    assert outcome["meta"]["profile"] == [OO_PROFILE] and outcome["id"]
    [issue] = outcome["issue"]
    check_warning(issue, "includeMadeUpThings")
    assert bundle["entry"][-1]["resource"] is not None and bundle["entry"][-1]["resource"]["resourceType"] == "OperationOutcome"
    assert any(e["resource"].get("title") == "Allergies and adverse reactions" for e in bundle["entry"])


def test_unknown_part_is_named_parameter_dot_part(client):
    bundle = ok(retrieve(client, {"name": "includeAllergies", "part": [
        {"name": "includeResolvedAllergies", "valueBoolean": False}, {"name": "madeUp", "valueString": "x"}]}))
    [outcome] = outcomes(bundle)
    check_warning(outcome["issue"][0], "includeAllergies.madeUp")


def test_unknown_parameters_reported_at_the_least_granular_level_in_request_order(client):
    """A part of an unrecognised parameter is not reported on its own (version compatibility page)."""
    bundle = ok(retrieve(client, {"name": "includeMadeUpParam", "part": [{"name": "x", "valueString": "1"}]},
                         {"name": "madeUpImmunizations"}, {"name": "includeConsults"},
                         h.area("includeProblems", filterSignificance="major")))
    [outcome] = outcomes(bundle)
    assert [i["diagnostics"] for i in outcome["issue"]] == [
        "includeMadeUpParam", "madeUpImmunizations", "includeConsults", "includeProblems.filterSignificance"]


def test_nothing_recognised_is_an_error(client):
    assert_outcome(post(client, {"resourceType": "Parameters", "parameter": [{"name": "includeMadeUp"}]}),
                   "INVALID_PARAMETER")
    assert_outcome(post(client, {"resourceType": "Parameters"}), "INVALID_PARAMETER")


# --- error table: the Parameters resource --------------------------------------------------------------------
NHS = h.nhs_param(MAIN)


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]", b"<Parameters xmlns='http://hl7.org/fhir'>",
                                 json.dumps({"resourceType": "Patient"}).encode(),
                                 json.dumps({"resourceType": "Parameters", "parameter": {}}).encode(),
                                 json.dumps({"resourceType": "Parameters", "colour": "red", "parameter": [NHS]}).encode(),
                                 json.dumps(h.retrieve_body(MAIN, {"valueString": "no name"})).encode(),
                                 json.dumps(h.retrieve_body(MAIN, {"name": "includeProblems", "part": {}})).encode(),
                                 json.dumps(h.retrieve_body(MAIN, {"name": "x", "valueString": "a",
                                                                   "valueBoolean": True})).encode()])
def test_unparseable_or_malformed_parameters_is_invalid_resource(client, raw):
    assert_outcome(post(client, None, raw=raw), "INVALID_RESOURCE")


@pytest.mark.parametrize("params", [
    [NHS, NHS],
    [NHS, ALLERGIES, ALLERGIES],
    [NHS, {"name": "includeProblems"}, {"name": "includeProblems"}],
    [NHS, {"name": "includeMedication", "part": [{"name": "includePrescriptionIssues", "valueBoolean": True},
                                                 {"name": "includePrescriptionIssues", "valueBoolean": True}]}],
    [NHS, {"name": "includeProblems", "part": [{"name": "filterStatus", "valueCode": "active"},
                                               {"name": "filterStatus", "valueCode": "inactive"}]}],
], ids=["patientNHSNumber twice", "includeAllergies twice", "includeProblems twice", "a part twice",
        "filterStatus twice"])
def test_a_repeated_parameter_or_part_is_invalid_resource(client, params):
    assert_outcome(post(client, {"resourceType": "Parameters", "parameter": params}), "INVALID_RESOURCE")


def test_both_consultation_filters_is_invalid_resource(client):
    assert_outcome(retrieve(client, h.area("includeConsultations", includeNumberOfMostRecent=3,
                                           consultationSearchPeriod=("2020-01-01", "2021-01-01"))),
                   "INVALID_RESOURCE")


# --- error table: patientNHSNumber ----------------------------------------------------------------------------
def test_patient_number_missing(client):
    body = h.retrieve_body(MAIN, ALLERGIES, nhs_parameter=False)
    assert "patientNHSNumber" in assert_outcome(post(client, body), "INVALID_PARAMETER")["issue"][0]["diagnostics"]


def test_patient_number_under_another_name(client):
    """Suite ("invalid parameter type"): the number sent as 'invalidNHSNumberParam' -> 422 INVALID_PARAMETER."""
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "invalidNHSNumberParam", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                                              "value": MAIN}}, ALLERGIES]}
    assert_outcome(post(client, body), "INVALID_PARAMETER")


@pytest.mark.parametrize("number", ["1234567891", "969093728", "96909372866", "969O937286"])
def test_invalid_nhs_number(client, number):
    assert_outcome(retrieve(client, ALLERGIES, nhs=number), "INVALID_NHS_NUMBER")


@pytest.mark.parametrize("system", ["Invalid-System", "", "https://fhir.nhs.uk/Id/nhs-number-x"])
def test_wrong_identifier_system(client, system):
    body = {"resourceType": "Parameters", "parameter": [h.nhs_param(MAIN, system=system), ALLERGIES]}
    assert_outcome(post(client, body), "INVALID_IDENTIFIER_SYSTEM")


# --- error table: part parameters and values -------------------------------------------------------------------
def test_allergies_without_the_mandatory_part(client):
    r = retrieve(client, {"name": "includeAllergies"})
    assert "includeResolvedAllergies" in assert_outcome(r, "INVALID_PARAMETER")["issue"][0]["diagnostics"]


def test_allergies_with_only_an_unknown_part_still_needs_the_mandatory_one(client):
    """MultipleRequests.feature: immunisations plus allergies with a rubbish part -> 422 INVALID_PARAMETER."""
    r = retrieve(client, {"name": "includeImmunisations"},
                 {"name": "includeAllergies", "part": [{"name": "RubbishPartParameter", "valueBoolean": True}]})
    assert_outcome(r, "INVALID_PARAMETER")


@pytest.mark.parametrize("param", [
    {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies"}]},
    {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": None}]},
    {"name": "includeMedication", "part": [{"name": "includePrescriptionIssues"}]},
    {"name": "includeMedication", "part": [{"name": "medicationSearchFromDate"}]},
    {"name": "includeConsultations", "part": [{"name": "consultationSearchPeriod"}]},
    {"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent"}]},
    {"name": "includeProblems", "part": [{"name": "filterStatus"}]},
    {"name": "includeImmunisations", "part": [{"name": "includeNotGiven"}]},
    {"name": "includeImmunisations", "part": [{"name": "includeStatus"}]},
    {"name": "includeUncategorisedData", "part": [{"name": "uncategorisedDataSearchPeriod"}]},
    {"name": "includeInvestigations", "part": [{"name": "investigationSearchPeriod"}]},
    {"name": "includeReferrals", "part": [{"name": "referralSearchPeriod"}]},
    {"name": "includeDiaryEntries", "part": [{"name": "diaryEntriesSearchDate"}]},
], ids=lambda p: f"{p['name']}.{p['part'][0]['name']}")
def test_a_part_without_a_value(client, param):
    assert_outcome(retrieve(client, param), "INVALID_PARAMETER")


@pytest.mark.parametrize("param", [
    {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueString": "true"}]},
    {"name": "includeMedication", "part": [{"name": "includePrescriptionIssues", "valueCode": "false"}]},
    {"name": "includeMedication", "part": [{"name": "medicationSearchFromDate", "valuePeriod": {"start": "2020-01-01"}}]},
    {"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valuePositiveInt": 0}]},
    {"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valuePositiveInt": -2}]},
    {"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valueInteger": 3}]},
    {"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valuePositiveInt": True}]},
    {"name": "includeConsultations", "part": [{"name": "consultationSearchPeriod", "valueDate": "2020-01-01"}]},
    {"name": "includeProblems", "part": [{"name": "filterStatus", "valueString": "active"}]},
    {"name": "includeImmunisations", "part": [{"name": "includeStatus", "valueBoolean": "yes"}]},
    {"name": "includeAllergies", "valueBoolean": True, "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}]},
    {"name": "includeProblems", "part": [{"name": "filterStatus", "part": [{"name": "x", "valueCode": "active"}]}]},
], ids=["boolean as string", "boolean as code", "date as period", "most recent 0", "most recent negative",
        "most recent as integer", "most recent as boolean", "period as date", "code as string", "boolean 'yes'",
        "a value on an area parameter", "parts inside a part"])
def test_a_value_of_the_wrong_type(client, param):
    assert_outcome(retrieve(client, param), "INVALID_PARAMETER")


@pytest.mark.parametrize("status", ["resolved", "recurrence", "remission", "null", "off", "ACTIVE", ""])
def test_filter_status_other_than_active_or_inactive(client, status):
    assert_outcome(retrieve(client, h.area("includeProblems", filterStatus=status)), "INVALID_PARAMETER")


NOT_WHOLE = ["2014", "2014-02", "2015-10-23T11:08:32", "2015-10-23T11:08:32+00:00", "X2014", "X2014-02", "",
             "null", "2019-02-30", "2019-13-01", "20190101"]


@pytest.mark.parametrize("value", NOT_WHOLE)
@pytest.mark.parametrize("area,part", [("includeMedication", "medicationSearchFromDate"),
                                       ("includeDiaryEntries", "diaryEntriesSearchDate")])
def test_a_date_that_is_not_a_whole_date(client, area, part, value):
    assert_outcome(retrieve(client, {"name": area, "part": [{"name": part, "valueDate": value}]}), "INVALID_PARAMETER")


PERIODS = [("includeConsultations", "consultationSearchPeriod"),
           ("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
           ("includeInvestigations", "investigationSearchPeriod"),
           ("includeReferrals", "referralSearchPeriod")]


def period(area, part, start=None, end=None):
    value = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return {"name": area, "part": [{"name": part, "valuePeriod": value}]}


@pytest.mark.parametrize("area,part", PERIODS)
@pytest.mark.parametrize("start,end", [("2014", "2016-01-01"), ("2014-02-01", "2014-08"),
                                       ("2015-10-23T11:08:32", "2016-11-01"), ("2015-10-01", "2016-11-23T11:08:32+00:00"),
                                       ("X2014", "2015-12-01"), ("", "2019-01-01"), ("2015-12-01", ""),
                                       ("null", "null"), ("2018", "2019")])
def test_a_period_with_a_date_that_is_not_whole(client, area, part, start, end):
    assert_outcome(retrieve(client, period(area, part, start, end)), "INVALID_PARAMETER")


@pytest.mark.parametrize("area,part", PERIODS)
def test_a_period_with_neither_start_nor_end(client, area, part):
    assert_outcome(retrieve(client, period(area, part)), "INVALID_PARAMETER")


@pytest.mark.parametrize("area,part", PERIODS)
@pytest.mark.parametrize("start,end", [(TODAY + timedelta(days=1), None), (None, TODAY + timedelta(days=1)),
                                       (TODAY - timedelta(days=5), TODAY - timedelta(days=6))],
                         ids=["start after today", "end after today", "start after end"])
def test_a_period_after_today_or_backwards(client, area, part, start, end):
    r = retrieve(client, period(area, part, start and iso(start), end and iso(end)))
    assert_outcome(r, "INVALID_PARAMETER")


@pytest.mark.parametrize("area,part", PERIODS)
def test_a_period_ending_today_or_open_at_either_end_is_accepted(client, area, part):
    for start, end in ((iso(TODAY), iso(TODAY)), ("2010-01-01", None), (None, iso(TODAY))):
        ok(retrieve(client, period(area, part, start, end)))


def test_medication_date_after_today(client):
    r = retrieve(client, h.area("includeMedication", medicationSearchFromDate=iso(TODAY + timedelta(days=1))))
    assert "medicationSearchFromDate" in assert_outcome(r, "INVALID_PARAMETER")["issue"][0]["diagnostics"]
    ok(retrieve(client, h.area("includeMedication", medicationSearchFromDate=iso(TODAY))))


def test_diary_date_before_today(client):
    assert_outcome(retrieve(client, h.area("includeDiaryEntries", diaryEntriesSearchDate=iso(TODAY - timedelta(days=20)))),
                   "INVALID_PARAMETER")
    ok(retrieve(client, h.area("includeDiaryEntries", diaryEntriesSearchDate=iso(TODAY))))
    ok(retrieve(client, h.area("includeDiaryEntries", diaryEntriesSearchDate=iso(TODAY + timedelta(days=3650)))))


def test_today_is_the_date_in_england():
    from datetime import datetime, timezone
    winter = datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc)
    summer = datetime(2026, 7, 15, 23, 30, tzinfo=timezone.utc)
    assert retrieve_structured.england_today(winter) == date(2026, 1, 15)
    assert retrieve_structured.england_today(summer) == date(2026, 7, 16)       # 00:30 BST
    # BST starts at 01:00 UTC on the last Sunday of March (2026-03-29) and ends on the last Sunday of October
    assert retrieve_structured.england_today(datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc)) == date(2026, 3, 29)
    assert retrieve_structured.england_today(datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)) == date(2026, 3, 28)
    assert retrieve_structured.england_today(datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)) == date(2026, 10, 25)
    assert retrieve_structured.england_today(datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc)) == date(2026, 10, 25)


# --- not permitted combinations ----------------------------------------------------------------------------------
FILTERS = {
    "medicationSearchFromDate": h.area("includeMedication", medicationSearchFromDate="2020-01-01"),
    "uncategorisedDataSearchPeriod": period("includeUncategorisedData", "uncategorisedDataSearchPeriod", "2020-01-01"),
    "filterStatus": h.area("includeProblems", filterStatus="active"),
    "referralSearchPeriod": period("includeReferrals", "referralSearchPeriod", "2020-01-01"),
    "diaryEntriesSearchDate": h.area("includeDiaryEntries", diaryEntriesSearchDate=iso(TODAY)),
    "includeNotGiven": h.area("includeImmunisations", includeNotGiven=True),
    "includeStatus": h.area("includeImmunisations", includeStatus=False),
}
WITH_CONSULTATIONS = list(FILTERS)
WITH_PROBLEMS = [f for f in FILTERS if f != "filterStatus"]


@pytest.mark.parametrize("part", WITH_CONSULTATIONS)
def test_not_permitted_beside_consultations(client, part):
    r = retrieve(client, {"name": "includeConsultations"}, FILTERS[part])
    assert part in assert_outcome(r, "INVALID_PARAMETER")["issue"][0]["diagnostics"]


@pytest.mark.parametrize("part", WITH_PROBLEMS)
def test_not_permitted_beside_problems(client, part):
    r = retrieve(client, {"name": "includeProblems"}, FILTERS[part])
    assert part in assert_outcome(r, "INVALID_PARAMETER")["issue"][0]["diagnostics"]


def test_the_other_filters_are_permitted_beside_consultations_and_problems(client):
    """Top-level parameters combine freely; investigationSearchPeriod and includePrescriptionIssues are in
    neither list; filterStatus is the problems' own filter."""
    ok(retrieve(client, {"name": "includeConsultations"}, {"name": "includeProblems"},
                period("includeInvestigations", "investigationSearchPeriod", "2020-01-01"),
                h.area("includeMedication", includePrescriptionIssues=False), ALLERGIES, {"name": "includeDiaryEntries"},
                {"name": "includeImmunisations"}, {"name": "includeUncategorisedData"}, {"name": "includeReferrals"}))
    ok(retrieve(client, h.area("includeProblems", filterStatus="inactive"), ALLERGIES))
    for part in FILTERS:    # each filter alone (no consultations, no problems) is fine
        ok(retrieve(client, FILTERS[part]))


def predefined(days_back=365, most_recent=3, extra=(), immunisations=False):
    params = [h.area("includeConsultations", includeNumberOfMostRecent=most_recent), {"name": "includeProblems"},
              h.area("includeAllergies", includeResolvedAllergies=True),
              h.area("includeMedication", medicationSearchFromDate=iso(TODAY - timedelta(days=days_back)))]
    if immunisations:
        params += [{"name": "includeImmunisations"}, {"name": "includeUncategorisedData"}]
    return params + list(extra)


@pytest.mark.parametrize("immunisations", [False, True], ids=["predefined search 1", "predefined search 2"])
def test_the_predefined_multi_area_searches_are_permitted(client, immunisations):
    for days in (364, 365, 366):       # today()-365 days, a day either way for leap years and time zones
        bundle = ok(retrieve(client, *predefined(days, immunisations=immunisations)))
        titles = {e["resource"].get("title") for e in bundle["entry"]}
        assert {"List of consultations", "Problems", "Allergies and adverse reactions",
                "Medications and medical devices"} <= titles


@pytest.mark.parametrize("changed", [
    {"days_back": 30}, {"days_back": 700}, {"most_recent": 4},
    {"extra": [h.area("includeReferrals")]},
], ids=["medication date not a year back", "two years back", "4 most recent", "another area"])
def test_only_the_predefined_shape_is_excepted(client, changed):
    assert_outcome(retrieve(client, *predefined(**changed)), "INVALID_PARAMETER")


# --- patient rules (error table) --------------------------------------------------------------------------------
@pytest.mark.parametrize("nhs,code", [
    ("9999999999", "PATIENT_NOT_FOUND"), (SENSITIVE, "PATIENT_NOT_FOUND"), (DECEASED, "PATIENT_NOT_FOUND"),
    (UNVERIFIED, "PATIENT_NOT_FOUND"), (INACTIVE, "PATIENT_NOT_FOUND"), (ELSEWHERE, "PATIENT_NOT_FOUND"),
    (DISSENT, "NO_PATIENT_CONSENT"),
], ids=["unknown", "sensitive", "deceased", "NHS number not verified", "inactive", "registered elsewhere", "dissent"])
def test_patient_rows(client, nhs, code):
    body = assert_outcome(retrieve(client, ALLERGIES, nhs=nhs), code)
    if nhs == SENSITIVE:
        assert "sensitive" not in body["issue"][0]["diagnostics"].lower()    # never says why


def test_registered_elsewhere_from_its_own_practice_is_still_not_a_patient_here(client):
    """Unlike migrate's relationship rule, the requesting organisation does not matter: the patient is
    registered at another practice, so this practice has no Regular/GMS record to share."""
    assert_outcome(retrieve(client, ALLERGIES, nhs=ELSEWHERE, ods="A20047"), "PATIENT_NOT_FOUND")


@pytest.mark.parametrize("flag", ["gpconnect_enabled", "structured_enabled"])
def test_access_denied_when_switched_off(client, flag):
    assert client.patch("/_control/flags", json={flag: False}).status_code == 200
    assert_outcome(retrieve(client, ALLERGIES), "ACCESS DENIED")


def test_migrate_ignores_structured_enabled_retrieve_does_not(client):
    assert client.patch("/_control/flags", json={"structured_enabled": False}).status_code == 200
    r = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                    data=json.dumps(h.migrate_body(MAIN)), headers=h.migrate_headers())
    assert r.status_code == 200
    assert_outcome(retrieve(client, ALLERGIES), "ACCESS DENIED")


# --- the gate: interaction id, JWT, verb, root -------------------------------------------------------------------
@pytest.mark.parametrize("claims", [{"reason": "migration"}, {"reason": "badReason"}, {"scope": "patient/*.write"},
                                    {"scope": "organization/*.read"}, {"requesting_practitioner": None},
                                    {"reason_for_request": None}],
                         ids=["reason migration", "bad reason", "write scope", "organization scope",
                              "no requesting_practitioner", "no reason"])
def test_the_jwt_rules_of_this_interaction(client, claims):
    assert_outcome(retrieve(client, ALLERGIES, **claims), "BAD_REQUEST")


def test_wrong_interaction_id_verb_and_root(client):
    headers = h.retrieve_headers()
    headers["Ssp-InteractionID"] = h.MIGRATE_STRUCTURED
    assert_outcome(post(client, h.retrieve_body(MAIN, ALLERGIES), headers=headers), "BAD_REQUEST")
    assert_outcome(client.get(h.RETRIEVE_URL, headers=h.retrieve_headers()), "BAD_REQUEST")
    assert_outcome(client.post(h.DOCUMENTS + "/Patient/$gpc.getstructuredrecord",
                               data=json.dumps(h.retrieve_body(MAIN, ALLERGIES)), headers=h.retrieve_headers()),
                   "NOT_IMPLEMENTED")


def test_served_on_the_single_root_and_through_the_proxy_prefix(client):
    for url in (h.SINGLE + "/Patient/$gpc.getstructuredrecord",
                "/https://provider.example" + h.RETRIEVE_URL):
        assert client.post(url, data=json.dumps(h.retrieve_body(MAIN, ALLERGIES)),
                           headers=h.retrieve_headers()).status_code == 200


# --- CapabilityStatement, journal, faults, gzip, XML --------------------------------------------------------------
def test_the_structured_capability_statement_lists_the_operation(client):
    statement = client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers()).get_json()
    operations = {o["name"]: o["definition"]["reference"] for o in statement["rest"][0]["operation"]}
    assert operations["gpc.getstructuredrecord"] == \
        "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1"
    documents = client.get(h.DOCUMENTS + "/metadata",
                           headers=h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read"))).get_json()
    assert not documents["rest"][0].get("operation")


def test_journal_names_the_interaction_and_patient(client, control):
    headers = h.retrieve_headers()
    post(client, h.retrieve_body(MAIN, ALLERGIES), headers=headers)
    assert_outcome(retrieve(client, {"name": "includeAllergies"}), "INVALID_PARAMETER")
    rows = control.journal()
    ok_row = next(r for r in rows if r["trace_id"] == headers["Ssp-TraceID"])
    assert ok_row["interaction"] == "retrieve_structured" and ok_row["status"] == 200
    assert ok_row["nhs_number"] == MAIN
    assert any(r["interaction"] == "retrieve_structured" and r["spine_code"] == "INVALID_PARAMETER" for r in rows)


def test_fault_rules_match_the_interaction(client):
    rule = {"kind": "error", "code": "INTERNAL_SERVER_ERROR", "times": 1,
            "match": {"interaction": "retrieve_structured", "nhs_number": MAIN}}
    assert client.post("/_control/faults", json=rule).status_code in (200, 201)
    assert_outcome(retrieve(client, ALLERGIES), "INTERNAL_SERVER_ERROR")
    ok(retrieve(client, ALLERGIES))
    migrate = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                          data=json.dumps(h.migrate_body(MAIN)), headers=h.migrate_headers())
    assert migrate.status_code == 200


def test_gzip_answer_is_the_same_bytes(client):
    headers = h.retrieve_headers()
    plain = post(client, h.retrieve_body(MAIN, {"name": "includeProblems"}), headers=headers)
    zipped = post(client, h.retrieve_body(MAIN, {"name": "includeProblems"}),
                  headers={**headers, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data


def test_xml_answer_and_xml_parameters_body(client):
    body = h.retrieve_body(MAIN, ALLERGIES, {"name": "includeMedication", "part": [
        {"name": "medicationSearchFromDate", "valueDate": "2020-01-01"},
        {"name": "includePrescriptionIssues", "valueBoolean": False}]}, {"name": "madeUp"})
    headers = h.retrieve_headers()
    as_json = post(client, body, headers=headers).get_json()
    xml_headers = {**headers, "Content-Type": "application/fhir+xml;charset=utf-8", "Accept": "application/fhir+xml"}
    r = post(client, None, raw=to_xml(body), headers=xml_headers)
    assert r.status_code == 200 and r.headers["Content-Type"] == FHIR_XML
    assert neutral_xml(r.data) == neutral_json(as_json)
    bad = to_xml(h.retrieve_body(MAIN, {"name": "includeAllergies"}))
    r = post(client, None, raw=bad, headers=xml_headers)
    assert r.status_code == 422 and b"INVALID_PARAMETER" in r.data


def test_answers_are_cached_per_persona_and_query(client, app):
    runtime = app.extensions["mockprovider"]
    for _ in range(3):
        ok(retrieve(client, ALLERGIES))
    ok(retrieve(client, {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": True},
                                                              ]}))
    indexes, answers = runtime.caches["retrieve_structured"]
    assert len(indexes.data) == 1 and len(answers.data) == 1
    ok(retrieve(client, h.area("includeAllergies", includeResolvedAllergies=False)))
    assert len(answers.data) == 2 and len(indexes.data) == 1
