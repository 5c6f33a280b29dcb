"""Hypothesis strategies for hostile GP Connect requests, and the property every answer must keep.

The property (issue 8): every response on a FHIR path is either a success for a valid request or a
spec-exact GPConnect-OperationOutcome-1 with a 4xx status (or 501 NOT_IMPLEMENTED, the table's
answer for a path the provider does not serve); never 500 unless a fault was injected.

Shared by tests/reliability/test_fuzz.py (``make test``: a fixed number of examples, derandomised)
and ``make fuzz`` (the same tests, ``MOCKPROVIDER_FUZZ_SCALE`` times as many examples).
"""
from __future__ import annotations

import base64
import collections
import json
import os
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests import helpers as h
from tests.spec_tables import ERRORS, OO_PROFILE, SPINE_SYSTEM

STATS = collections.Counter()   # answers seen (Spine code, or the path's last segment on success)
SCALE = max(1, int(os.environ.get("MOCKPROVIDER_FUZZ_SCALE", "1")))

# The rest of the Spine table (errors.md §2), CodeSystem displays; the fuzzer may meet any row.
SPEC_ERRORS = {
    **ERRORS,
    "INVALID_IDENTIFIER_SYSTEM": (400, "value", "Invalid identifier system"),
    "INVALID_IDENTIFIER_VALUE": (400, "value", "Invalid identifier value"),
    "INVALID_PATIENT_DEMOGRAPHICS": (400, "business-rule", "Invalid patient demographics"),
    "ORGANISATION_NOT_FOUND": (404, "not-found", "Organisation not found"),
    "PRACTITIONER_NOT_FOUND": (404, "not-found", "Practitioner not found"),
    "NO_ORGANISATIONAL_CONSENT": (403, "forbidden", "Organisation has not provided consent to share data"),
    "DUPLICATE_REJECTED": (409, "duplicate", "Create would lead to creation of a duplicate resource"),
    "REFERENCE_NOT_FOUND": (422, "invalid", "Reference not found"),
}
FHIR_JSON = "application/fhir+json;charset=utf-8"
FHIR_XML = "application/fhir+xml;charset=utf-8"


def fuzz_settings(examples: int):
    """Deterministic in CI: derandomised, no example database, no deadline, bounded examples."""
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# --- the property ------------------------------------------------------------------------------------
class PropertyViolation(AssertionError):
    pass


def check_fhir_answer(method: str, status: int, headers, body: bytes, fault_injected=False) -> str:
    """Assert the property for one answer on a FHIR path; returns the Spine code ('' on success)."""
    def fail(why):
        raise PropertyViolation(f"{why}: {method} -> {status} {body[:400]!r}")

    get = headers.get
    if get("Content-Type") not in (FHIR_JSON, FHIR_XML):
        fail(f"Content-Type {get('Content-Type')!r} is not FHIR JSON or FHIR XML")
    if "no-store" not in (get("Cache-Control") or ""):
        fail("no Cache-Control: no-store")
    if status >= 500 and status != 501 and not fault_injected:
        fail("server error without an injected fault")
    if method == "HEAD":
        return ""
    try:
        resource = json.loads(body) if get("Content-Type") == FHIR_JSON else _xml_as_json(body)
    except (ValueError, SyntaxError):
        fail("body is not JSON (or not XML)")
    if not isinstance(resource, dict) or "resourceType" not in resource:
        fail("body is not a FHIR resource")
    if 200 <= status < 300:
        if resource["resourceType"] == "OperationOutcome":
            fail("a success carries an OperationOutcome")
        return ""
    if not (400 <= status < 500 or status == 501 or fault_injected):
        fail("error status outside 4xx")
    if resource["resourceType"] != "OperationOutcome" or resource.get("meta", {}).get("profile") != [OO_PROFILE]:
        fail("error is not a GPConnect-OperationOutcome-1")
    issues = resource.get("issue") or []
    if len(issues) != 1 or issues[0].get("severity") != "error" or not issues[0].get("diagnostics"):
        fail("not exactly one error issue with diagnostics")
    codings = issues[0].get("details", {}).get("coding") or []
    if len(codings) != 1 or codings[0].get("system") != SPINE_SYSTEM:
        fail("not exactly one Spine coding")
    code = codings[0].get("code")
    if code not in SPEC_ERRORS:
        fail(f"code {code!r} is not in the Spine table")
    expected_status, issue_type, display = SPEC_ERRORS[code]
    if (status, issues[0].get("code"), codings[0].get("display")) != (expected_status, issue_type, display):
        fail(f"{code}: status/issue type/display differ from the table ({expected_status}, {issue_type}, {display})")
    if code == "INTERNAL_SERVER_ERROR" and not fault_injected:
        fail("INTERNAL_SERVER_ERROR without an injected fault")
    return code


