"""Supplier-styled built-in personas: the volume and shape of a real long-term GP record, counted.

Since #24 a supplier record is an ordinary persona record (``record.style``: emis or tpp) made from the
``supplier_record`` seed by :mod:`mockprovider.personas.supplier_records` and rendered by the area modules
of :mod:`mockprovider.record` like any other, in the supplier's style (:mod:`mockprovider.record.styles`).

Issue #14's floor, per persona: >= 1,500 resources; repeat plans with 100+ issues and
re-authorisations; 40+ consultations over 20+ years with multi-paragraph notes; several clinicians
in different roles; other organisations (a hospital, a laboratory); SNOMED CT plus the supplier's
legacy systems (Read v2 / CTV3, its drug codes), the SNOMED description-id extension, the original
term in ``text``; dates at year, month, day and date-time precision; degraded legacy items;
non-ASCII names and free text. Every SNOMED concept and description id passes Verhoeff and comes
from the curated terminology table (or the spec's own list and setting codes).
"""
from __future__ import annotations

import datetime
import json
import re
import uuid
from pathlib import Path

import pytest

from mockprovider.app import create_app
from mockprovider.config import Settings
from mockprovider.personas.store import PersonaStore
from mockprovider.personas import supplier_records
from mockprovider.personas import terminology as terms
from tests import helpers as h
from tests.structured_checks import CONFIDENTIAL_NOTE, WARNING_EXT, check_bundle, lists_by_title

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
EMIS, TPP = "9990042179", "9990042187"
SNOMED = "http://snomed.info/sct"
SCTDESCID = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-coding-sctdescid"
LEGACY = {EMIS: ("http://read.info/readv2", "https://fhir.hl7.org.uk/Id/emis-drug-codes"),
          TPP: ("http://read.info/ctv3", "https://fhir.hl7.org.uk/Id/multilex-drug-codes")}

# Verhoeff (SNOMED CT check digit): the standard multiplication, permutation and inverse tables.
_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
for _ in range(6):
    _P.append([_P[1][x] for x in _P[-1]])


