"""Retrieve a patient's structured record: what each area returns, every filter, the Lists, and that a
query is a filter over the record Migrate serves (never a second builder).

Rules from nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/:
accessrecord_structured_development_retrieve_patient_record.md ("Payload response body", "Unknown and
partial date handling in searches", "Medication search date"), _lists_for_message_structure.md (primary
and secondary Lists, warning codes), _problems_guidance.md ("Using Problem search parameters"),
_consultation_guidance.md ("Consultations containing confidential items"), _linkages.md. The List
titles and codes are the spec's table (tests/structured_checks.py), never the code's constants.
"""
import json
from datetime import date

import pytest

from mockprovider.personas import ids
from mockprovider.interactions import retrieve_structured
from tests import helpers as h
from tests.structured_checks import (CONFIDENTIAL_NOTE, EMPTY_REASON, PRIMARY_LISTS, SECONDARY_SYSTEM,
                                     SECONDARY_TITLES, STRUCTURE_CODES, WARNING_EXT)

TODAY = date(2026, 12, 7)
MAIN, NO_LINKS, P12, IN_TRANSIT, P16, FILTERS, PARTIAL = (
    "9690990306", "9690990314", "9690990322", "9690990330", "9690990349", "9690990357", "9690990365")
LINKED, AWAITING, EMPTY, EMIS = "9690990047", "9690990039", "9690937278", "9990042179"
TITLE = {code: title for code, (_, title) in PRIMARY_LISTS.items()}
RELATED = "Problems - linked problems not relating to the primary query"
TRANSIT_NOTE = ("Patient record transfer from previous GP practice not yet complete; information recorded before "
                "14-Sep-2026 may be missing.")
ALL_AREAS = [h.area("includeAllergies", includeResolvedAllergies=True), {"name": "includeMedication"},
             {"name": "includeConsultations"}, {"name": "includeProblems"},
             {"name": "includeImmunisations"}, {"name": "includeUncategorisedData"},
             {"name": "includeInvestigations"}, {"name": "includeReferrals"}, {"name": "includeDiaryEntries"}]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(retrieve_structured, "today", lambda: TODAY)


def retrieve(client, nhs, *params, status=200):
    r = client.post(h.RETRIEVE_URL, data=json.dumps(h.retrieve_body(nhs, *params)), headers=h.retrieve_headers())
    assert r.status_code == status, r.data[:500]
    return r.get_json()


def migrate_resources(client, nhs):
    r = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                    data=json.dumps(h.migrate_body(nhs, False)), headers=h.migrate_headers(False))
    assert r.status_code == 200
    return {f"{e['resource']['resourceType']}/{e['resource'].get('id')}": e["resource"] for e in r.get_json()["entry"]}


def resources(bundle, kind=None):
    return [e["resource"] for e in bundle["entry"] if kind is None or e["resource"]["resourceType"] == kind]


def query_lists(bundle):
    """The primary and secondary Lists by title (consultation-structure Lists have codes of their own)."""
    out = {}
    for r in resources(bundle, "List"):
        code = r["code"]["coding"][0]["code"]
        if code in STRUCTURE_CODES:
            continue
        assert r["title"] not in out, f"two Lists titled {r['title']}"
        out[r["title"]] = r
    return out


def structure_lists(bundle):
    return [r for r in resources(bundle, "List") if r["code"]["coding"][0]["code"] in STRUCTURE_CODES]


def entries(lst):
    return [e["item"]["reference"] for e in lst.get("entry", [])]


def warnings(lst):
    return [x["valueCode"] for x in lst.get("extension", []) if x["url"] == WARNING_EXT]


def rid(nhs, kind, key):
    return f"{kind}/{ids.resource_id(nhs, kind, key)}"


def refs(bundle, kind=None):
    return {f"{r['resourceType']}/{r['id']}" for r in resources(bundle, kind) if r.get("id")}