def _xml_as_json(body: bytes) -> dict:
    """The few fields the property reads, from an XML answer (through the tests' neutral reader)."""
    from tests.fhir_xml import neutral_xml

    def plain(node):
        if isinstance(node, dict):
            return {k: (plain(v[0]) if k not in ("issue", "coding", "profile") else [plain(x) for x in v])
                    for k, v in node.items()}
        return node
    (name, (fields,)), = neutral_xml(body).items()
    return dict(plain(fields), resourceType=name)


# --- building blocks -------------------------------------------------------------------------------------
def b64(raw: bytes, urlsafe=True, pad=False) -> str:
    out = (base64.urlsafe_b64encode if urlsafe else base64.standard_b64encode)(raw).decode()
    return out if pad else out.rstrip("=")


# JSON values of every type, including the awkward ones (huge ints, NaN/Infinity, deep lists).
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\ud800", "directcare", "migration", "patient/*.read", "conf/R",
                     "9690937286", "Device", "Organization", "Practitioner", "true", "1e999"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)

# Header text a client could send (no CR/LF: those cannot be expressed inside one header value).
header_text = st.one_of(
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60),
    st.text(max_size=40).map(lambda s: s.replace("\r", "").replace("\n", "")),
    st.sampled_from(["", " ", "\x00", "null", "Bearer", "Bearer ", "application/fhir+json",
                     "application/fhir+xml", "*/*", "text/html", "x" * 5000]),
)

MEDIA_TYPES = ["application/fhir+json", "application/fhir+json;charset=utf-8", "application/json+fhir",
               "application/json", "application/fhir+xml", "application/xml", "text/xml", "text/plain",
               "*/*", "application/*", "", ";", ",", "application/fhir+json;q=0", "application/fhir+json, text/*",
               "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
               "APPLICATION/FHIR+JSON", "application/fhir+json;charset=latin-1", "json", "xml"]
media_types = st.one_of(st.sampled_from(MEDIA_TYPES), header_text)


def nhs_numbers(known):
    """Known personas' numbers, valid-checksum strangers, and every kind of not-a-number."""
    def with_check_digit(nine):
        total = sum(int(d) * (10 - i) for i, d in enumerate(nine))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        return nine + str(check) if check != 10 else nine + "0"
    return st.one_of(
        st.sampled_from(sorted(known) or ["9690937286"]),
        st.from_regex(r"\A[0-9]{9}\Z").map(with_check_digit),
        st.from_regex(r"\A[0-9]{0,14}\Z"),
        st.sampled_from(["", " 9690937286", "969 093 7286", "969-093-7286", "٩٦٩٠٩٣٧٢٨٦", "0000000000",
                         "9999999999", "1" * 500, "9690937286\x00", "null", "-969093728"]),
        st.text(max_size=20),
    )


