"""The built-in cast: every persona loads, is listed in personas/README.md with its true tags,
and the large record made from its seed is a valid record."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockprovider.config import Settings
from mockprovider.personas import generate, nhs_number
from mockprovider.record.check import validate_record
from mockprovider.personas.store import Checker, PersonaStore

CAST_DIR = Path(Settings().personas)
# The assurance suite's default test patients that the mock represents (assurance-suite.md §2).
SUITE_NUMBERS = {"9690937278", "9690937286", "9690937294", "9690937308", "9690937375", "9690937383",
                 "9690937391", "9690937405", "9690938533", "9690938541", "9690938576", "9690938118",
                 "9690938126", "9690938681", "9690938142"}


@pytest.fixture(scope="module")
def cast():
    return PersonaStore.load(CAST_DIR)


def cast_table() -> dict:
    text = (CAST_DIR / "README.md").read_text(encoding="utf-8")
    section = text.split("## The built-in cast", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"\d{10}", cells[0]):
            rows[cells[0]] = {"name": cells[1], "tags": re.findall(r"`([a-z0-9-]+)`", cells[2]),
                              "exercises": cells[3], "reaches": cells[4]}
    return rows


def test_every_file_loads_with_a_valid_number(cast):
    files = sorted(p.stem for p in CAST_DIR.glob("*.json") if p.name != "schema.json")
    assert sorted(cast.by_nhs_number) == files       # one file a patient, named by NHS number
    assert all(nhs_number.is_valid(n) for n in files)


def test_the_readme_cast_table_lists_every_persona_with_its_true_tags(cast):
    rows = cast_table()
    missing = sorted(set(cast.by_nhs_number) - set(rows))
    assert not missing, f"add a row for {missing} to '## The built-in cast' in personas/README.md"
    assert sorted(set(rows) - set(cast.by_nhs_number)) == []
    for number, row in rows.items():
        persona = cast.get(number)
        assert row["name"] == persona.name, number
        assert row["tags"] == persona.tags, f"{number}: README says {row['tags']}, data gives {persona.tags}"
        assert row["exercises"] and row["reaches"], number


def test_every_tag_and_rule_persona_is_on_tap(cast):
    tags = {tag for persona in cast for tag in persona.tags}
    assert tags == {"full-record", "no-documents", "sensitive", "dissent", "deceased", "unverified-nhs-number",
                    "registered-elsewhere", "confidential-items", "large-document", "oversized-document",
                    "many-documents", "large-record", "gp2gp-edge-case"}
    present = set(cast.by_nhs_number)
    assert SUITE_NUMBERS - {"9690937294"} <= present   # 9690937294 arrives with the structured record work


def test_the_all_confidential_persona_has_nothing_open(cast):
    record = cast.get("9690990004").data["record"]
    items = [item for area, values in record.items() if area != "date" for item in values]
    assert len({area for area in record if area != "date"}) == 9
    assert items and all(item.get("confidential") is True for item in items)


def test_the_large_record_is_made_from_its_seed_and_is_valid(cast):
    persona = cast.get("9690990012")
    spec = persona.data["generated_record"]
    record = persona.data["record"]
    assert record == generate.large_record(spec["seed"], spec["visits"], persona.data["birth_date"],
                                           persona.data["gender"])
    validate_record(Checker(persona.file), record, "$.record")
    assert len(record["consultations"]) == spec["visits"]


def test_old_dates_and_unicode_survive(cast):
    persona = cast.get("9690990020")
    assert persona.data["birth_date"] == "1901-02-03"
    assert persona.name == "Mrs Zoë Siân Ó Súilleabháin-Ångström"


def test_every_built_in_persona_renders_a_valid_bundle_both_ways(cast):
    """personas validate: each migrate Bundle, with and without sensitive items, validates as STU3."""
    from mockprovider.fhir import preview

    assert preview.available()
    assert preview.validate_bundles(cast) == []


def test_render_is_deterministic_and_follows_sensitivity(cast):
    import json

    from click.testing import CliRunner

    from mockprovider.cli import cli

    runner = CliRunner()
    full = runner.invoke(cli, ["render", "9690938118"])
    again = runner.invoke(cli, ["render", "9690938118", "--sensitive"])
    without = runner.invoke(cli, ["render", "9690938118", "--no-sensitive"])
    assert full.exit_code == again.exit_code == without.exit_code == 0, full.output
    assert full.stdout == again.stdout
    kinds = lambda body: [e["resource"]["resourceType"] for e in json.loads(body)["entry"]]  # noqa: E731
    assert kinds(full.stdout).count("AllergyIntolerance") == 2
    assert kinds(without.stdout).count("AllergyIntolerance") == 1     # the confidential one is left out
    assert json.loads(full.stdout)["id"] == "00000000-0000-4000-8000-000000000000"
    traced = runner.invoke(cli, ["render", "9690938118", "--trace-id", "5a6b1c0e-8f1d-4d3e-9c1a-0b2c3d4e5f60"])
    assert json.loads(traced.stdout)["id"] == "5a6b1c0e-8f1d-4d3e-9c1a-0b2c3d4e5f60"
    unknown = runner.invoke(cli, ["render", "9690937316"])
    assert unknown.exit_code == 1 and "no persona with NHS number 9690937316" in unknown.output


def test_the_readme_cast_table_is_generated_from_cast_toml(cast):
    """One source for the rules a persona reaches: personas/cast.toml feeds the README table and
    GET /_control/personas/{nhs} (the console)."""
    from mockprovider.personas import cast as cast_source

    entries = cast_source.load(CAST_DIR)
    assert sorted(entries) == sorted(cast.by_nhs_number), \
        "every built-in persona needs an entry in personas/cast.toml (and no entry without a persona)"
    readme = (CAST_DIR / "README.md").read_text(encoding="utf-8")
    assert cast_source.current_table(readme) == cast_source.readme_table(cast, entries), \
        "personas/README.md's cast table differs from personas/cast.toml: edit cast.toml, then run " \
        "`python -m mockprovider.personas.cast --write`"


def test_a_bad_cast_file_is_one_clear_error(tmp_path):
    from mockprovider.personas import cast as cast_source

    assert cast_source.load(tmp_path) == {}
    (tmp_path / "cast.toml").write_text('[[persona]]\nnhs_number = "9690937278"\nexercises = ""\nrules = ["200"]\n')
    with pytest.raises(cast_source.CastError, match=r"persona\[0\]\.exercises"):
        cast_source.load(tmp_path)


def test_the_readme_variants_table_is_generated_from_cast_toml(cast):
    """personas/README.md's "Clinical variants" table comes from cast.toml's [[variant]] entries, and
    every persona a variant names is a built-in persona."""
    from mockprovider.personas import cast as cast_source

    variants = cast_source.load_variants(CAST_DIR)
    assert len(variants) >= 30
    readme = (CAST_DIR / "README.md").read_text(encoding="utf-8")
    current = cast_source.current_table(readme, cast_source.VARIANTS_START, cast_source.VARIANTS_END)
    assert current == cast_source.variants_table(cast, variants), \
        "personas/README.md's variants table differs from personas/cast.toml: edit cast.toml, then run " \
        "`python -m mockprovider.personas.cast --write`"
    assert cast_source.readme_tables(CAST_DIR, cast) == readme


def test_a_variant_naming_no_persona_or_malformed_is_refused(tmp_path, cast):
    from mockprovider.personas import cast as cast_source

    (tmp_path / "cast.toml").write_text('[[variant]]\nvariant = "x"\npersonas = ["9690937278 (conf/N)"]\nshows = "y"\n')
    assert cast_source.variants_table(cast, cast_source.load_variants(tmp_path)).endswith(
        "| x | 9690937278 (conf/N) | y |")
    (tmp_path / "cast.toml").write_text('[[variant]]\nvariant = "x"\npersonas = ["9000000009"]\nshows = "y"\n')
    with pytest.raises(cast_source.CastError, match="names 9000000009, which is no persona"):
        cast_source.variants_table(cast, cast_source.load_variants(tmp_path))
    (tmp_path / "cast.toml").write_text('[[variant]]\nvariant = "x"\npersonas = ["conf/N"]\nshows = "y"\n')
    with pytest.raises(cast_source.CastError, match=r"variant\[0\]\.personas"):
        cast_source.load_variants(tmp_path)