def check_list_shape(lst):
    """List page: no id (but a referenced Ended allergies List), profile, status, mode, code and subject."""
    assert lst["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1"]
    assert lst["status"] == "current" and lst["mode"] == "snapshot"
    coding = lst["code"]["coding"][0]
    if lst["title"] in SECONDARY_TITLES:
        assert coding["system"] == SECONDARY_SYSTEM and coding["display"] == lst["title"]
    else:
        assert coding["system"] == "http://snomed.info/sct" and TITLE[coding["code"]] == lst["title"]
        assert coding["display"] == PRIMARY_LISTS[coding["code"]][0]
    if not lst.get("entry"):
        assert lst["emptyReason"]["coding"] == [EMPTY_REASON]
        assert lst["note"][0]["text"].endswith("Information not available")


# --- a filter, not a second builder ------------------------------------------------------------------------------
@pytest.mark.parametrize("nhs", [MAIN, NO_LINKS, LINKED, FILTERS, PARTIAL, P16, "9690990063", "9690937286"])
def test_every_resource_is_the_migrate_resource(client, nhs):
    """Every clinical and administrative resource of a retrieve answer is byte for byte the one Migrate sends
    without sensitive information; only the query Lists (and the warning OperationOutcome) are made here."""
    migrate = migrate_resources(client, nhs)
    bundle = retrieve(client, nhs, *ALL_AREAS)
    structure = {f"List/{r['id']}" for r in structure_lists(bundle)}
    for r in resources(bundle):
        ref = f"{r['resourceType']}/{r.get('id')}"
        if r["resourceType"] == "List" and ref not in structure:
            continue
        assert json.dumps(r, sort_keys=True) == json.dumps(migrate[ref], sort_keys=True), ref


def test_an_all_areas_query_returns_what_migrate_returns(client):
    """With every area and no filter the answer holds every migrate resource and consultation-structure List,
    but documents no returned item links (documents have no area of their own in 1.6.2)."""
    migrate = migrate_resources(client, MAIN)
    bundle = retrieve(client, MAIN, *ALL_AREAS)
    expected = {ref for ref, r in migrate.items() if r["resourceType"] != "List" and r.get("id")}
    expected |= {ref for ref, r in migrate.items() if r["resourceType"] == "List" and r.get("id")
                 and r["code"]["coding"][0]["code"] in STRUCTURE_CODES}
    missing = expected - refs(bundle)
    assert missing and all(ref.startswith("DocumentReference/") for ref in missing), missing
    assert refs(bundle) <= set(migrate)


# --- the Bundle's fixed parts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("param,title", [
    (h.area("includeAllergies", includeResolvedAllergies=False), "Allergies and adverse reactions"),
    ({"name": "includeMedication"}, "Medications and medical devices"),
    ({"name": "includeConsultations"}, "List of consultations"),
    ({"name": "includeProblems"}, "Problems"),
    ({"name": "includeImmunisations"}, "Immunisations"),
    ({"name": "includeUncategorisedData"}, "Uncategorised data"),
    ({"name": "includeInvestigations"}, "Investigations and results"),
    ({"name": "includeReferrals"}, "Outbound referral"),
    ({"name": "includeDiaryEntries"}, "Patient recall administration"),
])
def test_each_area_alone(client, param, title):
    """One primary List with its table title and code; no other area's primary List; the patient's
    administrative resources always; every Condition in the Bundle is in the Problems List or the related
    problems List; Lists come first."""
    for nhs in (MAIN, NO_LINKS, EMPTY):
        bundle = retrieve(client, nhs, param)
        lists = query_lists(bundle)
        primary = [t for t in lists if t in TITLE.values()]
        assert primary == [title], (nhs, list(lists))
        for lst in lists.values():
            check_list_shape(lst)
        kinds = [r["resourceType"] for r in resources(bundle)]
        assert {"Patient", "Organization"} <= set(kinds)
        assert kinds.index("Patient") > max(i for i, k in enumerate(kinds) if k == "List")
        conditions = refs(bundle, "Condition")
        listed = set(entries(lists.get("Problems", {}))) | set(entries(lists.get(RELATED, {})))
        assert conditions == listed, (nhs, title)
        if title not in ("List of consultations", "Problems"):
            assert not set(lists) & (SECONDARY_TITLES - {RELATED}), list(lists)
        if nhs == NO_LINKS:
            assert not conditions and RELATED not in lists      # the suite's patient3: no problems at all


