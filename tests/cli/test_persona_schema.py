"""personas/schema.json: the persona format as a JSON Schema, and `personas validate` reporting
every mistake of a file at once, each with its JSON path."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mockprovider import record
from mockprovider.cli import cli
from mockprovider.personas import generate as gen
from mockprovider.record.common import COMMON_OPTIONAL, COMMON_REQUIRED

PERSONAS = Path(__file__).resolve().parents[2] / "personas"
SCHEMA = json.loads((PERSONAS / "schema.json").read_text())


@pytest.fixture(scope="module")
def validator():
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA)


def test_every_built_in_persona_matches_the_schema(validator):
    files = sorted(p for p in PERSONAS.glob("*.json") if p.name != "schema.json")
    assert len(files) >= 20
    for path in files:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(json.loads(path.read_text()))]
        assert not errors, f"{path.name}: {errors}"


def test_generated_personas_match_the_schema(validator):
    for tags in ([], ["full-record", "confidential-items"], ["many-documents"]):
        for name, body in gen.generate(3, "schema", tags):
            assert not list(validator.iter_errors(json.loads(body))), name


def test_each_clinical_area_module_and_the_schema_name_the_same_fields():
    """One area, one place: the schema's item fields are the record module's fields."""
    for area in record.AREAS:
        definition = SCHEMA["$defs"][area.FIELD]
        schema_fields = {name for name, rule in definition["properties"].items() if rule is not False}
        schema_fields |= set(SCHEMA["$defs"]["itemCommon"]["properties"])
        if area.FIELD == "observations":
            schema_fields |= set(SCHEMA["$defs"]["values"]["properties"])
        forbidden = {name for name, rule in definition["properties"].items() if rule is False}
        module_fields = set(COMMON_REQUIRED + COMMON_OPTIONAL + area.REQUIRED + area.OPTIONAL)
        if "problem" not in area.OPTIONAL and area.FIELD in ("problems", "consultations"):
            assert "problem" in forbidden
        assert schema_fields - forbidden == module_fields, area.FIELD


def test_validate_reports_every_mistake_of_a_file_with_its_json_path(tmp_path):
    data = json.loads((PERSONAS / "9690990047.json").read_text())
    data["gender"] = "f"                                              # not one of the genders
    data["record"]["medications"][0]["drug"] = "metformin"            # not "<code>|<term>"
    data["record"]["medications"][1]["colour"] = "red"                # not a field
    del data["record"]["problems"][0]["code"]                         # required
    data["record"]["problems"][1]["related"] = [{"problem": "no-such-problem", "type": "child"}]  # a broken link
    (tmp_path / "9690990047.json").write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["personas", "validate", "--no-render", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    paths = [line.split(": ")[2] for line in lines]
    # in the order the file has them (the persona contract, issue #24)
    assert paths == ["$.gender", "$.record.problems[0].code", "$.record.problems[1].related[0].problem",
                     "$.record.medications[0].drug", "$.record.medications[1].colour"], result.stderr
    assert "is required" in lines[1] and "no-such-problem" in lines[2] and "is not a known field" in lines[4]
    assert all(str(tmp_path / "9690990047.json") in line for line in lines)


def test_a_persona_may_name_the_schema_for_editors(tmp_path):
    data = json.loads((PERSONAS / "9690937278.json").read_text())
    data["$schema"] = "schema.json"
    (tmp_path / "9690937278.json").write_text(json.dumps(data))
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))     # not taken for a persona
    result = CliRunner().invoke(cli, ["personas", "validate", "--no-render", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 persona loaded" in result.output


def test_generate_variants_all_is_deterministic_and_renders_each_variant(tmp_path, validator):
    runner = CliRunner()
    for out in ("a", "b"):
        result = runner.invoke(cli, ["personas", "generate", "--count", "2", "--seed", "v", "--variants", "all",
                                     "--out", str(tmp_path / out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.json")}
    assert a == {p.name: p.read_bytes() for p in (tmp_path / "b").glob("*.json")} and len(a) == 6
    # the two regular personas are the ones generated without --variants
    plain = dict(gen.generate(2, "v"))
    assert all(a[name] == body for name, body in plain.items())
    for body in a.values():
        assert not list(validator.iter_errors(json.loads(body)))
    from mockprovider.personas.store import PersonaStore
    from mockprovider.fhir import preview
    store = PersonaStore.load(tmp_path / "a")
    shown = set()
    for persona in store:
        if persona.nhs_number + ".json" in plain:
            continue
        body = preview.migrate_bundle_bytes(store, persona, True).decode()
        for marker, variant in (("data-in-transit", "lists"), ("Extension-CareConnect-GPC-ActualProblem-1", "links"),
                                ("repeat-dispensing", "medications"), ('"notGiven":true', "child")):
            if marker in body:
                shown.add(variant)
    assert shown == set(gen.VARIANTS)


def test_generate_rejects_an_unknown_variant(tmp_path):
    result = CliRunner().invoke(cli, ["personas", "generate", "--count", "1", "--variants", "nope",
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "unknown variant nope" in result.output
