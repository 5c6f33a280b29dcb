"""The request gate against errors.md §3 (generic rows) and jwt.md (every JWT rule).

Driven through GET {structured root}/metadata, the simplest interaction behind the gate.
"""
import time

import pytest

from tests import helpers as h
from tests.spec_tables import assert_outcome

META = h.STRUCTURED + "/metadata"


def get(client, path=META, **kw):
    return client.get(path, **kw)


def test_valid_request_passes(client):
    r = get(client, headers=h.metadata_headers())
    assert r.status_code == 200
    assert r.get_json()["resourceType"] == "CapabilityStatement"
    assert r.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert "no-store" in r.headers["Cache-Control"]


# --- errors.md §3: headers ---------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID"])
def test_missing_ssp_header_is_bad_request(client, header):
    assert_outcome(get(client, headers=h.metadata_headers(**{header: None})), "BAD_REQUEST")


@pytest.mark.parametrize("header,value", [
    ("Ssp-TraceID", "not-a-uuid"),
    ("Ssp-From", "not an asid"),
    ("Ssp-To", "200000000359"),   # not the provider's ASID (SSP.feature "To ASID - Invalid")
])
def test_invalid_ssp_header_is_bad_request(client, header, value):
    assert_outcome(get(client, headers=h.metadata_headers(**{header: value})), "BAD_REQUEST")


@pytest.mark.parametrize("interaction", [
    h.METADATA_DOCUMENTS,                       # another endpoint's id
    h.METADATA_STRUCTURED.upper(),              # different case
    h.METADATA_STRUCTURED + " ",                # trailing space
    h.MIGRATE_STRUCTURED,
])
def test_interaction_id_must_match_endpoint(client, interaction):
    assert_outcome(get(client, headers=h.metadata_headers(**{"Ssp-InteractionID": interaction})), "BAD_REQUEST")


@pytest.mark.parametrize("auth", [None, "Basic abc", "Bearer", "Bearer a.b", "Bearer {}.{}.".format("%%%", "%%%")])
def test_authorization_missing_or_malformed(client, auth):
    assert_outcome(get(client, headers=h.metadata_headers(Authorization=auth)), "BAD_REQUEST")


def test_wrong_verb_on_known_path_is_bad_request(client):
    assert_outcome(client.post(META, headers=h.metadata_headers(), json={}), "BAD_REQUEST")
    assert_outcome(client.get(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord",
                              headers=h.migrate_headers()), "BAD_REQUEST")
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        assert_outcome(client.open(META, method=method, headers=h.metadata_headers()), "BAD_REQUEST")


@pytest.mark.parametrize("path", [
    h.STRUCTURED + "/metadatas", h.STRUCTURED + "/Metadata", h.STRUCTURED + "/Patient/$gpc.foo",
    h.DOCUMENTS + "/binary/abc", "/", "/favicon.ico", "/B82617/STU3/1/other/fhir/metadata",
    "/A00001/STU3/1/gpconnect/structured/fhir/metadata",
])
def test_unknown_path_is_not_implemented(client, path):
    for method in ("GET", "POST", "PUT"):
        assert_outcome(client.open(path, method=method, headers=h.metadata_headers()), "NOT_IMPLEMENTED")


def test_spine_proxy_prefix_is_served(client):
    r = get(client, "/https://some.host:443" + META, headers=h.metadata_headers())
    assert r.status_code == 200, r.data


@pytest.mark.parametrize("accept", ["text/html", "application/pdf"])
def test_unsupported_accept_is_415(client, accept):
    assert_outcome(get(client, headers=h.metadata_headers(Accept=accept)), "UNSUPPORTED_MEDIA_TYPE")


def test_format_parameter_overrides_accept(client):
    ok = get(client, META + "?_format=application/fhir+json", headers=h.metadata_headers(Accept="application/fhir+xml"))
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    xml = get(client, META + "?_format=xml", headers=h.metadata_headers())
    assert xml.status_code == 200 and xml.headers["Content-Type"] == "application/fhir+xml;charset=utf-8"
    assert_outcome(get(client, META + "?_format=text/html", headers=h.metadata_headers()), "UNSUPPORTED_MEDIA_TYPE")


def test_json_is_the_default_format(client):
    assert get(client, headers=h.metadata_headers(Accept=None)).status_code == 200


def test_unsupported_content_type_on_post_is_415(client):
    r = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord", data="x",
                    headers={**h.migrate_headers(), "Content-Type": "text/plain"})
    assert_outcome(r, "UNSUPPORTED_MEDIA_TYPE")


def test_oversized_body_is_an_outcome(client):
    r = client.post(h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord", data=b"x" * (1024 * 1024 + 1),
                    headers=h.migrate_headers())
    assert_outcome(r, "BAD_REQUEST")


# --- jwt.md ----------------------------------------------------------------------------------------------
def meta_with(payload=None, header=None, **claim_changes):
    payload = payload if payload is not None else h.claims(scope="organization/*.read", **claim_changes)
    return h.metadata_headers(Authorization="Bearer " + h.token(payload, header))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "reason_for_request", "requested_scope",
                                   "requesting_device", "requesting_organization", "requesting_practitioner"])