def test_an_empty_area_is_an_empty_list(client):
    bundle = retrieve(client, EMPTY, h.area("includeAllergies", includeResolvedAllergies=True), {"name": "includeMedication"})
    lists = query_lists(bundle)
    for title in ("Allergies and adverse reactions", "Ended allergies", "Medications and medical devices"):
        assert "entry" not in lists[title]
        assert lists[title]["emptyReason"]["coding"] == [EMPTY_REASON]
        assert lists[title]["note"] == [{"text": "Information not available"}]


# --- allergies ---------------------------------------------------------------------------------------------------
def test_allergies_active_only_or_with_the_ended_ones(client):
    active = retrieve(client, MAIN, h.area("includeAllergies", includeResolvedAllergies=False))
    lists = query_lists(active)
    assert "Ended allergies" not in lists
    assert all(a["clinicalStatus"] == "active" for a in resources(active, "AllergyIntolerance"))
    assert set(entries(lists["Allergies and adverse reactions"])) == refs(active, "AllergyIntolerance")
    both = retrieve(client, MAIN, h.area("includeAllergies", includeResolvedAllergies=True))
    ended = query_lists(both)["Ended allergies"]
    assert [c["clinicalStatus"] for c in ended["contained"]] == ["resolved", "resolved"]
    assert entries(ended) == ["#" + c["id"] for c in ended["contained"]]
    assert "id" not in ended                     # nothing in this answer references into it
    assert not any(a["clinicalStatus"] == "resolved" for a in resources(both, "AllergyIntolerance"))


def test_an_ended_allergy_linked_to_a_returned_problem_comes_inside_its_list(client):
    """lists_for_message_structure.md: a resolved allergy returned by a problems query comes with the primary
    (Ended allergies) List, which then has an id, referenced as List/<id>#<allergy id>."""
    bundle = retrieve(client, LINKED, h.area("includeProblems", filterStatus="inactive"))
    lists = query_lists(bundle)
    ended = lists["Ended allergies"]
    allergy = ids.resource_id(LINKED, "AllergyIntolerance", "penicillin-ended")
    assert [c["id"] for c in ended["contained"]] == [allergy] and ended["id"]
    assert entries(lists["Problems - allergies that have been ended related to problems"]) == \
        [f"List/{ended['id']}#{allergy}"]
    assert "Allergies and adverse reactions" not in lists


# --- medications -----------------------------------------------------------------------------------------------------
def orders(bundle):
    return [r for r in resources(bundle, "MedicationRequest") if r["intent"] == "order"]


def test_prescription_issues_in_or_out(client):
    with_issues = retrieve(client, MAIN, h.area("includeMedication", includePrescriptionIssues=True))
    without = retrieve(client, MAIN, h.area("includeMedication", includePrescriptionIssues=False))
    assert orders(with_issues) and not orders(without)
    statements = resources(without, "MedicationStatement")
    plans = [r for r in resources(without, "MedicationRequest") if r["intent"] == "plan"]
    assert len(statements) == len(plans) == len(resources(without, "Medication"))
    migrate = migrate_resources(client, MAIN)
    sent = {r["id"] for r in statements}
    expected = [ref for ref, r in migrate.items() if r["resourceType"] == "MedicationRequest" and r["intent"] == "order"]
    assert {f"MedicationRequest/{r['id']}" for r in orders(with_issues)} == set(expected)
    assert sent == {r["id"] for r in resources(with_issues, "MedicationStatement")}


FILTER_MEDS = ["acute-2018-01", "acute-2018-02", "repeat-ongoing", "repeat-ended", "repeat-dispensing", "delayed",
               "elsewhere", "acute-recent"]


@pytest.mark.parametrize("since,expected", [
    (None, FILTER_MEDS),
    ("2018-01-15", FILTER_MEDS),                                          # an acute with no end: on its start day
    ("2018-01-16", [m for m in FILTER_MEDS if m != "acute-2018-01"]),     # ... and not the day after
    ("2018-02-14", [m for m in FILTER_MEDS if m != "acute-2018-01"]),     # an acute's end day is inclusive
    ("2018-02-15", ["repeat-ended", "repeat-ongoing", "repeat-dispensing", "delayed", "elsewhere", "acute-recent"]),
    ("2018-04-01", ["repeat-ongoing", "repeat-dispensing", "delayed", "elsewhere", "acute-recent"]),
    ("2026-10-01", ["repeat-ongoing", "repeat-dispensing", "delayed", "elsewhere"]),
    ("2026-12-07", ["repeat-ongoing", "repeat-dispensing", "delayed", "elsewhere"]),
])
def test_medication_search_date(client, since, expected):
    """Active on or after the date; with no end an acute is active on its start only, a repeat (and anything
    not acute: repeat dispensing, delayed prescribing) is ongoing; prescribed elsewhere always returned."""
    param = h.area("includeMedication", **({"medicationSearchFromDate": since} if since else {}))
    bundle = retrieve(client, FILTERS, param)
    listed = entries(query_lists(bundle)["Medications and medical devices"])
    assert sorted(listed) == sorted(rid(FILTERS, "MedicationStatement", k) for k in expected)


