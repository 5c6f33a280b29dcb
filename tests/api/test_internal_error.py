"""errors.md §3: an unexpected exception -> 500 INTERNAL_SERVER_ERROR, diagnostics, never a trace."""
from mockprovider.http import fhir_views
from tests import helpers as h
from tests.spec_tables import assert_outcome


def test_unexpected_exception_is_an_outcome(client, monkeypatch):
    def boom(call):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setitem(fhir_views.HANDLERS, "metadata_structured", boom)
    r = client.get(h.STRUCTURED + "/metadata", headers=h.metadata_headers())
    body = assert_outcome(r, "INTERNAL_SERVER_ERROR")
    text = r.get_data(as_text=True)
    assert "Traceback" not in text and "secret internal detail" not in text and "<html" not in text.lower()
    assert body["issue"][0]["diagnostics"]
