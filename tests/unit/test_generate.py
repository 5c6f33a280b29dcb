"""The persona generator: deterministic, valid test NHS numbers, tags shape it, atomic writes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mockprovider.personas import generate as gen
from mockprovider.personas import nhs_number
from mockprovider.personas.store import PersonaStore


def contents(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_differs():
    first = gen.generate(20, "s1")
    assert first == gen.generate(20, "s1")
    other = gen.generate(20, "s2")
    assert [name for name, _ in other] != [name for name, _ in first]
    assert {body for _, body in other}.isdisjoint({body for _, body in first})


def test_nhs_numbers_are_valid_distinct_test_numbers():
    numbers = gen.test_nhs_numbers(5000, 9)
    assert len(set(numbers)) == 5000
    assert all(n.startswith("999") and nhs_number.is_valid(n) for n in numbers)
    assert gen.NOT_IN_SYSTEM not in numbers


def test_generated_personas_load_with_the_tags_asked_for(tmp_path):
    wanted = ["sensitive", "dissent", "deceased", "unverified-nhs-number", "registered-elsewhere",
              "confidential-items", "full-record"]
    gen.write_atomically(tmp_path / "out", gen.generate(15, 4, wanted))
    store = PersonaStore.load(tmp_path / "out")
    assert len(store) == 15
    for persona in store:
        assert set(wanted) | {"no-documents"} == set(persona.tags), persona
        data = persona.data
        assert data["address"]["postcode"] and data["address"]["line"]
        assert data["pds"]["registered_practice_ods"] == gen.OTHER_PRACTICE_ODS


def test_plain_generated_personas_carry_no_rule_tags(tmp_path):
    gen.write_atomically(tmp_path / "out", gen.generate(30, 5))
    for persona in PersonaStore.load(tmp_path / "out"):
        assert persona.tags in (["no-documents"], ["full-record", "no-documents"])


def test_unknown_and_contradictory_tags_are_refused():
    with pytest.raises(gen.GenerateError, match="cannot generate tag.*bogus"):
        gen.check_tags(["bogus"])
    with pytest.raises(gen.GenerateError, match="no-documents contradicts many-documents"):
        gen.generate(1, 1, ["no-documents", "many-documents"])
    with pytest.raises(gen.GenerateError, match="large-record or confidential-items"):
        gen.generate(1, 1, ["large-record", "confidential-items"])


def test_every_tag_of_the_vocabulary_can_be_generated(tmp_path):
    from mockprovider.personas.documents import generated_sha256
    from mockprovider.personas.store import TAGS
    from mockprovider.fhir import preview

    assert set(gen.SHAPEABLE) == set(TAGS)
    shapes = [("many-documents", "large-document", "oversized-document", "sensitive"),
              ("large-record", "deceased"), ("gp2gp-edge-case", "dissent")]
    for n, tags in enumerate(shapes):
        out = tmp_path / str(n)
        gen.write_atomically(out, gen.generate(1, "all-tags", tags))
        store = PersonaStore.load(out)
        (persona,) = list(store)
        assert set(tags) <= set(persona.tags)
        assert preview.validate_bundles(store) == []
    docs = PersonaStore.load(tmp_path / "0").get(persona_number(tmp_path / "0")).documents
    assert len(docs) == gen.MANY_DOCUMENTS + 2
    small = docs[0]
    assert small["sha256"] == generated_sha256(small["generate"]["size"], small["generate"]["seed"])


def persona_number(folder: Path) -> str:
    (only,) = [p.stem for p in folder.glob("*.json")]
    return only


def test_never_overwrites_without_force(tmp_path):
    out = tmp_path / "out"
    gen.write_atomically(out, gen.generate(3, 1))
    before = contents(out)
    with pytest.raises(gen.GenerateError, match="not empty.*--force"):
        gen.write_atomically(out, gen.generate(3, 2))
    assert contents(out) == before
    gen.write_atomically(out, gen.generate(2, 2), force=True)
    assert contents(out) == dict(gen.generate(2, 2))       # replaced as a whole: no stale files


def test_force_never_replaces_a_folder_with_other_things(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(gen.GenerateError, match="refusing to replace .*notes.txt"):
        gen.write_atomically(tmp_path, gen.generate(1, 1), force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_injected_failure_leaves_old_files_intact(tmp_path):
    out = tmp_path / "out"
    gen.write_atomically(out, gen.generate(5, 1))
    before = contents(out)
    with pytest.raises(OSError, match="injected"):
        gen.write_atomically(out, gen.generate(5, 2), force=True, _fail_after=3)
    assert contents(out) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]         # the temporary folder is gone


CHILD = r"""
import sys, time
from mockprovider.personas import generate as gen
files = gen.generate(10, "new")
def slow():
    for n, item in enumerate(files):
        if n == 4:
            print("writing", flush=True)
            time.sleep(60)
        yield item
