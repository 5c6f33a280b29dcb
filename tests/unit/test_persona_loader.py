"""Loading personas: every kind of mistake fails loudly with the file, the JSON path and the reason."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockprovider.app import create_app
from mockprovider.personas import format as P
from mockprovider.personas.store import PersonaError, PersonaStore

GOOD = {
    "nhs_number": "9690937278",
    "name": {"family": "Smith", "given": ["Ann"]},
    "gender": "female",
    "birth_date": "1980-01-02",
}


def write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def changed(**changes):
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def load_error(tmp_path, data, name="p.json") -> PersonaError:
    path = write(tmp_path, name, data)
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path)
    assert info.value.file == str(path)
    assert str(info.value) == f"{path}: {info.value.path}: {info.value.reason}"
    return info.value


def test_a_good_file_loads_and_is_indexed(tmp_path):
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "notes.txt", "not a persona")          # only *.json files are personas
    store = PersonaStore.load(tmp_path)
    assert len(store) == 1
    persona = store.get("9690937278")
    assert persona.data == GOOD
    assert persona.name == "Ann Smith"
    assert persona.registered_practice_ods is None
    assert persona.tags == ["no-documents"]
    assert store.get("9690937286") is None


@pytest.mark.parametrize("text, reason", [
    ('{"nhs_number": "9690937278",', "is not valid JSON"),
    ("", "is not valid JSON"),
    ('{"a": 1} trailing', "is not valid JSON"),
])
def test_bad_json(tmp_path, text, reason):
    error = load_error(tmp_path, text)
    assert error.path == "$"
    assert error.reason.startswith(reason)
    assert "line 1" in error.reason


def test_not_utf8(tmp_path):
    (tmp_path / "p.json").write_bytes(b'{"name": "\xff"}')
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path)
    assert info.value.path == "$"
    assert info.value.reason.startswith(("is not UTF-8 text", "is not valid JSON"))


def test_duplicate_key_in_one_object(tmp_path):
    text = json.dumps(GOOD)[:-1] + ', "gender": "male"}'
    error = load_error(tmp_path, text)
    assert (error.path, error.reason) == ("$", "is not valid JSON: duplicate key 'gender' in one object")


@pytest.mark.parametrize("data, path, reason", [
    ([GOOD], "$", "must be a JSON object, not an array"),
    (changed(nhs_number=9690937278), "$.nhs_number", "must be a string of 10 digits, not a number"),
    (changed(nhs_number="9690937279"), "$.nhs_number",
     "'9690937279' is not a valid NHS number (10 digits, Mod-11 check digit)"),
    (changed(nhs_number="969093727"), "$.nhs_number",
     "'969093727' is not a valid NHS number (10 digits, Mod-11 check digit)"),
    (changed(gender=...), "$.gender", "is required"),
    (changed(gender="f"), "$.gender", "'f' must be one of male, female, other, unknown"),
    (changed(colour="blue"), "$.colour", "is not a known field (known: $schema, active, address, birth_date, "
     "deceased, description, documents, fhir_record, gender, generated_record, name, nhs_number, "
     "nhs_number_status, pds, practice, record, registration, supplier_record, tags, telecom, usual_gp)"),
    (changed(name={"family": "Smith", "given": "Ann"}), "$.name.given", "must be a JSON array, not a string"),
    (changed(name={"family": "Smith", "given": ["Ann", 3]}), "$.name.given[1]",
     "must be a non-empty string, not a number"),
    (changed(birth_date="1980-02-30"), "$.birth_date", "'1980-02-30' is not a date (YYYY-MM-DD)"),
    (changed(deceased="1970-01-01"), "$.deceased", "1970-01-01 is before the birth date 1980-01-02"),
    (changed(active="no"), "$.active", "must be true or false, not a string"),
    (changed(nhs_number_status="9"), "$.nhs_number_status",
     "'9' must be one of 01, 02, 03, 04, 05, 06, 07, 08"),
    (changed(pds={"sensitive": "yes"}), "$.pds.sensitive", "must be true or false, not a string"),
    (changed(pds={"restricted": True}), "$.pds.restricted",
     "is not a known field (known: dissent, invalidated, no_current_gp, on_pds, registered_practice_ods, "
     "sensitive, superseded_by)"),
    (changed(pds={"registered_practice_ods": "b82617"}), "$.pds.registered_practice_ods",
     "'b82617' has the wrong format"),
    (changed(tags="sensitive"), "$.tags", "must be a JSON array, not a string"),
    (changed(tags=["no-documents", "vip"]), "$.tags[1]",
     "'vip' must be one of " + ", ".join(P.TAGS)),
    (changed(tags=["sensitive"]), "$.tags[0]",
     "'sensitive' is declared but the data does not show it (PDS sensitive flag set (pds.sensitive)); "
     "the data gives: no-documents"),
])
def test_each_mistake_names_file_path_and_reason(tmp_path, data, path, reason):
    error = load_error(tmp_path, data)
    assert (error.path, error.reason) == (path, reason)


def test_duplicate_nhs_number_across_files(tmp_path):
    first = write(tmp_path, "a.json", GOOD)
    second = write(tmp_path, "b.json", changed(name={"family": "Other"}))
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path)
    assert info.value.file == str(second)
    assert info.value.path == "$.nhs_number"
    assert info.value.reason == f"9690937278 is already used by {first}"


def test_a_section_validator_that_trips_still_names_the_section(tmp_path, monkeypatch):
    def crashing(c, value, path, persona_dir):
        return value["missing"]
    monkeypatch.setitem(P.SECTION_VALIDATORS, "usual_gp", crashing)
    error = load_error(tmp_path, changed(usual_gp={}))
    assert error.path == "$.usual_gp"
    assert error.reason == "could not be read (KeyError: 'missing')"


def test_missing_folder(tmp_path):
    with pytest.raises(PersonaError) as info:
        PersonaStore.load(tmp_path / "nowhere")
    assert info.value.reason == "personas folder does not exist"


def test_no_partial_cast_one_bad_file_stops_the_app(tmp_path):
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "b.json", changed(nhs_number="9690937286", gender="x"))
    with pytest.raises(PersonaError) as info:
        create_app({"personas": str(tmp_path), "state_dir": str(tmp_path / "state")})
    assert info.value.file.endswith("b.json")


def test_check_reports_every_bad_file(tmp_path):
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "b.json", "{")
    write(tmp_path, "c.json", changed(gender="x"))
    write(tmp_path, "d.json", GOOD)                      # duplicate of a.json
    store, errors = PersonaStore.check(tmp_path)
    assert [p.nhs_number for p in store] == ["9690937278"]
    assert [(Path(e.file).name, e.path) for e in errors] == [
        ("b.json", "$"), ("c.json", "$.gender"), ("d.json", "$.nhs_number")]


@pytest.mark.parametrize("changes, tag", [
    ({"pds": {"sensitive": True}}, "sensitive"),
    ({"pds": {"dissent": True}}, "dissent"),
    ({"deceased": "2020-01-01"}, "deceased"),
    ({"nhs_number_status": "02"}, "unverified-nhs-number"),
    ({"pds": {"registered_practice_ods": "A20047"}}, "registered-elsewhere"),
])
def test_tags_are_derived_from_the_data(tmp_path, changes, tag):
    write(tmp_path, "a.json", changed(**changes, tags=[tag]))
    persona = PersonaStore.load(tmp_path).get("9690937278")
    assert sorted(persona.tags) == sorted(["no-documents", tag])


def test_derived_tags_from_record_and_documents():
    record = {area: [{"key": f"k{n}", "date": "2020-01-01"}] for n, area in enumerate(P.CLINICAL_AREAS)}
    record["problems"][0]["confidential"] = True
    docs = [{"key": "big", "generate": {"size": 5 * P.MIB, "seed": 1}}]
    tags = P.derive_tags({**GOOD, "record": record, "documents": docs})
    assert tags == ["full-record", "confidential-items", "large-document"]
    docs = [{"key": "small", "generate": {"size": 4 * P.MIB - 1, "seed": 1}},
            {"key": "over", "generate": {"size": 5 * P.MIB + 1, "seed": 2}}]
    assert P.derive_tags({**GOOD, "documents": docs}) == ["oversized-document"]
    many = [{"key": f"d{n}", "generate": {"size": 10, "seed": n}} for n in range(P.MANY_DOCUMENTS)]
    assert P.derive_tags({**GOOD, "documents": many}) == ["many-documents"]
    assert "confidential-items" not in P.derive_tags({**GOOD, "record": {"problems": [
        {"key": "a", "note": '"confidential": true'}]}}, raw=b'{"note": "\\"confidential\\": true"}')


def test_the_vocabulary_is_exactly_the_contract():
    assert list(P.TAGS) == ["full-record", "no-documents", "sensitive", "dissent", "deceased",
                            "unverified-nhs-number", "registered-elsewhere", "confidential-items",
                            "large-document", "oversized-document", "many-documents", "large-record",
                            "gp2gp-edge-case"]


def test_data_is_parsed_once_on_first_use_even_from_many_threads(tmp_path):
    import threading

    write(tmp_path, "a.json", changed(generated_record={"seed": "t", "visits": 30}))
    for _ in range(20):
        persona = PersonaStore.load(tmp_path).get("9690937278")
        seen, errors = [], []
        barrier = threading.Barrier(6)

        def use():
            try:
                barrier.wait()
                seen.append(persona.data)
            except Exception as exc:       # noqa: BLE001 - the assertion below reports it
                errors.append(exc)
        threads = [threading.Thread(target=use) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert all(d is seen[0] for d in seen) and len(seen[0]["record"]["consultations"]) == 30
    assert persona.tags == ["full-record", "no-documents", "large-record"]


def test_records_made_from_seeds_are_kept_only_for_the_last_few(tmp_path, monkeypatch):
    """A seeded record (generated_record, supplier_record) is made on first use and kept while among the
    last SEEDED_RECORDS_KEPT made: requesting many seeded personas one after the other never holds them all;
    a dropped one is made again, identical."""
    from mockprovider.personas import nhs_number, persona
    monkeypatch.setattr(persona, "SEEDED_RECORDS_KEPT", 2)
    numbers = [n for n in (f"999000{i:03d}" for i in range(200)) if nhs_number.check_digit(n) is not None][:4]
    for n, first_nine in enumerate(numbers):
        data = changed(supplier_record={"style": "tpp", "seed": n, "volume": "small"})
        data["nhs_number"] = f"{first_nine}{nhs_number.check_digit(first_nine)}"
        write(tmp_path, f"{n}.json", data)
    store = PersonaStore.load(tmp_path)
    people = sorted(store, key=lambda p: p.nhs_number)
    first = people[0].data["record"]
    assert first["style"] == "tpp" and "record" not in people[0].stored()
    for p in people[1:]:
        assert p.data["record"]["consultations"]
    assert sum(p._expanded is not None for p in people) == 2
    assert people[0]._expanded is None and people[0].data["record"] == first