def test_medication_search_date_is_its_own_areas_filter_only(client):
    """The filter applies to its area: a consultation still brings the old medication it recorded."""
    bundle = retrieve(client, NO_LINKS, h.area("includeMedication", medicationSearchFromDate="2025-01-01"),
                      {"name": "includeReferrals"})
    assert entries(query_lists(bundle)["Medications and medical devices"]) == []
    assert len(entries(query_lists(bundle)["Outbound referral"])) == 2


# --- consultations -------------------------------------------------------------------------------------------------
def encounter(key, nhs=FILTERS):
    return rid(nhs, "Encounter", key)


@pytest.mark.parametrize("start,end,expected", [
    ("2019-03-04", None, ["consult-2019", "consult-2021", "consult-2025"]),
    ("2019-03-05", None, ["consult-2021", "consult-2025"]),
    (None, "2021-07-12", ["consult-2019", "consult-2021"]),
    (None, "2021-07-11", ["consult-2019"]),
    ("2020-01-01", "2024-12-31", ["consult-2021"]),
])
def test_consultation_search_period(client, start, end, expected):
    bundle = retrieve(client, FILTERS, h.area("includeConsultations", consultationSearchPeriod=(start, end)))
    lst = query_lists(bundle)["List of consultations"]
    assert entries(lst) == [encounter(k) for k in expected]
    in_range = start <= "2023-11-20" if start else True
    in_range = in_range and (end >= "2023-11-20" if end else True)
    assert ("confidential-items" in warnings(lst)) == in_range     # the withheld 2023 consultation


@pytest.mark.parametrize("n,expected,warned", [
    (1, ["consult-2025"], False),
    (2, ["consult-2021", "consult-2025"], True),      # the withheld 2023 one is more recent than the 2021 one
    (3, ["consult-2019", "consult-2021", "consult-2025"], True),
    (9, ["consult-2019", "consult-2021", "consult-2025"], True),
])
def test_number_of_most_recent(client, n, expected, warned):
    bundle = retrieve(client, FILTERS, h.area("includeConsultations", includeNumberOfMostRecent=n))
    lst = query_lists(bundle)["List of consultations"]
    assert entries(lst) == [encounter(k) for k in expected]
    assert ("confidential-items" in warnings(lst)) is warned
    assert refs(bundle, "Encounter") == {encounter(k) for k in expected}


def test_a_consultation_comes_with_its_structure_and_contents(client):
    bundle = retrieve(client, MAIN, {"name": "includeConsultations"})
    lists = query_lists(bundle)
    encounters = refs(bundle, "Encounter")
    assert set(entries(lists["List of consultations"])) == encounters
    structure = structure_lists(bundle)
    assert {r["encounter"]["reference"] for r in structure} == encounters
    for r in structure:
        assert not warnings(r) and r.get("entry")        # never warned, never empty
        for ref in entries(r):                            # everything they hold is in the Bundle
            assert ref in refs(bundle), ref
    # a medication recorded in a consultation: its authorisation, not all its issues
    assert resources(bundle, "MedicationStatement") and not orders(bundle)
    assert entries(lists["Consultations - medications contained in consultations"])
    assert entries(lists["Consultations - uncategorised data contained in consultations"])
    # withheld (confidential) items warn on their secondary List only
    for title in ("Consultations - medications contained in consultations",
                  "Consultations - uncategorised data contained in consultations",
                  "Consultations - outbound referrals in consultations"):
        assert warnings(lists[title]) == ["confidential-items"]
        assert CONFIDENTIAL_NOTE in lists[title]["note"][0]["text"]
    assert warnings(lists["List of consultations"]) == []
    # a problem recorded in a consultation, and the problems its items link
    assert entries(lists["Consultations - problems contained in consultations"]) == [rid(MAIN, "Condition", "urti")]
    assert set(entries(lists[RELATED])) == refs(bundle, "Condition")