def verhoeff_ok(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def test_verhoeff_implementation_against_known_ids():
    assert verhoeff_ok("195967001") and verhoeff_ok("1149501000000101") and verhoeff_ok("301485011")
    assert not verhoeff_ok("195967002") and not verhoeff_ok("1149501000000102")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    app = create_app({"state_dir": str(tmp_path_factory.mktemp("state"))})
    client = app.test_client()
    out = {}
    for nhs in (EMIS, TPP):
        for sensitive in (True, False):
            headers = h.migrate_headers(sensitive)
            response = client.post(URL, data=json.dumps(h.migrate_body(nhs, sensitive)), headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            out[nhs, sensitive] = (response.get_json(), headers["Ssp-TraceID"], response.data)
    return out


def resources(bundle):
    for entry in bundle["entry"]:
        yield entry["resource"]
        yield from entry["resource"].get("contained", [])


def codings(node, found):
    if isinstance(node, dict):
        if isinstance(node.get("coding"), list):
            found.append(node)
        for value in node.values():
            codings(value, found)
    elif isinstance(node, list):
        for value in node:
            codings(value, found)
    return found


KNOWN_SNOMED = ({t.concept for table in (terms.PROBLEMS, terms.FINDINGS, terms.SENSITIVE_FINDINGS, terms.MEASURES,
                                        terms.LABS, terms.ALLERGIES, terms.IMMUNISATIONS, terms.REFERRALS,
                                        terms.DIARY, terms.DOCUMENT_TYPES) for t in table.values()}
                | {d.dmd for d in terms.REPEATS + terms.CONFIDENTIAL_REPEATS + terms.ACUTES}
                | {t.concept for t in (terms.COMMENT_NOTE, terms.DEGRADED_ENTRY, terms.DEGRADED_MEDICATION,
                                       terms.DEGRADED_DRUG_ALLERGY)}
                # the spec's own codes (migrate-structured.md): Lists, clinical setting, structure Lists;
                # the record composition types of the documents; venous blood specimen; report code
                | {"886921000000105", "1103671000000101", "1149501000000101", "714311000000108", "1102181000000102",
                   "887191000000108", "933361000000108", "792931000000107", "717711000000103", "826501000000100",
                   "1060971000000108", "325851000000107", "25851000000105", "24781000000107",
                   "823701000000103", "824331000000106", "122555007", "721981007",
                   # consultation types (Encounter.type)
                   "11429006", "185317003", "439708006"})


def test_the_terminology_table_is_real_snomed():
    for table in (terms.PROBLEMS, terms.FINDINGS, terms.SENSITIVE_FINDINGS, terms.MEASURES, terms.LABS,
                  terms.ALLERGIES, terms.IMMUNISATIONS, terms.REFERRALS, terms.DIARY, terms.DOCUMENT_TYPES):
        for key, t in table.items():
            assert key == t.concept and verhoeff_ok(t.concept), t
            assert t.description_id and verhoeff_ok(t.description_id), t
            # SNOMED partition: a concept id's partition is x0 (core) or 10 (extension); a description's 01/11
            assert t.concept[-3:-1] in ("00", "10") and t.description_id[-3:-1] in ("01", "11"), t
            assert re.fullmatch(r"[0-9A-Za-z.]{5}[0-9]{2}", t.read_v2), t
    for d in terms.REPEATS + terms.CONFIDENTIAL_REPEATS + terms.ACUTES:
        assert verhoeff_ok(d.dmd) and d.dmd[-3:-1] in ("00", "10"), d


@pytest.mark.parametrize("nhs", [EMIS, TPP])
def test_every_snomed_code_sent_is_real(bundles, nhs):
    bundle = bundles[nhs, True][0]
    seen = set()
    for cc in codings(bundle, []):
        for coding in cc["coding"]:
            if coding.get("system") != SNOMED:
                continue
            seen.add(coding["code"])
            assert verhoeff_ok(coding["code"]), coding
            assert coding["code"] in KNOWN_SNOMED, coding
            for ext in coding.get("extension", []):
                assert ext["url"] == SCTDESCID
                desc = [x["valueId"] for x in ext["extension"] if x["url"] == "descriptionId"]
                assert desc and verhoeff_ok(desc[0]), coding
    assert len(seen) >= 60


@pytest.mark.parametrize("nhs", [EMIS, TPP])
def test_volume_and_shape_of_a_long_term_record(bundles, nhs):
    bundle = bundles[nhs, True][0]
    rs = list(resources(bundle))
    by_type: dict = {}
    for r in rs:
        by_type.setdefault(r["resourceType"], []).append(r)
    assert len(bundle["entry"]) >= 1500
    # Repeat plans with 100+ issues, and re-authorisations.
    requests = by_type["MedicationRequest"]
    plans = {f"MedicationRequest/{r['id']}": r for r in requests if r["intent"] == "plan"}
    issues: dict = {}
    for r in requests:
        if r["intent"] == "order":
            issues[r["basedOn"][0]["reference"]] = issues.get(r["basedOn"][0]["reference"], 0) + 1
    repeat_plans = [ref for ref, p in plans.items()
                    if any(c["code"] == "repeat" for e in p["extension"] if "valueCodeableConcept" in e
                           for c in e["valueCodeableConcept"]["coding"])]
    assert max(issues[ref] for ref in repeat_plans) >= 100
    reauthorised = [p for p in plans.values() if "priorPrescription" in p]
    assert len(reauthorised) >= 5 and all(p["priorPrescription"]["reference"] in plans for p in reauthorised)
    # 40+ consultations over 20+ years, with multi-paragraph notes.
    starts = sorted(datetime.date.fromisoformat(e["period"]["start"][:10]) for e in by_type["Encounter"])
    assert len(starts) >= 40 and (starts[-1] - starts[0]).days >= 20 * 365
    notes = [o["comment"] for o in by_type["Observation"]
             if any(c["code"] == "37331000000100" for c in o["code"]["coding"])]
    assert sum(1 for n in notes if "\n\n" in n) >= 40
    # Several clinicians in different roles; a hospital and a laboratory besides the practice.
    roles = {r["code"][0]["coding"][0]["code"] for r in by_type["PractitionerRole"]}
    assert len(by_type["Practitioner"]) >= 6 and len(roles) >= 6
    odss = {o["identifier"][0]["value"] for o in by_type["Organization"]}
    assert {"B82617", "RR8", "RAE"} <= odss          # the practice, a hospital trust, a pathology laboratory
    labs = {p["actor"]["reference"] for d in by_type["DiagnosticReport"] for p in d["performer"]}
    assert labs == {f"Organization/{o['id']}" for o in by_type["Organization"] if o["identifier"][0]["value"] == "RAE"}
    # Codings: SNOMED + the supplier's legacy systems, description ids, original terms in text.
    legacy_code, legacy_drug = LEGACY[nhs]
    ccs = codings(bundle, [])
    systems = {c.get("system") for cc in ccs for c in cc["coding"]}
    assert {SNOMED, legacy_code, legacy_drug} <= systems
    assert sum(1 for cc in ccs for c in cc["coding"] if c.get("extension")) >= 500
    with_text = [cc for cc in ccs if cc.get("text") and all(cc["text"] != c.get("display") for c in cc["coding"])]
    assert len(with_text) >= 20
    # Dates at every precision STU3 allows for a dateTime.
    precisions = set()
    for r in rs:
        for key in ("effectiveDateTime", "onsetDateTime", "occurrenceDateTime", "date"):
            value = r.get(key)
            if isinstance(value, str) and r["resourceType"] != "List":
                precisions.add({4: "year", 7: "month", 10: "day"}.get(len(value), "date-time"))
    assert precisions == {"year", "month", "day", "date-time"}
    # Legacy items degraded in an earlier transfer: the degrade code, the original term as text.
    degraded = [cc for cc in ccs if any(c.get("code") in ("196411000000103", "196421000000109", "196461000000101")
                                        for c in cc["coding"])]
    assert len({c["code"] for cc in degraded for c in cc["coding"]}) == 3 and all(cc.get("text") for cc in degraded)
    # Non-ASCII names and free text.
    text = json.dumps(bundle, ensure_ascii=False)
    names = [n for r in by_type["Practitioner"] + by_type["Patient"] for n in r["name"]]
    assert any(re.search(r"[^\x00-\x7f]", json.dumps(n, ensure_ascii=False)) for n in names)
    assert any(re.search(r"[^\x00-\x7f]", n) for n in notes)
    assert "\u00b0C" in text


@pytest.mark.parametrize("nhs", [EMIS, TPP])
@pytest.mark.parametrize("sensitive", [True, False])
def test_supplier_bundles_pass_the_spec_checks(bundles, nhs, sensitive):
    bundle, trace, _ = bundles[nhs, sensitive]
    check_bundle(bundle, trace)


@pytest.mark.parametrize("nhs", [EMIS, TPP])
def test_confidential_items_are_left_out_and_warned_without_sensitive_information(bundles, nhs):
    full, without = bundles[nhs, True][0], bundles[nhs, False][0]
    ids_full = {(r["resourceType"], r.get("id")) for r in resources(full)}
    ids_without = {(r["resourceType"], r.get("id")) for r in resources(without)}
    assert ids_without < ids_full
    gone = ids_full - ids_without
    assert {kind for kind, _ in gone} >= {"MedicationRequest", "MedicationStatement", "Observation", "Encounter",
                                          "Condition"}
    lists = lists_by_title(without)
    for title in ("Medications and medical devices", "Uncategorised data",
                  "Problems - medications related to problems"):        # the assurance suite's M1 lists
        lst = lists[title]
        assert [x["valueCode"] for x in lst["extension"] if x["url"] == WARNING_EXT] == ["confidential-items"]
        assert [n["text"] for n in lst["note"]].count(CONFIDENTIAL_NOTE) == 1
    for ref in (e["item"]["reference"] for r in resources(without) if r["resourceType"] == "List"
                for e in r.get("entry", []) if not e["item"]["reference"].startswith("#")):
        kind, _, rid = ref.partition("/")
        assert (kind, rid) in ids_without


def test_records_are_deterministic_and_seeded():
    store = PersonaStore.load(Settings().personas)
    data = store.get(EMIS).stored()
    a = json.dumps(supplier_records.record(data))
    b = json.dumps(supplier_records.record(json.loads(json.dumps(data))))
    assert a == b
    other = json.dumps(supplier_records.record({**data, "supplier_record": {**data["supplier_record"], "seed": "another"}}))
    assert other != a


def test_a_supplier_record_is_an_ordinary_valid_record():
    """The seed expands into the persona record format (record.style set), which the record validator
    accepts and the area modules render: no second builder."""
    from mockprovider.personas.store import Checker
    from mockprovider.record.check import validate_record
    store = PersonaStore.load(Settings().personas)
    for nhs, style in ((EMIS, "emis"), (TPP, "tpp")):
        persona = store.get(nhs)
        record = persona.data["record"]
        assert record["style"] == style and "fhir_record" not in persona.data
        validate_record(Checker(persona.file), record, "$.record")


def test_same_request_same_bytes_but_the_trace_id(bundles, tmp_path):
    app = create_app({"state_dir": str(tmp_path / "state")})
    headers = h.migrate_headers(True)
    trace = str(uuid.uuid4())
    headers["Ssp-TraceID"] = trace
    again = app.test_client().post(URL, data=json.dumps(h.migrate_body(TPP, True)), headers=headers).data
    first, first_trace = bundles[TPP, True][2], bundles[TPP, True][1]
    assert again == first.replace(first_trace.encode(), trace.encode())


def test_a_supplier_record_matches_the_persona_schema():
    """personas/schema.json describes every field a supplier-styled record uses (style, clinician,
    precision, code_text, heading titles, a type with its text...): written out, it is a valid persona."""
    import jsonschema
    schema = json.loads((Path(Settings().personas) / "schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    store = PersonaStore.load(Settings().personas)
    for nhs in (EMIS, TPP):
        data = json.loads(json.dumps(store.get(nhs).stored()))
        data["record"] = supplier_records.record(data)
        del data["supplier_record"]
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]
