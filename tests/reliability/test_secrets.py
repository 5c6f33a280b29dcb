"""Secrets: the control token is checked in constant time and exactly; the request journal never
records the control API's bearer token nor the raw JWT of a FHIR request's Authorization header."""
import hmac
import json

import pytest

from mockprovider.app import create_app
from tests import helpers as h

TOKEN = "s3cret-control-token-0123456789"


@pytest.fixture
def app(tmp_path):
    return create_app({"state_dir": str(tmp_path / "state"), "control_token": TOKEN})


@pytest.mark.parametrize("sent", [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
                                  f"Bearer {TOKEN} ", f"bearer{TOKEN}", TOKEN, f"Basic {TOKEN}",
                                  f"Bearer {TOKEN.upper()}", "Bearer \u00e9"])
def test_control_calls_need_exactly_the_token(client, sent):
    headers = {} if sent is None else {"Authorization": sent}
    response = client.get("/_control/state", headers=headers)
    assert response.status_code == 401
    assert TOKEN not in response.get_data(as_text=True)


def test_the_right_token_passes_and_health_needs_none(client):
    assert client.get("/_control/state", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/_control/health").status_code == 200


def test_the_token_is_compared_in_constant_time(client, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.get("/_control/flags", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/_control/flags", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert len(calls) == 2


def test_the_journal_never_records_tokens(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    payloads = [h.claims(), h.claims(aud=None), h.claims(iat=1, exp=301)]
    jwts = [h.token(p) for p in payloads] + [h.token(h.claims(), header={"alg": "HS256"}) + "c2ln"]
    for jwt in jwts:
        client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers(Authorization="Bearer " + jwt))
        client.get(h.DOCUMENTS + "/Binary/x", headers=h.headers(h.RETRIEVE_DOCUMENT, Authorization="Bearer " + jwt))
    client.get(h.STRUCTURED + "/metadata", headers={**h.metadata_headers(), "Authorization": "Bearer " + TOKEN})
    client.patch("/_control/flags", headers=auth, json={"validation": "lenient"})
    journal = client.get("/_control/requests", headers=auth)
    assert journal.status_code == 200
    text = json.dumps(journal.get_json())
    assert len(journal.get_json()) >= len(jwts) * 2
    assert TOKEN not in text
    for jwt in jwts:
        header_part, payload_part = jwt.split(".")[:2]
        assert header_part not in text and payload_part not in text
    assert "Authorization" not in text and "Bearer" not in text
