"""The provider serves every registered practice (its personas, its roots, Ssp-To = its ASID,
attachment URLs on its documents root) and, in the Spine-proxy form, the proxy's own refusals
(flag ssp_checks; the GP Connect error-handling guidance's SSP section). Unregistered practices and
everything B82617 did before answer as before."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mockprovider.app import create_app
from mockprovider.config import BUILT_IN_PERSONAS
from mockprovider.personas.store import PersonaError
from tests import helpers as h

Y1 = "/Y90001/STU3/1/gpconnect/fhir"                     # the EMIS-shaped practice's only root
Y1_ASID = "918999190017"
Y2_STRUCTURED, Y2_DOCUMENTS, Y2_ASID = "/Y90002/STU3/1/gpconnect/structured/fhir", \
    "/Y90002/STU3/1/gpconnect/documents/fhir", "918999190025"
MIGRATE = "/Patient/$gpc.migratestructuredrecord"


def migrate(client, url, nhs, to_asid, sensitive=False, ods=h.CONSUMER_ODS, **headers):
    sent = h.migrate_headers(sensitive, ods=ods)
    sent["Ssp-To"] = to_asid
    sent.update(headers)
    return client.post(url + MIGRATE, data=json.dumps(h.migrate_body(nhs, sensitive)),
                       headers={k: v for k, v in sent.items() if v is not None})


def code(r):
    return r.get_json()["issue"][0]["details"]["coding"][0]["code"]


def test_a_patient_of_another_practice_is_served_at_its_single_root(client):
    r = migrate(client, Y1, "9690990403", Y1_ASID, sensitive=True)
    assert r.status_code == 200
    bundle = r.get_json()
    organizations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"]
    assert any(o["identifier"][0]["value"] == "Y90001" for o in organizations)
    urls = [e["resource"]["content"][0]["attachment"]["url"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "DocumentReference"]
    assert urls and all(u.startswith("http://localhost/Y90001/STU3/1/gpconnect/fhir/Binary/") for u in urls)
    for url in urls:                                  # each document, at the practice's root
        path = url.split("localhost", 1)[1]
        got = client.get(path, headers=h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration",
                                                                          scope="patient/*.read conf/R"),
                                                 **{"Ssp-To": Y1_ASID}))
        assert got.status_code == 200 and got.get_json()["resourceType"] == "Binary"


def test_a_practice_answers_only_its_own_roots_and_interactions(client):
    assert code(migrate(client, "/Y90001/STU3/1/gpconnect/structured/fhir", "9690990403", Y1_ASID)) == "NOT_IMPLEMENTED"
    meta = client.get(Y2_DOCUMENTS + "/metadata", headers=h.metadata_headers() | {
        "Ssp-InteractionID": h.METADATA_DOCUMENTS, "Ssp-To": Y2_ASID})
    assert meta.status_code == 501                                   # Y90002 does not offer it
    assert migrate(client, Y2_STRUCTURED, "9690990411", Y2_ASID).status_code == 200


def test_ssp_to_is_the_practices_asid(client):
    r = migrate(client, Y1, "9690990403", h.PROVIDER_ASID)
    assert r.status_code == 400 and "Ssp-To" in r.get_json()["issue"][0]["diagnostics"]


def test_a_persona_is_a_patient_of_its_home_practice_only(client):
    assert code(migrate(client, h.STRUCTURED, "9690990403", h.PROVIDER_ASID)) == "PATIENT_NOT_FOUND"
    assert code(migrate(client, Y1, "9690937286", Y1_ASID)) == "PATIENT_NOT_FOUND"
    doc_url = next(e["resource"]["content"][0]["attachment"]["url"]
                   for e in migrate(client, Y1, "9690990403", Y1_ASID, sensitive=True).get_json()["entry"]
                   if e["resource"]["resourceType"] == "DocumentReference")
    binary = doc_url.rsplit("/", 1)[1]
    r = client.get(f"{h.DOCUMENTS}/Binary/{binary}", headers=h.headers(h.RETRIEVE_DOCUMENT))
    assert code(r) == "NO_RECORD_FOUND"                                # B82617 does not hold it
    find = client.get(f"{h.DOCUMENTS}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9690990403",
                      headers=h.headers(h.FIND_PATIENT))
    assert "entry" not in find.get_json()


@pytest.mark.parametrize("ods", ["Y90003", "Z99999"])
def test_a_practice_not_on_gp_connect_and_an_unregistered_one_answer_as_before(client, ods):
    r = migrate(client, f"/{ods}/STU3/1/gpconnect/structured/fhir", "9690990489", h.PROVIDER_ASID)
    assert r.status_code == 501 and code(r) == "NOT_IMPLEMENTED"


def test_the_relationship_check_reads_the_same_facts_as_pds(client):
    # 9690939114: PDS names A20047; only a request from A20047 passes
    assert code(migrate(client, h.STRUCTURED, "9690939114", h.PROVIDER_ASID)) == "NO_RELATIONSHIP"
    assert migrate(client, h.STRUCTURED, "9690939114", h.PROVIDER_ASID, ods="A20047").status_code == 200
    pds = client.get("/personal-demographics/FHIR/R4/Patient/9690939114",
                     headers={"X-Request-ID": "60E0B220-8136-4CA5-AE46-1D97EF59D068"}).get_json()
    assert pds["generalPractitioner"][0]["identifier"]["value"] == "A20047"


def test_ods_code_and_provider_asid_rename_the_default_practice(tmp_path):
    app = create_app({"state_dir": str(tmp_path / "s"), "ods_code": "Y12345", "provider_asid": "111122223333"})
    client = app.test_client()
    settings = app.extensions["mockprovider"].settings
    assert (settings.ods_code, settings.provider_asid) == ("Y12345", "111122223333")
    r = migrate(client, "/Y12345/STU3/1/gpconnect/structured/fhir", "9690937286", "111122223333")
    assert r.status_code == 200
    assert migrate(client, h.STRUCTURED, "9690937286", "111122223333").status_code == 501
    sds = client.get("/spine-directory/FHIR/R4/Endpoint?organization=https://fhir.nhs.uk/Id/ods-organization-code%7C"
                     f"Y12345&identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId%7C{h.MIGRATE_STRUCTURED}")
    assert sds.get_json()["entry"][0]["resource"]["address"].endswith("/Y12345/STU3/1/gpconnect/structured/fhir")


def test_a_registry_of_ones_own(tmp_path):
    registry = tmp_path / "practices.toml"
    registry.write_text('''[[practice]]
ods = "P11111"
name = "Ours"
asid = "555"
party_key = "P11111-1"
mhs_id = "M1"
supplier = "generic"
manufacturer = "YMOCK1"
structured_root = "gpconnect/fhir"
documents_root = "gpconnect/fhir"
''')
    personas = tmp_path / "personas"
    personas.mkdir()
    shutil.copy(Path(BUILT_IN_PERSONAS) / "9690937278.json", personas)
    app = create_app({"state_dir": str(tmp_path / "s"), "practices": str(registry), "personas": str(personas)})
    assert app.extensions["mockprovider"].settings.ods_code == "P11111"
    client = app.test_client()
    assert migrate(client, "/P11111/STU3/1/gpconnect/fhir", "9690937278", "555").status_code == 200
    # the built-in cast names practices this registry does not have: the start stops, naming file and path
    with pytest.raises(PersonaError) as caught:
        create_app({"state_dir": str(tmp_path / "t"), "practices": str(registry)})
    assert caught.value.path == "$.practice" and "P11111" in caught.value.reason


def test_putting_a_persona_of_an_unregistered_practice_is_400(client):
    body = {"name": {"family": "Tester"}, "gender": "female", "birth_date": "1990-01-01", "practice": "Z99999"}
    r = client.put("/_control/personas/9000000009", json=body)
    assert r.status_code == 400 and r.get_json()["field"] == "$.practice"
    body["practice"] = "Y90001"
    assert client.put("/_control/personas/9000000009", json=body).status_code == 201
    assert migrate(client, Y1, "9000000009", Y1_ASID).status_code == 200


# --- the JWT aud strict check ------------------------------------------------------------------------------
def test_jwt_aud_practice_root(client, control):
    control.update_flags({"jwt_aud": "practice-root"})
    r = migrate(client, h.STRUCTURED, "9690937286", h.PROVIDER_ASID)            # the suite's aud
    assert r.status_code == 400 and "aud" in r.get_json()["issue"][0]["diagnostics"]

    def with_aud(aud, url=h.STRUCTURED, nhs="9690937286", asid=h.PROVIDER_ASID):
        sent = h.migrate_headers(False)
        sent["Authorization"] = "Bearer " + h.token(h.claims(reason="migration", scope="patient/*.read conf/N", aud=aud))
        sent["Ssp-To"] = asid
        return client.post(url + MIGRATE, data=json.dumps(h.migrate_body(nhs)), headers=sent)

    assert with_aud("https://anyhost.example/B82617/STU3/1/gpconnect/structured/fhir").status_code == 200
    assert with_aud("http://localhost/B82617/STU3/1/gpconnect/structured/fhir/").status_code == 200
    assert with_aud("https://anyhost.example/B82617/STU3/1/gpconnect/documents/fhir").status_code == 400
    # a practice with a registered host: exactly that
    assert with_aud("https://gpconnect.y90001.example/Y90001/STU3/1/gpconnect/fhir", Y1, "9690990403",
                    Y1_ASID).status_code == 200
    assert with_aud("https://elsewhere.example/Y90001/STU3/1/gpconnect/fhir", Y1, "9690990403",
                    Y1_ASID).status_code == 400
    client.post("/_control/reset")
    assert migrate(client, h.STRUCTURED, "9690937286", h.PROVIDER_ASID).status_code == 200


# --- the Spine Secure Proxy's refusals ------------------------------------------------------------------------
PROXY = "/https://provider.example"


def ssp_code(r):
    coding = r.get_json()["issue"][0]["details"]["coding"][0]
    assert coding["system"] == "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0"
    assert coding["code"] == str(r.status_code) and coding["display"] == r.get_json()["issue"][0]["diagnostics"]
    return coding["display"]


def test_without_the_flag_the_proxy_form_is_served_as_before(client):
    assert migrate(client, PROXY + h.STRUCTURED, "9690937286", h.PROVIDER_ASID, **{"Ssp-From": "999"}).status_code == 200


def test_ssp_checks_refuse_a_root_sds_does_not_publish(client, control):
    control.update_flags({"ssp_checks": True})
    r = migrate(client, PROXY + "/B82617/STU3/1/gpconnect/structured", "9690937286", h.PROVIDER_ASID)
    assert r.status_code == 400
    text = ssp_code(r)
    assert text.startswith("ENDPOINT_https://provider.example/B82617/STU3/1/gpconnect/structured/fhir_CPAID_")
    assert text.endswith("_VARIES_FROM_TARGETURL_https://provider.example/B82617/STU3/1/gpconnect/structured")
    # a practice with its own host: another host is not the address SDS publishes
    r = migrate(client, "/https://other.example" + Y1, "9690990403", Y1_ASID)
    assert r.status_code == 400 and "gpconnect.y90001.example" in ssp_code(r)
    assert migrate(client, "/https://gpconnect.y90001.example" + Y1, "9690990403", Y1_ASID).status_code == 200
    r = migrate(client, PROXY + "/Z99999/STU3/1/gpconnect/structured/fhir", "9690937286", h.PROVIDER_ASID)
    assert r.status_code == 400


def test_ssp_checks_refuse_an_unregistered_sender(client, control):
    control.update_flags({"ssp_checks": True})
    r = migrate(client, PROXY + h.STRUCTURED, "9690937286", h.PROVIDER_ASID, **{"Ssp-From": "100000000001"})
    assert r.status_code == 403 and ssp_code(r) == "ASID_CHECK_FAILED_MESSAGESENDER_100000000001"
    assert migrate(client, PROXY + h.STRUCTURED, "9690937286", h.PROVIDER_ASID).status_code == 200   # GPCA0001's


def test_ssp_checks_refuse_a_receiver_that_is_not_the_practice(client, control):
    control.update_flags({"ssp_checks": True})
    r = migrate(client, PROXY + h.STRUCTURED, "9690937286", "200000000002")
    assert r.status_code == 403 and ssp_code(r) == "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_200000000002"


def test_an_unreachable_practice_is_502_through_the_proxy_only(client, control):
    url = "/Y90004/STU3/1/gpconnect/structured/fhir"
    r = migrate(client, PROXY + url, "9690990497", "918999190041")
    assert r.status_code == 502
    assert ssp_code(r) == f"ERROR_COMMUNICATING_TO_ENDPOINT_URL_https://provider.example{url}{MIGRATE}"
    assert migrate(client, url, "9690990497", "918999190041").status_code == 200
    control.update_flags({"ssp_checks": True})
    assert migrate(client, PROXY + url, "9690990497", "918999190041").status_code == 502


def test_ssp_refusals_are_journaled_and_reset_restores_the_flag(client, control):
    control.update_flags({"ssp_checks": True})
    migrate(client, PROXY + h.STRUCTURED, "9690937286", h.PROVIDER_ASID, **{"Ssp-From": "100000000001"})
    [row] = client.get("/_control/requests?status=403").get_json()
    assert row["interaction"] == "migrate_structured" and row["ssp"].startswith("ASID_CHECK_FAILED")
    client.post("/_control/reset")
    assert migrate(client, PROXY + h.STRUCTURED, "9690937286", h.PROVIDER_ASID,
                   **{"Ssp-From": "100000000001"}).status_code == 200


def test_a_direct_request_never_meets_the_proxy(client, control):
    control.update_flags({"ssp_checks": True})
    assert migrate(client, h.STRUCTURED, "9690937286", h.PROVIDER_ASID, **{"Ssp-From": "100000000001"}).status_code == 200


def test_fault_rules_match_a_practice_by_ods(client):
    client.post("/_control/faults", json={"kind": "error", "code": "NO_RECORD_FOUND", "match": {"ods": "Y90001"}})
    assert code(migrate(client, Y1, "9690990403", Y1_ASID)) == "NO_RECORD_FOUND"
    assert migrate(client, h.STRUCTURED, "9690937286", h.PROVIDER_ASID).status_code == 200
