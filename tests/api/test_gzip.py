"""gzip when the request accepts it (documents.md: "Support gzip when the request sends
Accept-Encoding: gzip"), above a small threshold, with Vary and an exact Content-Length whenever
the length is known. Every compressed answer is decompressed and compared with the plain answer
to the same request."""
import gzip
import json
import os
import random
import uuid
import zlib

import pytest

from mockprovider.personas import ids
from mockprovider.fhir import compress
from tests import helpers as h

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
MAIN, BIG = "9690937286", "9690937308"
PDF = f"{h.DOCUMENTS}/Binary/{ids.document_id(MAIN, 'discharge-letter')}"


def pair(client, method, path, headers, body=None, encoding="gzip"):
    headers = dict(headers, **{"Ssp-TraceID": str(uuid.uuid4())})
    plain = client.open(path, method=method, headers=headers, data=body)
    packed = client.open(path, method=method, headers=dict(headers, **{"Accept-Encoding": encoding}), data=body)
    return plain, packed


def single_member_gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(31)
    out = d.decompress(data)
    assert d.eof and not d.unused_data          # one complete gzip member, nothing after it
    return out


@pytest.mark.parametrize("accept", ["application/fhir+json", "application/fhir+xml"])
@pytest.mark.parametrize("nhs", [MAIN, BIG])
def test_migrate_structured_bundle_is_gzipped_exactly(client, accept, nhs):
    headers = dict(h.migrate_headers(), Accept=accept)
    plain, packed = pair(client, "POST", MIGRATE, headers, json.dumps(h.migrate_body(nhs)))
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    assert single_member_gunzip(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 4


def test_each_trace_id_gets_its_own_correct_gzip(client):
    seen = set()
    for _ in range(3):
        plain, packed = pair(client, "POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body()))
        assert gzip.decompress(packed.data) == plain.data
        seen.add(packed.data)
    assert len(seen) == 3


@pytest.mark.parametrize("encoding,compressed", [("gzip", True), ("deflate, gzip;q=0.5", True), ("*", True),
                                                ("x-gzip", True), ("gzip;q=0", False), ("br", False),
                                                ("identity", False), ("", False)])
def test_accept_encoding_is_honoured(client, encoding, compressed):
    plain, packed = pair(client, "POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body()), encoding)
    assert ("Content-Encoding" in packed.headers) is compressed
    assert (gzip.decompress(packed.data) if compressed else packed.data) == plain.data


def test_small_answers_are_not_compressed(client):
    _, packed = pair(client, "POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body("9999999999")))
    assert packed.status_code == 404 and "Content-Encoding" not in packed.headers      # an OperationOutcome
    assert len(packed.data) < compress.THRESHOLD + 1000


@pytest.mark.parametrize("path,headers", [
    (h.DOCUMENTS + "/metadata", lambda: h.headers(h.METADATA_DOCUMENTS, h.claims(scope="organization/*.read"))),
    (f"{h.DOCUMENTS}/Patient/{ids.patient_id(MAIN)}/DocumentReference?_include=DocumentReference:subject:Patient"
     "&_include=DocumentReference:custodian:Organization&_include=DocumentReference:author:Organization"
     "&_include=DocumentReference:author:Practitioner&_revinclude:recurse=PractitionerRole:practitioner",
     lambda: h.headers(h.SEARCH_DOCUMENTS, h.claims())),
])
def test_other_answers_over_the_threshold_are_gzipped(client, path, headers):
    plain, packed = pair(client, "GET", path, headers())
    assert len(plain.data) > compress.THRESHOLD
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    assert gzip.decompress(packed.data) == plain.data


@pytest.mark.parametrize("path", [PDF, f"{h.DOCUMENTS}/Binary/{ids.document_id(BIG, 'big-scanned-letter')}"])
def test_a_binary_is_compressed_as_it_streams(client, path):
    plain, packed = pair(client, "GET", path, h.headers(h.MIGRATE_DOCUMENT, h.claims()))
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Length" not in packed.headers
    assert int(plain.headers["Content-Length"]) == len(plain.data)
    assert single_member_gunzip(packed.data) == plain.data


# --- the arithmetic -------------------------------------------------------------------------------------
def test_crc32_combine_matches_zlib():
    rng = random.Random(7)
    for length in (0, 1, 2, 3, 100, 4097, 1_000_003):
        a, b = os.urandom(rng.randrange(0, 5000)), os.urandom(length)
        assert compress.crc32_combine(zlib.crc32(a), zlib.crc32(b), compress.crc32_shift(length)) == zlib.crc32(a + b)


def test_spliced_gzip_is_one_member_for_any_value():
    head, tail = b'{"a":' + os.urandom(3000), b"}" + b"xyz" * 50000
    packed = compress.SplicedGzip(head, tail)
    for value in (b"", b'"x"', os.urandom(300)):
        pieces, length = packed.pieces(value)
        data = b"".join(pieces)
        assert len(data) == length and single_member_gunzip(data) == head + value + tail
