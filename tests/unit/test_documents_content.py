"""Document content (mockprovider.personas.documents): deterministic, exact sizes, streamable."""
import base64
import hashlib
import json
from pathlib import Path

import pytest

from mockprovider.personas import documents as d
from mockprovider.personas import ids
from mockprovider.personas.store import PersonaError, PersonaStore

BUILT_IN = Path(__file__).resolve().parents[2] / "personas"
C = d.CHUNK


@pytest.mark.parametrize("size", [1, 26, 27, 28, 1000, C - 1, C, C + 1, 2 * C + 5, 5 * C])
def test_generated_size_and_base64_chunks(size):
    raw = b"".join(d.generated_chunks("s", size))
    assert len(raw) == size
    assert b"".join(d.generated_base64_chunks("s", size)) == base64.b64encode(raw)
    assert all(len(c) <= C for c in d.generated_chunks("s", size))
    # printable text, as the documents declare text/plain
    assert set(raw) <= set(d._PRINTABLE) | set(b"-0123456789 \n")


def test_generated_content_is_deterministic_and_seeded():
    a = b"".join(d.generated_chunks("seed-a", C + 100))
    assert a == b"".join(d.generated_chunks("seed-a", C + 100))
    assert a != b"".join(d.generated_chunks("seed-b", C + 100))
    # a shorter document is a prefix of a longer one with the same seed
    assert b"".join(d.generated_chunks("seed-a", C + 1)) == a[:C + 1]
    assert b"".join(d.generated_chunks("seed-a", 50)) == a[:50]
    # chunks differ from one another (the pool repeats, the chunk line does not)
    full = list(d.generated_chunks("seed-a", d.POOL * C + C))
    assert full[0] != full[d.POOL]
    assert full[0][27:] == full[d.POOL][27:]


def test_declared_sha256_is_stable():
    # Pinned: a change to the generator would silently change every persona's declared sha256.
    assert d.generated_sha256(1000, "pinned") == hashlib.sha256(b"".join(d.generated_chunks("pinned", 1000))).hexdigest()
    store = PersonaStore.load(BUILT_IN)
    checked = 0
    for docs in store.documents.by_nhs.values():
        for doc in docs:
            if doc.size <= 8 * 1024 * 1024:     # the big boundary documents are checked by metadata only
                assert d.verify(doc) is None, doc.key
                checked += 1
    assert checked >= 150


def test_built_in_boundary_documents_by_metadata():
    store = PersonaStore.load(BUILT_IN)
    sizes = {doc.key: doc.size for doc in store.documents.by_nhs["9990042101"]}
    assert sizes == {
        "about-4-5-mb": 4_500_000,
        "just-under-5-mib": 5 * 1024 * 1024 - 1, "exactly-5-mib": 5 * 1024 * 1024,
        "one-byte-over-5-mib": 5 * 1024 * 1024 + 1,
        "just-under-100-mib": 100 * 1024 * 1024 - 1, "exactly-100-mib": 100 * 1024 * 1024,
        "one-byte-over-100-mib": 100 * 1024 * 1024 + 1, "about-250-mb": 250_000_000,
    }
    assert len(store.documents.by_nhs["9990042128"]) == 150
    big = store.documents.by_nhs["9690937308"]
    assert len(big) == 1 and big[0].size > 5 * 1024 * 1024


def test_index_uses_the_id_convention():
    store = PersonaStore.load(BUILT_IN)
    for nhs, docs in store.documents.by_nhs.items():
        for doc in docs:
            assert doc.binary_id == ids.document_id(nhs, doc.key)
            persona, found = store.documents.get(doc.binary_id)
            assert persona.nhs_number == nhs and found is doc
    assert store.documents.get("no-such-id") is None


def test_shipped_files_are_served_as_is():
    store = PersonaStore.load(BUILT_IN)
    for doc in store.documents.by_nhs["9690937286"]:
        assert doc.read() == (BUILT_IN / doc.entry["file"]).read_bytes()
    kinds = {doc.content_type for doc in store.documents.by_nhs["9690937286"]}
    assert {"application/pdf", "application/rtf", "text/plain", "image/png"} <= kinds
    pdf = next(doc for doc in store.documents.by_nhs["9690937286"] if doc.content_type == "application/pdf")
    assert pdf.read().startswith(b"%PDF-") and pdf.read().rstrip().endswith(b"%%EOF")


