"""Mutual TLS under gunicorn (`mockprovider serve --certfile --keyfile --ca-certs`), and HSTS.

The spec: providers accept calls only over mutual TLS 1.2 and use HSTS on TLS (documents.md,
transport rules); the assurance suite's Security.feature expects a missing, expired or wrong-CA
client certificate to fail at the TLS layer or close the connection (assurance-suite.md §5).
A throw-away CA and certificates come from trustme.
"""
import datetime
import http.client
import ssl

import pytest
import trustme

from mockprovider.config import Settings
from mockprovider.server import gunicorn_options
from tests import helpers as h
from tests.reliability.liveserver import LiveServer, client_context

pytestmark = pytest.mark.live

HANDSHAKE_FAILED = (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
HSTS = "Strict-Transport-Security"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server_cert.private_key_pem.write_to_path(str(paths["key"]))
    return ca, server_cert, paths, folder


@pytest.fixture(scope="module")
def mtls_server(pki):
    ca, _, paths, folder = pki
    client = ca.issue_cert("consumer.example", common_name="consumer")
    with LiveServer(folder / "state-mtls", env={
        "MOCKPROVIDER_TLS_CERTFILE": str(paths["cert"]), "MOCKPROVIDER_TLS_KEYFILE": str(paths["key"]),
        "MOCKPROVIDER_TLS_CA_CERTS": str(paths["ca"]),
    }, tls_client_context=client_context(ca, client)) as server:
        yield server


def test_valid_client_certificate_gets_200_with_hsts(mtls_server):
    status, headers, body = mtls_server.request("GET", h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    assert status == 200, body[:300]
    assert b'"CapabilityStatement"' in body
    assert headers[HSTS].startswith("max-age=")
    assert int(headers[HSTS].split("=")[1]) >= 31536000


def test_hsts_on_tls_errors_and_control_api_too(mtls_server):
    status, headers, _ = mtls_server.request("GET", h.STRUCTURED + "/metadata")   # no GP Connect headers
    assert status == 400 and HSTS in headers
    status, headers, _ = mtls_server.request("GET", "/_control/health")
    assert status == 200 and HSTS in headers


def _fails_handshake(server, context):
    with pytest.raises(HANDSHAKE_FAILED):
        server.request("GET", "/_control/health", context=context)
    # ... and the server is still serving valid clients afterwards.
    assert server.request("GET", "/_control/health")[0] == 200


def test_no_client_certificate_fails_the_handshake(mtls_server, pki):
    ca = pki[0]
    _fails_handshake(mtls_server, client_context(ca))


def test_client_certificate_from_another_ca_fails_the_handshake(mtls_server, pki):
    ca, other = pki[0], trustme.CA()
    _fails_handshake(mtls_server, client_context(ca, other.issue_cert("consumer.example")))


def test_expired_client_certificate_fails_the_handshake(mtls_server, pki):
    ca = pki[0]
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
    expired = ca.issue_cert("consumer.example", not_before=past - datetime.timedelta(days=365), not_after=past)
    _fails_handshake(mtls_server, client_context(ca, expired))


def test_plain_http_on_the_tls_port_is_closed_without_an_answer(mtls_server):
    answer = mtls_server.raw(b"GET /_control/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200" not in answer and b"ok" not in answer


def test_tls_without_ca_needs_no_client_certificate(pki):
    ca, _, paths, folder = pki
    with LiveServer(folder / "state-tls", env={
        "MOCKPROVIDER_TLS_CERTFILE": str(paths["cert"]), "MOCKPROVIDER_TLS_KEYFILE": str(paths["key"]),
    }, tls_client_context=client_context(ca)) as server:
        status, headers, _ = server.request("GET", h.STRUCTURED + "/metadata", headers=h.metadata_headers())
        assert status == 200 and HSTS in headers


def test_cli_options_configure_tls_exactly(pki):
    """--certfile/--keyfile/--ca-certs reach gunicorn: client certificate required, TLS 1.2 minimum."""
    _, _, paths, _ = pki
    settings = Settings.from_env({}, tls_certfile=str(paths["cert"]), tls_keyfile=str(paths["key"]),
                                 tls_ca_certs=str(paths["ca"]))
    options = gunicorn_options(settings)
    assert options["cert_reqs"] == ssl.CERT_REQUIRED and options["ca_certs"] == str(paths["ca"])
    context = options["ssl_context"](None, lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    plain = gunicorn_options(Settings.from_env({}))
    assert "certfile" not in plain and "cert_reqs" not in plain