gen.write_atomically(sys.argv[1], slow(), force=True)
"""


def test_a_killed_run_leaves_old_files_intact(tmp_path):
    out = tmp_path / "out"
    gen.write_atomically(out, gen.generate(6, "old"))
    before = contents(out)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert contents(out) == before
    leftovers = [p for p in tmp_path.iterdir() if p.name != "out"]
    assert all(p.name.startswith(".out.tmp-") for p in leftovers)   # hidden, never a persona folder
    gen.write_atomically(out, gen.generate(2, "after"), force=True)  # and the next run still works
    assert len(contents(out)) == 2


@pytest.mark.parametrize("tags", [(), ("full-record", "confidential-items"), ("sensitive", "dissent", "deceased",
                                                                              "unverified-nhs-number")])
def test_generated_personas_render_bundles_that_validate(tmp_path, tags):
    from mockprovider.fhir import preview

    gen.write_atomically(tmp_path / "out", gen.generate(6, "render", tags))
    store = PersonaStore.load(tmp_path / "out")
    assert preview.validate_bundles(store) == []


def test_large_record_is_deterministic_and_fills_every_area():
    from mockprovider.record.check import validate_record
    from mockprovider.personas.store import CLINICAL_AREAS, Checker

    record = gen.large_record("x", 61)
    assert record == gen.large_record("x", 61) != gen.large_record("y", 61)
    assert all(record.get(area) for area in CLINICAL_AREAS)
    validate_record(Checker("generated"), record, "$.record")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_the_next_run_removes_a_dead_runs_temporary_folder(tmp_path):
    out = tmp_path / "out"
    gen.write_atomically(out, gen.generate(2, 1))
    stale = tmp_path / f".out.tmp-{dead_pid()}"
    stale.mkdir()
    (stale / "9990000001.json").write_text("{half")
    gen.write_atomically(out, gen.generate(2, 2), force=True)
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_run_killed_between_the_two_fallback_renames_gets_its_old_folder_back(tmp_path):
    old_files = dict(gen.generate(3, "old"))
    aside = tmp_path / f".out.old-{dead_pid()}"             # the state such a kill leaves: no out
    aside.mkdir()
    for name, body in old_files.items():
        (aside / name).write_bytes(body)
    with pytest.raises(gen.GenerateError, match="--force"):
        gen.write_atomically(tmp_path / "out", gen.generate(1, "new"))
    assert contents(tmp_path / "out") == old_files
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_without_an_atomic_exchange_the_fallback_still_replaces_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    gen.write_atomically(out, gen.generate(3, 1))
    gen.write_atomically(out, gen.generate(2, 2), force=True)
    assert contents(out) == dict(gen.generate(2, 2))
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_without_syncfs_every_file_is_fsynced(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(gen, "_syncfs", lambda path: False)
    # _fsync serves files and folders alike; count the files
    monkeypatch.setattr(gen, "_fsync", lambda path: Path(path).is_file() and synced.append(Path(path).name))
    gen.write_atomically(tmp_path / "out", gen.generate(4, 1))
    assert sorted(synced) == sorted(name for name, _ in gen.generate(4, 1))


def test_same_seed_same_bytes_across_processes_and_hash_seeds(tmp_path):
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", "from mockprovider.cli import cli; cli()", "personas", "generate",
                        "--count", "20", "--seed", "x", "--out", str(out), "--tags", "confidential-items"],
                       check=True, env=env, capture_output=True, timeout=120)
        outs.append(contents(out))
    assert len(outs[0]) == 20 and outs[0] == outs[1]