# --- the persona section's validation: file, JSON path, reason -------------------------------------------
def _persona(docs):
    return {"nhs_number": "9990042136", "name": {"family": "Test"}, "gender": "female",
            "birth_date": "1980-01-01", "documents": docs}


def _doc(**changes):
    doc = {"key": "k1", "description": "A letter", "type": "823701000000103|Outpatient letter",
           "created": "2020-01-01", "indexed": "2020-01-02T10:00:00+00:00", "author": {"organization": "B82617"},
           "contentType": "text/plain", "file": "files/a.txt"}
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize("docs,path,reason", [
    ([_doc(file="files/missing.txt")], "$.documents[0].file", "does not exist"),
    ([_doc(size=4)], "$.documents[0].size", "declares 4 bytes but"),
    ([_doc(file=None)], "$.documents[0]", "exactly one of file"),
    ([_doc(generate={"size": 10, "seed": 1})], "$.documents[0]", "exactly one of file"),
    ([_doc(file=None, generate={"size": 10, "seed": 1})], "$.documents[0].sha256", "is required"),
    ([_doc(file=None, generate={"size": 0, "seed": 1}, sha256="0" * 64)], "$.documents[0].generate.size", ">= 1"),
    ([_doc(), _doc()], "$.documents[1].key", "used by another document"),
    ([_doc(author={"organization": "B82617", "practitioner": "p1"})], "$.documents[0].author", "exactly one"),
    ([_doc(indexed="2020-01-02")], "$.documents[0].indexed", "wrong format"),
    ([_doc(file="../secret.txt")], "$.documents[0].file", "inside the personas folder"),
    ([_doc(colour="red")], "$.documents[0].colour", "not a known field"),
    ([_doc(contentType="application/pdf", file=None, generate={"size": 10, "seed": 1}, sha256="0" * 64)],
     "$.documents[0].contentType", "printable text"),
])
def test_invalid_documents_fail_loudly(tmp_path, docs, path, reason):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_bytes(b"hello")
    (tmp_path / "9990042136.json").write_text(json.dumps(_persona(docs)))
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path)
    assert info.value.file.endswith("9990042136.json")
    assert info.value.path == path
    assert reason in info.value.reason


def test_valid_documents_load_with_declared_size(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_bytes(b"hello")
    gen = _doc(key="g", file=None, generate={"size": 10, "seed": 1}, sha256=d.generated_sha256(10, 1))
    (tmp_path / "9990042136.json").write_text(json.dumps(_persona([_doc(size=5), gen])))
    store = PersonaStore.load(tmp_path)
    docs = store.documents.by_nhs["9990042136"]
    assert [x.size for x in docs] == [5, 10]
    assert docs[0].read() == b"hello" and d.verify(docs[1]) is None


@pytest.mark.parametrize("change,path,reason", [
    ({"author": {"practitioner": "G0000000"}}, "$.documents[0].author.practitioner", "usual_gp"),
    ({"consultation": "nope"}, "$.documents[0].consultation", "record.consultations"),
    ({"problem": "nope"}, "$.documents[0].problem", "record.problems"),
])
def test_document_links_must_resolve(tmp_path, change, path, reason):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_bytes(b"hello")
    persona = _persona([_doc(**change)])
    persona["usual_gp"] = {"sds_user_id": "G1357913", "name": {"family": "Clarke"}}
    persona["record"] = {"problems": [{"key": "asthma", "code": "195967001|Asthma", "date": "1998-09-14"}]}
    (tmp_path / "9990042136.json").write_text(json.dumps(persona))
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path)
    assert info.value.path == path and reason in info.value.reason
    persona["documents"] = [_doc(author={"practitioner": "G1357913"}, problem="asthma")]
    (tmp_path / "9990042136.json").write_text(json.dumps(persona))
    assert len(PersonaStore.load(tmp_path).documents.by_nhs["9990042136"]) == 1
