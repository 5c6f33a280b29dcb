"""The personas CLI: list --json shape, show, validate, generate (deterministic, --force)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mockprovider.cli import cli
from mockprovider.personas import nhs_number
from mockprovider.personas.store import TAGS, PersonaStore
from mockprovider.config import Settings


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(a) for a in args], env=env or {}, catch_exceptions=False)
    return invoke


def test_list_json_shape_over_the_built_in_cast(run):
    result = run("personas", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    store = PersonaStore.load(Settings().personas)
    assert len(rows) == len(store) >= 1
    for row in rows:
        assert {"nhs_number", "name", "registered_practice_ods", "tags"} <= set(row)
        assert nhs_number.is_valid(row["nhs_number"])
        assert isinstance(row["name"], str) and row["name"]
        assert row["registered_practice_ods"] is None or isinstance(row["registered_practice_ods"], str)
        assert set(row["tags"]) <= set(TAGS)
    assert "9690937286" in {row["nhs_number"] for row in rows}


def test_list_and_show_follow_the_personas_option_and_env(run, tmp_path):
    assert run("personas", "generate", "--count", 3, "--seed", 1, "--out", tmp_path / "g",
               "--tags", "sensitive", "--tags", "dissent").exit_code == 0
    rows = json.loads(run("personas", "list", "--json", env={"MOCKPROVIDER_PERSONAS": str(tmp_path / "g")}).stdout)
    assert len(rows) == 3
    assert all(row["tags"] == ["no-documents", "sensitive", "dissent"] or
               row["tags"] == ["full-record", "no-documents", "sensitive", "dissent"] for row in rows)
    text = run("personas", "list", "--personas", tmp_path / "g").stdout
    assert rows[0]["nhs_number"] in text and rows[0]["name"] in text
    shown = json.loads(run("personas", "show", rows[0]["nhs_number"], "--personas", tmp_path / "g").stdout)
    assert shown["persona"]["nhs_number"] == rows[0]["nhs_number"]
    assert shown["tags"] == rows[0]["tags"]
    missing = run("personas", "show", "9690937278", "--personas", tmp_path / "g")
    assert missing.exit_code == 1 and "no persona with NHS number 9690937278" in missing.output


def test_generate_twice_with_one_seed_is_byte_identical_another_seed_differs(run, tmp_path):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        result = run("personas", "generate", "--count", 25, "--seed", seed, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
    files = {name: {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()} for name in "abc"}
    assert len(files["a"]) == 25
    assert files["a"] == files["b"]
    assert set(files["a"]).isdisjoint(files["c"])


def test_generate_refuses_to_overwrite_without_force(run, tmp_path):
    out = tmp_path / "out"
    assert run("personas", "generate", "--count", 2, "--out", out).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    refused = run("personas", "generate", "--count", 2, "--seed", 9, "--out", out)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert sorted(p.name for p in out.iterdir()) == before
    assert run("personas", "generate", "--count", 2, "--seed", 9, "--out", out, "--force").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) != before


def test_generate_refuses_unknown_tags(run, tmp_path):
    result = run("personas", "generate", "--count", 1, "--out", tmp_path / "o", "--tags", "vip")
    assert result.exit_code == 1 and "cannot generate tag(s) vip" in result.output
    assert not (tmp_path / "o").exists()


def test_validate_reports_every_broken_file_and_exits_1(run, tmp_path):
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.json").write_text(json.dumps({"nhs_number": "1234567890", "name": {"family": "X"},
                                                 "gender": "male", "birth_date": "1990-01-01"}))
    result = run("personas", "validate", tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path / 'a.json'}: $: is not valid JSON" in result.output
    assert f"{tmp_path / 'b.json'}: $.nhs_number: '1234567890' is not a valid NHS number" in result.output


def test_validate_the_built_in_cast(run):
    result = run("personas", "validate")
    assert result.exit_code == 0, result.output
    assert " 0 errors" in result.output



def test_validate_reports_a_bundle_that_does_not_validate(run, tmp_path, monkeypatch):
    from mockprovider.fhir import structured

    assert run("personas", "generate", "--count", 2, "--seed", 3, "--out", tmp_path / "g").exit_code == 0
    real = structured.structured_bundle

    def broken(*args, **kwargs):
        bundle = real(*args, **kwargs)
        bundle["entry"][0]["resource"]["date"] = "yesterday"   # a List.date that is not a dateTime
        return bundle
    monkeypatch.setattr(structured, "structured_bundle", broken)
    result = run("personas", "validate", tmp_path / "g")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 4                                # 2 personas x with/without sensitive items
    assert all(": $: rendered Bundle (sensitive=" in line and "is invalid" in line for line in lines)