def test_each_claim_missing_is_bad_request(client, claim):
    assert_outcome(get(client, headers=meta_with(**{claim: None})), "BAD_REQUEST")


def test_null_claim_is_bad_request(client):
    payload = h.claims(scope="organization/*.read")
    payload["iss"] = None
    assert_outcome(get(client, headers=meta_with(payload)), "BAD_REQUEST")


def test_empty_aud_is_bad_request(client):
    assert_outcome(get(client, headers=meta_with(aud="")), "BAD_REQUEST")


def test_not_base64url_token_is_bad_request(client):
    raw = '{"alg":"none"}.{"iss":"x"}.'
    assert_outcome(get(client, headers=h.metadata_headers(Authorization="Bearer " + raw)), "BAD_REQUEST")


def test_signed_token_or_other_alg_is_bad_request(client):
    payload = h.claims(scope="organization/*.read")
    assert_outcome(get(client, headers=meta_with(payload, header={"alg": "HS256", "typ": "JWT"})), "BAD_REQUEST")
    signed = h.token(payload)[:-1] + ".c2ln"
    assert_outcome(get(client, headers=h.metadata_headers(Authorization="Bearer " + signed)), "BAD_REQUEST")


@pytest.mark.parametrize("lifetime", [301, 299, -1])
def test_lifetime_must_be_exactly_300(client, lifetime):
    now = int(time.time())
    assert_outcome(get(client, headers=meta_with(iat=now, exp=now + lifetime)), "BAD_REQUEST")


def test_expired_token_is_bad_request(client):
    iat = int(time.time()) - 600
    assert_outcome(get(client, headers=meta_with(iat=iat, exp=iat + 300)), "BAD_REQUEST")


def test_future_iat_is_tolerated(client):
    iat = int(time.time()) + 200
    assert get(client, headers=meta_with(iat=iat, exp=iat + 300)).status_code == 200


@pytest.mark.parametrize("value", ["1700000000", 0, 1.5, True])
def test_exp_and_iat_must_be_integers(client, value):
    assert_outcome(get(client, headers=meta_with(iat=value)), "BAD_REQUEST")


@pytest.mark.parametrize("scope", ["badScope", "patient/*.read", "organization/*.read conf/Y",
                                   "organization/*.read patient/*.read"])
def test_bad_or_wrong_scope_is_bad_request(client, scope):
    assert_outcome(get(client, headers=meta_with(requested_scope=scope)), "BAD_REQUEST")


def test_bad_reason_is_bad_request(client):
    assert_outcome(get(client, headers=meta_with(reason_for_request="badReason")), "BAD_REQUEST")


def test_sub_must_equal_practitioner_id(client):
    assert_outcome(get(client, headers=meta_with(sub="2")), "BAD_REQUEST")


@pytest.mark.parametrize("claim,resource", [("requesting_device", "Device"),
                                            ("requesting_practitioner", "Practitioner"),
                                            ("requesting_organization", "Organization")])
def test_wrong_resource_type_is_invalid_resource(client, claim, resource):
    payload = h.claims(scope="organization/*.read")
    payload[claim] = dict(payload[claim], resourceType="InvalidResourceType")
    assert_outcome(get(client, headers=meta_with(payload)), "INVALID_RESOURCE")


def test_unknown_element_in_device_is_invalid_resource(client):
    payload = h.claims(scope="organization/*.read")
    payload["requesting_device"]["invalidField"] = "x"
    assert_outcome(get(client, headers=meta_with(payload)), "INVALID_RESOURCE")


def test_unk_identifiers_and_missing_optional_identifiers_are_accepted(client):
    payload = h.claims(scope="organization/*.read")
    payload["requesting_practitioner"]["identifier"] = [
        {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "UNK"}]
    assert get(client, headers=meta_with(payload)).status_code == 200


# --- lenient mode --------------------------------------------------------------------------------------
def test_lenient_accepts_missing_from_and_to_and_relaxed_aud(client, control):
    assert_outcome(get(client, headers=h.metadata_headers(**{"Ssp-From": None})), "BAD_REQUEST")
    control.update_flags({"validation": "lenient"})
    lenient = h.metadata_headers(**{"Ssp-From": None, "Ssp-To": None,
                                    "Authorization": "Bearer " + h.token(h.claims(scope="organization/*.read", aud=None))})
    assert get(client, headers=lenient).status_code == 200
    # a wrong Ssp-To is still wrong
    assert_outcome(get(client, headers=h.metadata_headers(**{"Ssp-To": "1"})), "BAD_REQUEST")


def test_error_display_guidance_flag(client, control):
    control.update_flags({"error_display": "guidance"})
    body = get(client, headers=h.metadata_headers(**{"Ssp-To": None})).get_json()
    assert body["issue"][0]["details"]["coding"][0]["display"] == "Submitted request is malformed/invalid"