# --- the valid request of each interaction --------------------------------------------------------------
def base_request(kind: str, nhs: str, doc_id: str):
    """(method, path, headers, body bytes or None) of a valid request for one interaction kind."""
    if kind == "metadata_structured":
        return "GET", h.STRUCTURED + "/metadata", h.metadata_headers(), None
    if kind == "metadata_documents":
        return "GET", h.DOCUMENTS + "/metadata", h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read")), None
    if kind == "migrate_structured":
        return "POST", h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord", h.migrate_headers(), \
            json.dumps(h.migrate_body(nhs)).encode()
    if kind == "migrate_document":
        return "GET", h.DOCUMENTS + f"/Binary/{doc_id}", \
            h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", scope="patient/*.read")), None
    if kind == "retrieve_document":
        return "GET", h.DOCUMENTS + f"/Binary/{doc_id}", h.headers(h.RETRIEVE_DOCUMENT, h.claims()), None
    if kind == "find_patient":
        return "GET", h.DOCUMENTS + f"/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}", \
            h.headers(h.FIND_PATIENT, h.claims()), None
    if kind == "read_patient":
        return "GET", h.DOCUMENTS + f"/Patient/{doc_id}", h.headers(READ_PATIENT, h.claims()), None
    if kind == "search_documents":
        return "GET", h.DOCUMENTS + f"/Patient/{doc_id}/DocumentReference?" + SEARCH_INCLUDES, \
            h.headers(h.SEARCH_DOCUMENTS, h.claims()), None
    raise KeyError(kind)


# The search's mandatory _include/_revinclude parameters (documents.md).
SEARCH_INCLUDES = ("_include=DocumentReference:subject:Patient&_include=DocumentReference:custodian:Organization"
                   "&_include=DocumentReference:author:Organization&_include=DocumentReference:author:Practitioner"
                   "&_revinclude:recurse=PractitionerRole:practitioner")
KINDS = ["metadata_structured", "metadata_documents", "migrate_structured", "migrate_document",
         "retrieve_document", "find_patient", "read_patient", "search_documents"]
READ_PATIENT = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:patient-1"
doc_ids = st.one_of(st.from_regex(r"\A[A-Za-z0-9\-.]{1,64}\Z"), st.text(max_size=80),
                    st.sampled_from(["x", "-", ".", "..", "a" * 65, "%00", "%ff"]))


# --- mutations --------------------------------------------------------------------------------------------
GATE_HEADERS = ["Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID", "Authorization", "Accept",
                "Content-Type"]
INTERACTION_IDS = [h.MIGRATE_STRUCTURED, h.MIGRATE_DOCUMENT, h.RETRIEVE_DOCUMENT, h.METADATA_STRUCTURED,
                   h.METADATA_DOCUMENTS, h.FIND_PATIENT, h.SEARCH_DOCUMENTS, READ_PATIENT]


@st.composite
def mutated_headers(draw, headers: dict) -> dict:
    headers = dict(headers)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["drop", "replace", "case", "extra", "interaction", "media", "ssp"]))
        name = draw(st.sampled_from(GATE_HEADERS))
        if action == "drop":
            headers.pop(name, None)
        elif action == "replace":
            headers[name] = draw(header_text)
        elif action == "case" and name in headers:
            headers[draw(st.sampled_from([name.lower(), name.upper()]))] = headers.pop(name)
        elif action == "extra":
            extra = draw(st.from_regex(r"\A[A-Za-z][A-Za-z0-9\-]{0,30}\Z"))
            headers[extra] = draw(header_text)
        elif action == "interaction":
            headers["Ssp-InteractionID"] = draw(st.one_of(
                st.sampled_from(INTERACTION_IDS), st.sampled_from(INTERACTION_IDS).map(str.upper),
                st.sampled_from(INTERACTION_IDS).map(lambda i: i + " ")))
        elif action == "media":
            headers[draw(st.sampled_from(["Accept", "Content-Type"]))] = draw(media_types)
        else:
            headers[draw(st.sampled_from(["Ssp-TraceID", "Ssp-From", "Ssp-To"]))] = draw(st.one_of(
                st.uuids().map(str), st.from_regex(r"\A[0-9]{1,25}\Z"), header_text))
    return headers


@st.composite
def jwt_values(draw, claims: dict) -> str:
    """An Authorization header value: the valid claims fuzzed in content, type, encoding and lifetime."""
    payload = dict(claims)
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.one_of(st.sampled_from(sorted(payload) or ["iss"]), st.text(max_size=10)))
        action = draw(st.sampled_from(["drop", "value", "lifetime", "nested"]))
        if action == "drop":
            payload.pop(key, None)
        elif action == "value":
            payload[key] = draw(json_values)
        elif action == "lifetime":
            iat = draw(st.one_of(st.integers(-(2 ** 64), 2 ** 64), st.integers(0, 4_000_000_000),
                                 st.floats(allow_nan=True), st.text(max_size=5)))
            payload["iat"] = iat
            payload["exp"] = draw(st.one_of(st.just(iat + 300 if isinstance(iat, (int, float)) else iat),
                                            st.integers(-(2 ** 64), 2 ** 64)))
        else:
            target = draw(st.sampled_from(["requesting_device", "requesting_organization", "requesting_practitioner"]))
            resource = dict(payload.get(target) or {}) if isinstance(payload.get(target), dict) else {}
            resource[draw(st.sampled_from(["resourceType", "identifier", "id", "name", "_id", "bogus"]))] = \
                draw(json_values)
            payload[target] = resource
    header = draw(st.one_of(
        st.just({"alg": "none", "typ": "JWT"}), st.just({"alg": "none"}),
        st.fixed_dictionaries({"alg": json_values, "typ": json_values}),
        st.dictionaries(st.text(max_size=5), json_values, max_size=3), json_values))
    try:
        payload_bytes = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        payload_bytes = b"{}"
    header_bytes = json.dumps(header, allow_nan=True).encode("utf-8", "surrogatepass")
    encoding = draw(st.sampled_from(["urlsafe", "padded", "standard", "raw-bytes", "latin1-json", "garbage"]))
    if encoding == "raw-bytes":
        payload_bytes = draw(st.binary(max_size=80))
    elif encoding == "latin1-json":
        payload_bytes = json.dumps(payload, ensure_ascii=False, default=str).encode("latin-1", "replace")
    if encoding == "garbage":
        token = draw(st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=120))
    else:
        token = (f"{b64(header_bytes, encoding != 'standard', encoding == 'padded')}."
                 f"{b64(payload_bytes, encoding != 'standard', encoding == 'padded')}."
                 + draw(st.sampled_from(["", "", "", "sig", "."])))
    scheme = draw(st.sampled_from(["Bearer ", "Bearer ", "Bearer ", "bearer ", "Bearer  ", "Bearer\t", "Basic ", ""]))
    return scheme + token


FHIR_KEYS = ["part", "name", "parameter", "valueBoolean", "valueIdentifier", "valueString", "resource",
             "extension", "system", "value", "resourceType", "id", "_value"]


def containers(value) -> list:
    """Every dict and list inside a JSON value, itself included (depth-first)."""
    found, stack = [], [value]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            found.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return found


@st.composite
def parameters_bodies(draw, nhs: str):
    """A migrate Parameters body fuzzed in types, nesting, unknown parts and size (or not JSON at all)."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "deep", "huge", "bytes", "empty"]))
    if kind == "bytes":
        return draw(st.one_of(st.binary(max_size=200),
                              st.sampled_from([b"\xff\xfe{", b'{"resourceType":"Parameters"\x00}', b"\xc3\x28",
                                               b'{"a":"\xed\xa0\x80"}', b"NaN", b"[1e999]"])))
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"{}", b"[]", b"null", b'""']))
    if kind == "deep":
        depth = draw(st.sampled_from([50, 500, 5000, 50_000, 200_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"part":[', "]}")]))
        inner = opener * depth + "1" + closer * depth
        where = draw(st.sampled_from(["top", "parameter", "part"]))
        if where == "top":
            return inner.encode()
        if where == "parameter":
            return ('{"resourceType":"Parameters","parameter":' + inner + "}").encode()
        return ('{"resourceType":"Parameters","parameter":[{"name":"includeFullRecord","part":'
                + inner + "}]}").encode()
    if kind == "json":
        return json.dumps(draw(json_values), allow_nan=True).encode("utf-8", "surrogatepass")
    body = h.migrate_body(nhs, sensitive=draw(st.booleans()))
    params = body["parameter"]
    if kind == "huge":
        size = draw(st.sampled_from([10_000, 200_000, 900_000]))
        params.append({"name": draw(st.sampled_from(["x", "patientNHSNumber", "includeFullRecord"])),
                       "valueString": "9" * size})
        return json.dumps(body).encode()
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["nhs", "value", "part", "unknown", "drop", "type", "dup", "root",
                                       "anywhere", "anywhere", "anywhere"]))
        dicts = [p for p in params if isinstance(p, dict)]
        if action == "anywhere":   # any object or array at any depth: set, replace or add one member
            node = draw(st.sampled_from(containers(body)))
            if isinstance(node, dict):
                node[draw(st.one_of(st.sampled_from(sorted(node) or ["x"]), st.sampled_from(FHIR_KEYS),
                                    st.text(max_size=12)))] = draw(json_values)
            elif node:
                node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
            else:
                node.append(draw(json_values))
            continue
        if action == "nhs" and dicts:
            dicts[0]["valueIdentifier"] = {"system": draw(st.sampled_from(
                ["https://fhir.nhs.uk/Id/nhs-number", "https://fhir.nhs.uk/Id/nhs-numbe", ""])),
                "value": draw(st.one_of(nhs_numbers([nhs]), json_values))}
        elif action == "value" and dicts:
            draw(st.sampled_from(dicts))[draw(st.sampled_from(
                ["valueIdentifier", "valueBoolean", "valueString", "part", "name"]))] = draw(json_values)
        elif action == "part" and dicts:
            dicts[-1]["part"] = draw(st.one_of(json_values, st.lists(st.fixed_dictionaries(
                {"name": st.sampled_from(["includeSensitiveInformation", "x", ""]),
                 "valueBoolean": json_values}), max_size=3)))
        elif action == "unknown":
            params.append({"name": draw(st.text(max_size=20)), draw(st.text(max_size=15)): draw(json_values)})
        elif action == "drop" and params:
            params.pop(draw(st.integers(0, len(params) - 1)))
        elif action == "type":
            body["resourceType"] = draw(json_values)
        elif action == "dup" and params:
            params.append(params[0])
        elif action == "root":
            body[draw(st.text(max_size=10))] = draw(json_values)
    return json.dumps(body, allow_nan=True, default=str).encode("utf-8", "surrogatepass")


PATH_SUFFIXES = ["", "/", "//", "/.", "/..", "/%00", "/%ff", "%2F", "?", "#x", "/metadata", "/Metadata",
                 "/Patient/$gpc.migratestructuredrecord", "/Binary/", "/Binary/x/y", "/%C0%AF", "/\x00",
                 "/é", "/\u202e", ";jsessionid=1"]


@st.composite
def mutated_paths(draw, path: str) -> str:
    action = draw(st.sampled_from(["keep", "suffix", "prefix", "case", "replace", "long", "segment"]))
    if action == "suffix":
        return path + draw(st.sampled_from(PATH_SUFFIXES))
    if action == "prefix":
        return draw(st.sampled_from(["/https://x", "/http://spine.nhs.uk:443", "//", "/https:/x",
                                     "/https://", "/B82617"])) + path
    if action == "case":
        return path.swapcase() if draw(st.booleans()) else path.replace("STU3", "stu3")
    if action == "replace":
        return "/" + draw(st.text(max_size=60)).replace("?", "").replace("#", "")
    if action == "long":
        return path + "/" + "a" * draw(st.sampled_from([100, 4000, 7000]))
    if action == "segment":
        cut = path.rstrip("/").rsplit("/", 1)[0]
        return cut + "/" + draw(st.text(max_size=20)).replace("?", "").replace("#", "")
    return path


methods = st.one_of(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
                    st.from_regex(r"\A[A-Z]{1,12}\Z"))