# --- problems ---------------------------------------------------------------------------------------------------------
def test_problems_with_every_linked_item(client):
    bundle = retrieve(client, MAIN, {"name": "includeProblems"})
    lists = query_lists(bundle)
    problems = entries(lists["Problems"])
    assert set(problems) == refs(bundle, "Condition") and RELATED not in lists
    for title, kind in (("Problems - medications related to problems", "MedicationStatement"),
                        ("Problems - uncategorised data related to problems", "Observation"),
                        ("Problems - consultations related to problems", "Encounter"),
                        ("Problems - investigations related to problems", "DiagnosticReport"),
                        ("Problems - immunisations related to problems", "Immunization"),
                        ("Problems - diary entries related to problems", "ProcedureRequest"),
                        ("Problems - outbound referrals related to problems", "ReferralRequest"),
                        ("Problems - allergies related to problems", "AllergyIntolerance"),
                        ("Problems - documents related to problems", "DocumentReference")):
        assert entries(lists[title]) and all(ref.startswith(kind + "/") and ref in refs(bundle)
                                             for ref in entries(lists[title])), title
    # linked consultations as Encounters only: no structure Lists, no List of consultations
    assert refs(bundle, "Encounter") and not structure_lists(bundle) and "List of consultations" not in lists
    # a problem raised in a consultation names it in context; that Encounter is sent
    urti = next(r for r in resources(bundle, "Condition") if r["id"] == ids.resource_id(MAIN, "Condition", "urti"))
    assert urti["context"]["reference"] in refs(bundle, "Encounter")
    # linked medications: statement, plan, Medication; issues only where named directly
    assert not orders(bundle)
    # confidential items linked to a problem: never sent, the warning on the List they would be in
    assert rid(MAIN, "MedicationStatement", "citalopram") not in refs(bundle)
    for title in ("Problems - medications related to problems", "Problems - uncategorised data related to problems",
                  "Problems - outbound referrals related to problems"):
        assert warnings(lists[title]) == ["confidential-items"], title


def test_filter_status_and_related_problems(client):
    """problems guidance: a related problem not matching the status is returned, listed in the related problems
    List (not the primary one), and nothing it links is returned."""
    bundle = retrieve(client, MAIN, h.area("includeProblems", filterStatus="active"))
    lists = query_lists(bundle)
    neuropathy = rid(MAIN, "Condition", "neuropathy")
    assert neuropathy not in entries(lists["Problems"])
    assert entries(lists[RELATED]) == [neuropathy]
    statuses = {r["id"]: r["clinicalStatus"] for r in resources(bundle, "Condition")}
    assert {statuses[ref.split("/")[1]] for ref in entries(lists["Problems"])} == {"active"}
    inactive = retrieve(client, MAIN, h.area("includeProblems", filterStatus="inactive"))
    lists = query_lists(inactive)
    assert set(entries(lists["Problems"])) == {rid(MAIN, "Condition", "urti"), neuropathy}
    assert entries(lists[RELATED]) == [rid(MAIN, "Condition", "diabetes")]
    # diabetes comes only as a related problem: its metformin and foot check are not returned
    assert rid(MAIN, "MedicationStatement", "metformin") not in refs(inactive)


def test_a_confidential_problem_warns_where_it_would_be(client):
    active = retrieve(client, LINKED, h.area("includeProblems", filterStatus="active"))
    assert warnings(query_lists(active)["Problems"]) == ["confidential-items"]
    assert rid(LINKED, "Condition", "depression") not in refs(active)


