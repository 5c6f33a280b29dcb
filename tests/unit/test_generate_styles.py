"""`personas generate --style plain|emis|tpp --volume small|typical|heavy`: deterministic from the seed."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mockprovider.app import create_app
from mockprovider.cli import cli
from mockprovider.personas import generate as gen
from mockprovider.personas.store import PersonaStore
from tests import helpers as h
from tests.structured_checks import check_bundle

URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


def personas(files):
    return [json.loads(body) for _, body in files]


def test_plain_style_without_a_volume_is_todays_output():
    assert gen.generate(6, "s1") == gen.generate(6, "s1", style="plain", volume="small")


def test_plain_volumes_shape_the_record():
    typical = personas(gen.generate(4, "s2", style="plain", volume="typical"))
    heavy = personas(gen.generate(2, "s2", style="plain", volume="heavy"))
    assert all(set(gen.CLINICAL_AREAS) <= set(p["record"]) for p in typical)
    assert all("generated_record" in p and "record" not in p for p in heavy)


@pytest.mark.parametrize("style", ["emis", "tpp"])
def test_supplier_styles_write_a_seeded_supplier_record_and_letters(style):
    files = gen.generate(5, "s3", style=style, volume="typical")
    assert files == gen.generate(5, "s3", style=style, volume="typical")          # byte-identical
    assert files != gen.generate(5, "s4", style=style, volume="typical")
    for p in personas(files):
        assert p["supplier_record"] == {"style": style, "seed": f"s3/{p['nhs_number']}", "volume": "typical"}
        assert "record" not in p and len(p["documents"]) == gen.SUPPLIER_LETTERS["typical"]
    default = personas(gen.generate(1, "s3", style=style))[0]
    assert default["supplier_record"]["volume"] == "typical"


def test_tags_still_shape_supplier_personas():
    ps = personas(gen.generate(3, "s5", ["sensitive", "no-documents"], style="tpp", volume="small"))
    assert all(p["pds"]["sensitive"] and "documents" not in p for p in ps)


@pytest.mark.parametrize("style,volume,tags", [
    ("plain", "heavy", ["confidential-items"]),
    ("emis", "small", ["large-record"]),
    ("plain", "typical", ["large-record"]),
    ("cerner", None, []),
    ("emis", "enormous", []),
])
def test_contradictions_are_refused(style, volume, tags):
    with pytest.raises(gen.GenerateError):
        gen.generate(1, "s6", tags, style=style, volume=volume)


def served(tmp_path, files, sensitive=True) -> dict:
    """nhs -> the migrate Bundle of each generated persona, through the HTTP layer."""
    folder = tmp_path / "p"
    gen.write_atomically(folder, files)
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder), "access_log": False})
    client = app.test_client()
    out = {}
    for persona in app.extensions["mockprovider"].personas:
        headers = h.migrate_headers(sensitive)
        r = client.post(URL, data=json.dumps(h.migrate_body(persona.nhs_number, sensitive)), headers=headers)
        assert r.status_code == 200, r.data[:300]
        out[persona.nhs_number] = r.get_json()
    return out


@pytest.mark.parametrize("volume,least,most", [("small", 100, 600), ("typical", 500, 1500), ("heavy", 1500, 5000)])
def test_each_volume_gives_its_size_of_record(tmp_path, volume, least, most):
    files = gen.generate(1, "s7", style="emis", volume=volume)
    (bundle,) = served(tmp_path, files).values()
    assert least <= len(bundle["entry"]) <= most


PROBLEM_OF_THE_OLD = {"194828000", "22298006", "90688005", "63491006", "84114007", "49436004"}   # angina, MI, CRF, ...


def problem_codes(bundle) -> set:
    return {c["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
            for c in e["resource"]["code"]["coding"] if c["system"] == "http://snomed.info/sct"}


@pytest.mark.parametrize("style,volume", [("plain", "small"), ("plain", "typical"), ("plain", "heavy"),
                                          ("emis", "small"), ("emis", "heavy"), ("tpp", "typical")])
def test_generated_records_fit_the_person(tmp_path, style, volume):
    """Problems are drawn by age and sex: nobody under 40 has angina, a heart attack or renal failure; the
    heavy records of one run do not share one problem list."""
    files = gen.generate(6, f"fit-{style}-{volume}", style=style, volume=volume)
    people = {p["nhs_number"]: p for p in personas(files)}
    bundles = served(tmp_path, files)
    lists = []
    for nhs, bundle in bundles.items():
        born = people[nhs]["birth_date"]
        age = gen.age_at(__import__("datetime").date.fromisoformat(born))
        found = problem_codes(bundle)
        if age < 40:
            assert not found & PROBLEM_OF_THE_OLD, (nhs, born, found)
        lists.append(frozenset(found))
    assert len(set(lists)) > 1, "every generated persona has the same problem list"


def test_a_young_persona_gets_no_disease_of_old_age():
    import datetime
    data = {"nhs_number": "9990000018", "birth_date": "2000-06-01", "gender": "male",
            "supplier_record": {"style": "emis", "seed": "young", "volume": "heavy"}}
    from mockprovider.personas import supplier_records
    record = supplier_records.record(data)
    codes = {p["code"].split("|")[0] for p in record["problems"]}
    assert not codes & PROBLEM_OF_THE_OLD, codes
    for seed in range(5):
        fits = gen.large_record(seed, 60, "2000-06-01", "male")
        assert not {p["code"].split("|")[0] for p in fits["problems"]} & {"84114007", "49436004", "13645005"}
    assert gen.age_at(datetime.date(2000, 6, 1)) == 24


def test_cli_generates_a_population_the_mock_serves(tmp_path):
    out = tmp_path / "population"
    result = CliRunner().invoke(cli, ["personas", "generate", "--count", "3", "--seed", "9", "--style", "tpp",
                                      "--volume", "small", "--out", str(out)])
    assert result.exit_code == 0, result.output
    store = PersonaStore.load(out)
    assert len(store) == 3
    first = sorted(store.by_nhs_number)[0]
    assert {"full-record", "confidential-items"} <= set(store.get(first).tags)
    app = create_app({"state_dir": str(tmp_path / "state"), "personas": str(out)})
    headers = h.migrate_headers(False)
    response = app.test_client().post(URL, data=json.dumps(h.migrate_body(first, False)), headers=headers)
    assert response.status_code == 200
    check_bundle(response.get_json(), headers["Ssp-TraceID"])
    bad = CliRunner().invoke(cli, ["personas", "generate", "--count", "1", "--style", "emis", "--volume", "small",
                                   "--tags", "large-record", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "large-record" in bad.output
