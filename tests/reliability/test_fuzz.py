"""Property-based fuzzing of every FHIR request the mock takes (Flask test client, for volume).

Every answer keeps the property in tests/reliability/fuzzing.py: a success for a valid request, or a
spec-exact OperationOutcome with a 4xx status (501 NOT_IMPLEMENTED for paths it does not serve);
never a 500, never HTML. 2,000+ requests here (derandomised); ``make fuzz`` runs many more.
Transport-level cases (raw bytes, invalid UTF-8 on the wire) are in test_fuzz_live.py.
"""
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockprovider.app import create_app
from tests import helpers as h
from tests.reliability import fuzzing as fz

EXAMPLES = {"headers": 600, "jwt": 500, "body": 500, "transport": 400}   # 2,000 in make test


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app({"state_dir": str(tmp_path_factory.mktemp("fuzz-state"))})


@pytest.fixture(scope="module")
def fire(app):
    client = app.test_client()
    control = app.extensions["mockprovider"].control

    def fire(method, path, headers, body, validation="strict"):
        if control.flags()["validation"] != validation:
            control.update_flags({"validation": validation})
        # A real server hands the app header bytes decoded as latin-1: do the same with any text.
        wire = {k: v if all(ord(c) < 256 for c in v) else v.encode("utf-8", "surrogatepass").decode("latin-1")
                for k, v in headers.items()}
        # PATH_INFO as a WSGI server makes it (percent-decoded bytes as latin-1), set directly so the
        # test client does not read '//x' as a host name or tidy the path first.
        raw_path, _, query = path.partition("?")
        path_info = unquote_to_bytes(raw_path.encode("utf-8", "surrogatepass")).decode("latin-1")
        response = client.open("/", method=method, headers=wire, data=body, query_string=query,
                               environ_overrides={"PATH_INFO": path_info})
        code = fz.check_fhir_answer(method, response.status_code, response.headers, response.get_data())
        fz.STATS[(path.split("/")[-1][:20] if response.status_code < 300 else code)] += 1
        return response, code

    return fire


KNOWN = None


def _known():
    """(NHS numbers, ids a path may name: small documents' Binary ids and patient ids) of the cast."""
    global KNOWN
    if KNOWN is None:
        from mockprovider.config import Settings
        from mockprovider.personas import documents, ids
        from mockprovider.personas.store import PersonaStore
        store = PersonaStore.load(Settings.from_env({}).personas)
        numbers = sorted(p.nhs_number for p in store)
        small_docs = sorted(doc_id for doc_id, (_, doc) in documents.index(store).by_id.items()
                            if doc.size <= 256 * 1024)   # big ones are the soak's and bench's business
        KNOWN = numbers, small_docs + [ids.patient_id(n) for n in numbers]
    return KNOWN


def nhs_and_doc():
    numbers, path_ids = _known()
    return st.tuples(fz.nhs_numbers(numbers), st.one_of(st.sampled_from(path_ids), fz.doc_ids))


validation = st.sampled_from(["strict", "strict", "lenient"])


def test_every_valid_base_request_is_answered_by_the_property(fire):
    """The un-mutated requests: metadata succeeds; the rest succeed or answer from the table."""
    for kind in fz.KINDS:
        method, path, headers, body = fz.base_request(kind, _known()[0][0], _known()[1][0])
        response, code = fire(method, path, headers, body)
        if kind.startswith("metadata"):
            assert response.status_code == 200, response.data[:300]


@fz.fuzz_settings(EXAMPLES["headers"])
@given(kind=st.sampled_from(fz.KINDS), ids=nhs_and_doc(), data=st.data(), mode=validation)
def test_fuzzed_headers(fire, kind, ids, data, mode):
    method, path, headers, body = fz.base_request(kind, *ids)
    fire(method, path, data.draw(fz.mutated_headers(headers)), body, mode)


@fz.fuzz_settings(EXAMPLES["jwt"])
@given(kind=st.sampled_from(fz.KINDS), ids=nhs_and_doc(), data=st.data(), mode=validation)
def test_fuzzed_jwts(fire, kind, ids, data, mode):
    method, path, headers, body = fz.base_request(kind, *ids)
    reason = "migration" if kind.startswith("migrate") else "directcare"
    scope = "organization/*.read" if kind.startswith("metadata") else "patient/*.read"
    headers["Authorization"] = data.draw(fz.jwt_values(h.claims(reason=reason, scope=scope)))
    fire(method, path, headers, body, mode)


@fz.fuzz_settings(EXAMPLES["body"])
@given(nhs=fz.nhs_numbers(_known()[0]), data=st.data(), mode=validation,
       root=st.sampled_from([h.STRUCTURED, h.SINGLE]))
def test_fuzzed_parameters_bodies(fire, nhs, data, mode, root):
    _, path, headers, _ = fz.base_request("migrate_structured", nhs, "x")
    path = path.replace(h.STRUCTURED, root)
    if data.draw(st.booleans()):
        headers["Content-Type"] = data.draw(fz.media_types)
    fire("POST", path, headers, data.draw(fz.parameters_bodies(nhs)), mode)


@fz.fuzz_settings(EXAMPLES["transport"])
@given(kind=st.sampled_from(fz.KINDS), ids=nhs_and_doc(), data=st.data(), mode=validation,
       method=fz.methods)
def test_fuzzed_paths_methods_and_media_types(fire, kind, ids, data, mode, method):
    _, path, headers, body = fz.base_request(kind, *ids)
    path = data.draw(fz.mutated_paths(path))
    if data.draw(st.booleans()):
        headers[data.draw(st.sampled_from(["Accept", "Content-Type"]))] = data.draw(fz.media_types)
    if data.draw(st.booleans()):
        path += ("&" if "?" in path else "?") + "_format=" + data.draw(st.sampled_from(
            ["json", "xml", "application/fhir+json", "application/fhir xml", "%00", "", "text/html"]))
    if data.draw(st.booleans()):
        body = data.draw(st.binary(max_size=300))
    fire(method, path, headers, body, mode)


def test_still_answering_after_the_fuzz(fire):
    response, _ = fire("GET", h.STRUCTURED + "/metadata", h.metadata_headers(), None)
    assert response.status_code == 200


def test_the_fuzz_reached_successes_and_errors():
    """Guard against a fuzzer that only ever hits one wall: both successes and varied errors occur."""
    successes = sum(n for key, n in fz.STATS.items() if key and key not in fz.SPEC_ERRORS)
    errors = {key for key in fz.STATS if key in fz.SPEC_ERRORS}
    print("fuzz answers:", dict(fz.STATS.most_common()))
    assert successes >= 50, fz.STATS
    assert {"BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE", "NOT_IMPLEMENTED", "INVALID_RESOURCE"} <= errors, fz.STATS