# --- immunisations, uncategorised, investigations, referrals, diary ------------------------------------------------
def test_immunisation_parts(client):
    given, not_given = rid(FILTERS, "Immunization", "flu-2019"), rid(FILTERS, "Immunization", "flu-2020")
    consent = rid(FILTERS, "Observation", "consent-2020")
    cases = [({}, {given, consent}), ({"includeNotGiven": True}, {given, not_given, consent}),
             ({"includeStatus": False}, {given}), ({"includeNotGiven": True, "includeStatus": False}, {given, not_given})]
    for parts, expected in cases:
        bundle = retrieve(client, FILTERS, h.area("includeImmunisations", **parts))
        assert set(entries(query_lists(bundle)["Immunisations"])) == expected, parts


@pytest.mark.parametrize("area,part,title,nhs,start,end,expected", [
    ("includeUncategorisedData", "uncategorisedDataSearchPeriod", "Uncategorised data", FILTERS, "2019-01-01", "2021-12-31",
     [("Observation", "bp-2019"), ("Observation", "weight-2021")]),
    ("includeUncategorisedData", "uncategorisedDataSearchPeriod", "Uncategorised data", FILTERS, "2025-05-06", None,
     [("Observation", "resp-2025")]),
    ("includeInvestigations", "investigationSearchPeriod", "Investigations and results", FILTERS, None, "2020-01-01",
     [("DiagnosticReport", "crp-2017")]),
    ("includeInvestigations", "investigationSearchPeriod", "Investigations and results", FILTERS, "2022-02-02", "2022-02-02",
     [("DiagnosticReport", "chol-2022")]),
    ("includeReferrals", "referralSearchPeriod", "Outbound referral", FILTERS, "2016-03-04", "2024-12-12",
     [("ReferralRequest", "ortho-2020"), ("ReferralRequest", "physio-2024")]),
    ("includeReferrals", "referralSearchPeriod", "Outbound referral", NO_LINKS, "2020-01-01", None,
     [("ReferralRequest", "ortho-2024")]),
])
def test_search_periods(client, area, part, title, nhs, start, end, expected):
    bundle = retrieve(client, nhs, h.area(area, **{part: (start, end)}))
    assert entries(query_lists(bundle)[title]) == [rid(nhs, kind, key) for kind, key in expected]


def test_a_withheld_item_in_range_warns_out_of_range_does_not(client):
    in_range = retrieve(client, FILTERS, h.area("includeUncategorisedData", uncategorisedDataSearchPeriod=("2023-01-01", None)))
    assert warnings(query_lists(in_range)["Uncategorised data"]) == ["confidential-items"]
    out = retrieve(client, FILTERS, h.area("includeUncategorisedData", uncategorisedDataSearchPeriod=("2024-01-01", None)))
    assert warnings(query_lists(out)["Uncategorised data"]) == []


@pytest.mark.parametrize("until,expected", [
    (None, ["review-2026", "asthma-review-2027", "review-2031"]),
    ("2026-12-07", ["review-2026"]),
    ("2027-03-01", ["review-2026", "asthma-review-2027"]),
])
def test_diary_search_date(client, until, expected):
    bundle = retrieve(client, FILTERS, h.area("includeDiaryEntries", **({"diaryEntriesSearchDate": until} if until else {})))
    assert entries(query_lists(bundle)["Patient recall administration"]) == \
        [rid(FILTERS, "ProcedureRequest", k) for k in expected]


# --- unknown and partial dates (an imported record) -----------------------------------------------------------------
def partial(kind, key):
    return rid(PARTIAL, kind, key)


@pytest.mark.parametrize("start,end,expected", [
    ("2019-06-01", "2019-12-31", ["weight-year", "smoking-undated"]),       # "2019" may be in June-December
    ("2019-05-31", "2019-05-31", ["weight-year", "weight-month", "smoking-undated"]),
    ("2019-06-01", None, ["weight-year", "smoking-undated", "bp-2024"]),
    ("2020-01-01", "2023-12-31", ["smoking-undated"]),                      # an item with no date: always
    (None, "2018-12-31", ["smoking-undated"]),
])
def test_partial_and_unknown_dates_uncategorised(client, start, end, expected):
    bundle = retrieve(client, PARTIAL, h.area("includeUncategorisedData", uncategorisedDataSearchPeriod=(start, end)))
    assert entries(query_lists(bundle)["Uncategorised data"]) == [partial("Observation", k) for k in expected]


