"""Structured record edge cases on small personas written here: confidential problems and
consultations, partly confidential investigations, empty records, NOPAT, no usual GP."""
import json

import pytest

from mockprovider.app import create_app
from tests import helpers as h
from tests.structured_checks import WARNING_EXT, all_resources, check_bundle, lists_by_title

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
NHS = "9990000018"

BASE = {"nhs_number": NHS, "name": {"family": "Edge"}, "gender": "female", "birth_date": "1970-01-01"}
GP = {"sds_user_id": "G7654321", "name": {"family": "Grey", "prefix": ["Dr"]}}


def bundle_for(tmp_path, persona, sensitive):
    folder = tmp_path / "personas"
    folder.mkdir(exist_ok=True)
    (folder / f"{NHS}.json").write_text(json.dumps(persona))
    client = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)}).test_client()
    headers = h.migrate_headers(sensitive)
    r = client.post(URL, data=json.dumps(h.migrate_body(NHS, sensitive)), headers=headers)
    assert r.status_code == 200, r.data[:500]
    return check_bundle(r.get_json(), headers["Ssp-TraceID"])


def warned(lst):
    return any(e["url"] == WARNING_EXT and e["valueCode"] == "confidential-items" for e in lst.get("extension", []))


@pytest.mark.parametrize("sensitive", [False, True])
def test_empty_record_sends_every_primary_list_empty(tmp_path, sensitive):
    bundle = bundle_for(tmp_path, dict(BASE), sensitive)
    titles = lists_by_title(bundle)
    assert len(titles) == 10           # the primary lists; no secondary list without data or warning
    for lst in titles.values():
        assert "entry" not in lst and lst["emptyReason"] and not warned(lst)
    kinds = sorted(r["resourceType"] for r in all_resources(bundle) if r["resourceType"] != "List")
    assert kinds == ["Organization", "Patient"]


RECORD = {
    "date": "2026-01-01",
    "problems": [{"key": "secret", "code": "231504006|Mixed anxiety and depressive disorder", "date": "2020-01-01",
                  "confidential": True},
                 {"key": "open", "code": "195967001|Asthma", "date": "2000-01-01"}],
    "medications": [{"key": "med", "drug": "321987003|Citalopram 20mg tablets", "dosage": "One a day",
                     "date": "2020-01-01", "problem": "secret"},
                    {"key": "inh", "drug": "320176004|Salbutamol 100micrograms/dose inhaler",
                     "dosage": "Two puffs", "date": "2020-01-01", "problem": "open", "nopat": True}],
    "investigations": [{"key": "inv", "code": "26604007|FBC - Full blood count", "date": "2021-01-01",
                        "results": [{"key": "r1", "code": "1022431000000105|Haemoglobin estimation",
                                     "value": 130, "unit": "g/L"},
                                    {"key": "r2", "code": "1022651000000100|Platelet count", "value": 250,
                                     "unit": "10*9/L", "confidential": True}]}],
    "consultations": [{"key": "hidden", "type": "11429006|Consultation", "date": "2020-01-01", "confidential": True,
                       "topics": [{"problem": "secret", "items": ["med"], "notes": ["Private note"]}]},
                      {"key": "open-visit", "type": "185317003|Telephone encounter", "date": "2020-02-01",
                       "topics": [{"problem": "secret", "notes": ["Follow-up call"]}]},
                      {"key": "seen", "type": "11429006|Consultation", "date": "2021-01-01",
                       "topics": [{"title": "Review", "items": ["inv"], "notes": ["Bloods taken"]}]}],
}


def test_confidential_problem_and_consultation_left_out(tmp_path):
    bundle = bundle_for(tmp_path, {**BASE, "usual_gp": GP, "record": RECORD}, False)
    titles = lists_by_title(bundle)
    for title in ("Problems", "List of consultations", "Investigations and results",
                  "Problems - medications related to problems", "Consultations - medications contained in consultations"):
        assert warned(titles[title]), title
    assert not warned(titles["Medications and medical devices"])     # both medications are sent
    conditions = [r for r in all_resources(bundle) if r["resourceType"] == "Condition"]
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["195967001"]
    # The medication recorded in the hidden consultation is sent without a link to it.
    statements = {r["medicationReference"]["reference"]: r for r in all_resources(bundle)
                  if r["resourceType"] == "MedicationStatement"}
    assert all("context" not in s for s in statements.values())
    texts = [r.get("comment") for r in all_resources(bundle) if r["resourceType"] == "Observation"]
    assert "Private note" not in texts and "Bloods taken" in texts
    # A topic about a confidential problem does not carry the problem's name.
    assert "Mixed anxiety and depressive disorder" not in json.dumps(bundle)
    codes = {r["code"]["coding"][0]["code"] for r in all_resources(bundle) if r["resourceType"] == "Observation"}
    assert "1022651000000100" not in codes and "1022431000000105" in codes
    # NOPAT on the labelled medication's resources, never on a List.
    labelled = [r["resourceType"] for r in all_resources(bundle) if r["meta"].get("security")]
    assert sorted(labelled) == ["MedicationRequest", "MedicationRequest", "MedicationStatement"]


def test_everything_sent_with_sensitive(tmp_path):
    bundle = bundle_for(tmp_path, {**BASE, "usual_gp": GP, "record": RECORD}, True)
    assert not any(warned(lst) for lst in lists_by_title(bundle).values())
    assert len([r for r in all_resources(bundle) if r["resourceType"] == "Condition"]) == 2
    assert len([r for r in all_resources(bundle) if r["resourceType"] == "Encounter"]) == 3


def test_no_usual_gp_means_no_practitioner(tmp_path):
    bundle = bundle_for(tmp_path, {**BASE, "record": RECORD}, True)
    kinds = {r["resourceType"] for r in all_resources(bundle)}
    assert "Practitioner" not in kinds and "PractitionerRole" not in kinds
