"""Persona record sections: the built-in cast loads; every kind of mistake names file, path, reason."""
import json
from pathlib import Path

import pytest

from mockprovider.personas.store import PersonaError, PersonaStore, validate

PERSONAS = Path(__file__).resolve().parents[2] / "personas"


def main_persona():
    return json.loads((PERSONAS / "9690937286.json").read_text())


def test_builtin_personas_load():
    store = PersonaStore.load(PERSONAS)
    assert store.get("9690937286") is not None


def test_main_persona_covers_every_area():
    record = main_persona()["record"]
    for area in ("problems", "allergies", "medications", "immunisations", "observations", "investigations",
                 "referrals", "diary", "consultations"):
        assert record.get(area), area
    assert any(m.get("confidential") and m.get("problem") for m in record["medications"])
    assert any(o.get("confidential") for o in record["observations"])
    assert any("end" in a for a in record["allergies"])


def _error(mutate):
    data = main_persona()
    mutate(data)
    with pytest.raises(PersonaError) as info:
        validate(data, "x.json", PERSONAS)
    return info.value


@pytest.mark.parametrize("mutate,path", [
    (lambda d: d["record"]["medications"][0].pop("drug"), "$.record.medications[0].drug"),
    (lambda d: d["record"]["medications"][0].update(drug="Amlodipine"), "$.record.medications[0].drug"),
    (lambda d: d["record"]["medications"][0].update(problem="nope"), "$.record.medications[0].problem"),
    (lambda d: d["record"]["medications"][1].update(key="amlodipine"), "$.record.medications[1].key"),
    (lambda d: d["record"]["medications"][1].update(issues=["2020-01-01", "2020-02-01"]),
     "$.record.medications[1].issues"),
    (lambda d: d["record"]["observations"][0].update(colour="red"), "$.record.observations[0].colour"),
    (lambda d: d["record"]["observations"][1].pop("unit"), "$.record.observations[1].unit"),
    (lambda d: d["record"]["allergies"][0].update(date="yesterday"), "$.record.allergies[0].date"),
    (lambda d: d["record"]["problems"][0].update(actual="no-such-item"), "$.record.problems[0].actual"),
    (lambda d: d["record"]["problems"][0].update(related=[{"problem": "hypertension", "type": "child"}]),
     "$.record.problems[0].related[0].problem"),
    (lambda d: d["record"]["consultations"][0].update(clinicians=[{"sds_user_id": "X1", "type": "PART"}]),
     "$.record.consultations[0].clinicians[0].sds_user_id"),
    (lambda d: d["record"].update(in_transit={"date": "2024-13"}), "$.record.in_transit.date"),
    (lambda d: d["record"]["consultations"][0]["topics"][0]["headings"][1]["items"].append("ghost"),
     "$.record.consultations[0].topics[0].headings[1].items[2]"),
    (lambda d: d["record"]["consultations"][1]["topics"][0]["headings"][1]["items"].append("amlodipine"),
     "$.record.consultations[1].topics[0].headings[1].items[1]"),
    (lambda d: d["record"]["investigations"][0]["groups"][0]["results"][0].update(key="amlodipine"),
     "$.record.investigations[0].groups[0].results[0].key"),
    (lambda d: d["usual_gp"].pop("sds_user_id"), "$.usual_gp.sds_user_id"),
    (lambda d: d["registration"].update(type="X"), "$.registration.type"),
    (lambda d: d["telecom"][0].update(system="pigeon"), "$.telecom[0].system"),
    (lambda d: d["address"].update(postcode="not a postcode!"), "$.address.postcode"),
])
def test_errors_name_file_path_and_reason(mutate, path):
    error = _error(mutate)
    assert error.file == "x.json"
    assert error.path == path
    assert error.reason