def test_partial_dates_in_the_other_areas(client):
    def listed(param, title):
        return entries(query_lists(retrieve(client, PARTIAL, param))[title])
    # a year-month acute with no end: active in that month
    assert listed(h.area("includeMedication", medicationSearchFromDate="2019-05-31"), "Medications and medical devices") \
        == [partial("MedicationStatement", "repeat-year"), partial("MedicationStatement", "acute-month")]
    assert listed(h.area("includeMedication", medicationSearchFromDate="2019-06-01"), "Medications and medical devices") \
        == [partial("MedicationStatement", "repeat-year")]
    assert listed(h.area("includeReferrals", referralSearchPeriod=("2017-03-31", "2017-04-30")), "Outbound referral") \
        == [partial("ReferralRequest", "ortho-month")]
    assert listed(h.area("includeReferrals", referralSearchPeriod=("2017-04-01", "2022-01-01")), "Outbound referral") == []
    assert listed(h.area("includeDiaryEntries", diaryEntriesSearchDate="2027-01-01"), "Patient recall administration") \
        == [partial("ProcedureRequest", "review-year")]
    assert listed(h.area("includeConsultations", consultationSearchPeriod=("2018-12-31", None)), "List of consultations") \
        == [partial("Encounter", "consult-year"), partial("Encounter", "consult-2024")]


# --- confidential items and record-wide warnings ----------------------------------------------------------------------
def test_confidential_items_never_returned(client):
    """9690990349 (the suite's patient16): the confidential allergy and referral are left out; their Lists warn."""
    bundle = retrieve(client, P16, h.area("includeAllergies", includeResolvedAllergies=False), {"name": "includeReferrals"})
    lists = query_lists(bundle)
    allergies = lists["Allergies and adverse reactions"]
    assert warnings(allergies) == ["confidential-items"] and allergies["note"] == [{"text": CONFIDENTIAL_NOTE}]
    assert len(entries(allergies)) == 1
    referrals = lists["Outbound referral"]
    assert warnings(referrals) == ["confidential-items"] and "entry" not in referrals
    assert referrals["emptyReason"]["coding"] == [EMPTY_REASON]
    assert referrals["note"] == [{"text": CONFIDENTIAL_NOTE + " Information not available"}]
    assert rid(P16, "AllergyIntolerance", "penicillin") not in refs(bundle)
    ended = query_lists(retrieve(client, P16, h.area("includeAllergies", includeResolvedAllergies=True)))["Ended allergies"]
    reason = next(x for x in ended["contained"][0]["extension"][0]["extension"] if x["url"] == "reasonEnded")
    assert reason["valueString"] == "No information available"


def test_data_in_transit_on_every_list(client):
    bundle = retrieve(client, IN_TRANSIT, h.area("includeAllergies", includeResolvedAllergies=True),
                      {"name": "includeMedication"}, {"name": "includeReferrals"}, {"name": "includeConsultations"},
                      {"name": "includeProblems"})
    lists = query_lists(bundle)
    assert len(lists) == 6
    for lst in lists.values():
        assert warnings(lst) == ["data-in-transit"]
        assert lst["note"][0]["text"].startswith(TRANSIT_NOTE)


def test_awaiting_filing_on_its_area_only(client):
    bundle = retrieve(client, AWAITING, {"name": "includeInvestigations"}, {"name": "includeMedication"})
    lists = query_lists(bundle)
    assert warnings(lists["Investigations and results"]) == ["data-in-transit", "data-awaiting-filing"]
    assert warnings(lists["Medications and medical devices"]) == ["data-in-transit"]


# --- every origin ------------------------------------------------------------------------------------------------------
def test_a_supplier_shaped_record(client):
    bundle = retrieve(client, EMIS, h.area("includeConsultations", includeNumberOfMostRecent=3), {"name": "includeProblems"},
                      h.area("includeAllergies", includeResolvedAllergies=True),
                      h.area("includeMedication", medicationSearchFromDate="2025-12-07"))
    lists = query_lists(bundle)
    assert len(entries(lists["List of consultations"])) == 3
    present = refs(bundle)
    for lst in list(lists.values()) + structure_lists(bundle):
        for ref in entries(lst):
            assert ref in present or ref.startswith("#") or ref.split("#")[0] in present, (lst.get("title"), ref)
    assert len(entries(lists["Medications and medical devices"])) < 62


