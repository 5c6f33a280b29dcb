"""Absolute URLs (DocumentReference.content.attachment.url) use the host the consumer called:
MOCKPROVIDER_PUBLIC_BASE_URL wins; else the provider host of the Spine-proxy form; else
X-Forwarded-Proto / X-Forwarded-Host, only from a trusted proxy; else the request's own host."""
import json

import pytest

from mockprovider.app import create_app
from mockprovider.config import SettingsError
from tests import helpers as h

MIGRATE = "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
DOCS = "/B82617/STU3/1/gpconnect/documents/fhir"


def attachment_urls(client, prefix="", **headers):
    r = client.post(prefix + MIGRATE, headers=dict(h.migrate_headers(), **headers), data=json.dumps(h.migrate_body()))
    assert r.status_code == 200, r.data[:300]
    return [c["attachment"]["url"] for e in r.get_json()["entry"] if e["resource"]["resourceType"] == "DocumentReference"
            for c in e["resource"]["content"] if "url" in c["attachment"]]


def make_client(tmp_path, **overrides):
    return create_app({"state_dir": str(tmp_path / "state"), **overrides}).test_client()


def test_the_request_host_by_default(client):
    urls = attachment_urls(client)
    assert urls and all(u.startswith(f"http://localhost{DOCS}/Binary/") for u in urls)


def test_spine_proxy_form_gives_the_proxied_provider_host(client):
    urls = attachment_urls(client, prefix="/https://provider.example:443")
    assert urls and all(u.startswith(f"https://provider.example:443{DOCS}/Binary/") for u in urls)
    # the assurance suite puts the proxy prefix in front of the URL and calls it
    url = urls[0]
    r = client.get("/" + url, headers=h.headers(h.MIGRATE_DOCUMENT, h.claims()))
    assert r.status_code == 200 and r.get_json()["resourceType"] == "Binary"


def test_forwarded_headers_are_ignored_unless_the_peer_is_trusted(client, tmp_path):
    forwarded = {"X-Forwarded-Host": "gateway.example:8443", "X-Forwarded-Proto": "https"}
    assert all(u.startswith("http://localhost/") for u in attachment_urls(client, **forwarded))
    other = make_client(tmp_path, trusted_proxies="10.0.0.0/8")        # the test client's peer is 127.0.0.1
    assert all(u.startswith("http://localhost/") for u in attachment_urls(other, **forwarded))


@pytest.mark.parametrize("trusted", ["127.0.0.1", "127.0.0.0/8, ::1", "*"])
def test_forwarded_headers_from_a_trusted_proxy(tmp_path, trusted):
    client = make_client(tmp_path, trusted_proxies=trusted)
    urls = attachment_urls(client, **{"X-Forwarded-Host": "gateway.example:8443, inner", "X-Forwarded-Proto": "https"})
    assert urls and all(u.startswith(f"https://gateway.example:8443{DOCS}/Binary/") for u in urls)
    only_proto = attachment_urls(client, **{"X-Forwarded-Proto": "https"})
    assert all(u.startswith("https://localhost/") for u in only_proto)
    bad_host = attachment_urls(client, **{"X-Forwarded-Host": "evil.example/path?x", "X-Forwarded-Proto": "gopher"})
    assert all(u.startswith("http://localhost/") for u in bad_host)


def test_public_base_url_still_wins(tmp_path):
    client = make_client(tmp_path, trusted_proxies="*", public_base_url="https://mock.example")
    for urls in (attachment_urls(client, **{"X-Forwarded-Host": "gateway.example"}),
                 attachment_urls(client, prefix="/https://provider.example")):
        assert urls and all(u.startswith(f"https://mock.example{DOCS}/Binary/") for u in urls)


def test_a_bad_trusted_proxies_setting_is_one_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="trusted_proxies"):
        make_client(tmp_path, trusted_proxies="10.0.0.0/8, not-an-ip")