def test_a_run_time_persona_and_its_replacement(client):
    persona = {"nhs_number": "9990000018", "name": {"family": "Smith"}, "gender": "male", "birth_date": "1960-01-01",
               "usual_gp": {"sds_user_id": "G1234567", "name": {"family": "Clarke", "prefix": ["Dr"]}},
               "record": {"problems": [{"key": "asthma", "code": "195967001|Asthma", "date": "1998-09-14"}],
                          "medications": [{"key": "salbutamol", "drug": "320176004|Salbutamol 100micrograms/dose inhaler",
                                           "dosage": "Two puffs when required", "date": "2020-01-01",
                                           "problem": "asthma"}]}}
    assert client.put("/_control/personas/9990000018", json=persona).status_code in (200, 201)
    bundle = retrieve(client, "9990000018", {"name": "includeMedication"})
    assert len(resources(bundle, "MedicationStatement")) == 1 and len(resources(bundle, "Condition")) == 1
    persona["record"]["medications"][0]["confidential"] = True
    assert client.put("/_control/personas/9990000018", json=persona).status_code in (200, 201)
    bundle = retrieve(client, "9990000018", {"name": "includeMedication"})
    assert not resources(bundle, "MedicationStatement")
    assert warnings(query_lists(bundle)["Medications and medical devices"]) == ["confidential-items"]


def test_documents_over_the_retrieve_limit_come_as_placeholders(client):
    """A document over Retrieve a document's limit is listed without a url (as the documents search lists it)."""
    bundle = retrieve(client, MAIN, {"name": "includeProblems"})
    docs = resources(bundle, "DocumentReference")
    assert docs and all(d["content"][0]["attachment"].get("url") for d in docs)
    assert client.patch("/_control/flags", json={"retrieve_document_limit_bytes": 500}).status_code == 200
    bundle = retrieve(client, MAIN, {"name": "includeProblems"})
    for d in resources(bundle, "DocumentReference"):
        att = d["content"][0]["attachment"]
        if att["size"] > 500:
            assert "url" not in att and "Retrieve a document" in att["title"]
        else:
            assert att["url"]


@pytest.mark.parametrize("nhs", [EMIS, "9990042187"])
def test_a_supplier_shaped_records_confidential_items(client, nhs):
    """The EMIS- and TPP-shaped records (served as they came) mark a mental-health problem, its medication and
    one consultation confidential: left out, and their Lists warn, exactly as for a hand-written record."""
    migrate_with = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                               data=json.dumps(h.migrate_body(nhs, True)), headers=h.migrate_headers(True)).get_json()
    everything = {f"{e['resource']['resourceType']}/{e['resource'].get('id')}" for e in migrate_with["entry"]}
    bundle = retrieve(client, nhs, {"name": "includeProblems"}, {"name": "includeMedication"},
                      h.area("includeConsultations", consultationSearchPeriod=("1990-01-01", None)))
    lists = query_lists(bundle)
    for title in ("Problems", "Medications and medical devices", "List of consultations"):
        assert warnings(lists[title]) == ["confidential-items"], title
    withheld = everything - set(migrate_resources(client, nhs))
    assert withheld and not withheld & refs(bundle)


def test_a_large_persona_gets_the_same_answer_made_in_a_forked_child(client, app, monkeypatch):
    """A persona large enough to keep only its bytes has its answer made in a forked child (issue #28's
    offload, as migrate's Bundle is), never its record's index in the worker: the answer is the same."""
    from mockprovider.process import offload
    query = [h.area("includeAllergies", includeResolvedAllergies=True), {"name": "includeMedication"},
             {"name": "includeProblems"}]
    in_worker = retrieve(client, MAIN, *query)
    app.extensions["mockprovider"].caches = {}
    monkeypatch.setattr(offload, "OFFLOAD_FROM_BYTES", 0)       # every persona counts as large
    forked = []
    real_fork = offload._fork_and_wait
    monkeypatch.setattr(offload, "_fork_and_wait", lambda *a: forked.append(a) or real_fork(*a))
    again = retrieve(client, MAIN, *query)
    assert {**again, "id": None} == {**in_worker, "id": None}            # Bundle.id: each request's trace id
    assert [args[0].__name__ for args in forked] == ["_answer_bytes"]
