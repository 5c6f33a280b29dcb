"""A large folder is validated in forked processes: the same cast, or the same first error, as one process."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mockprovider.personas import pool as persona_pool
from mockprovider.personas.store import PersonaError, PersonaStore

BUILT_IN = Path(__file__).resolve().parents[2] / "personas"


@pytest.fixture
def parallel(monkeypatch):
    """Every load in the test goes through the pool (any size, two processes)."""
    monkeypatch.setattr(persona_pool, "PARALLEL_FROM", 1)
    monkeypatch.setattr(persona_pool, "cpus", lambda: 2)


def sequential_load(monkeypatch, folder):
    with monkeypatch.context() as m:
        m.setattr(persona_pool, "PARALLEL_FROM", 10 ** 9)
        return PersonaStore.load(folder)


def copy_cast(tmp_path) -> Path:
    folder = tmp_path / "cast"
    shutil.copytree(BUILT_IN, folder)
    return folder


def test_pool_gives_the_same_cast(parallel, monkeypatch):
    pooled = PersonaStore.load(BUILT_IN)
    one = sequential_load(monkeypatch, BUILT_IN)
    assert list(pooled.by_nhs_number) == list(one.by_nhs_number)
    for a, b in zip(pooled, one):
        assert (a.file, a.tags, a.name, a.registered_practice_ods, a.documents) == \
               (b.file, b.tags, b.name, b.registered_practice_ods, b.documents)
        assert a.data == b.data
    assert sorted(pooled.documents.by_id) == sorted(one.documents.by_id)


def first_error(load, folder) -> tuple:
    with pytest.raises(PersonaError) as info:
        load(folder)
    return info.value.file, info.value.path, info.value.reason


@pytest.mark.parametrize("mistake", ["broken json", "bad field", "duplicate number"])
def test_pool_raises_the_first_error_a_sequential_load_raises(parallel, monkeypatch, tmp_path, mistake):
    folder = copy_cast(tmp_path)
    files = sorted(folder.glob("*.json"))
    middle = files[len(files) // 2]
    if mistake == "broken json":
        middle.write_text('{"nhs_number": ', encoding="utf-8")
    elif mistake == "bad field":
        data = json.loads(middle.read_text(encoding="utf-8"))
        data["gender"] = "robot"
        middle.write_text(json.dumps(data), encoding="utf-8")
    else:
        data = json.loads(files[0].read_text(encoding="utf-8"))
        (folder / "99999999999-duplicate.json").write_text(json.dumps(data), encoding="utf-8")
    # A second, later mistake that must not be the one reported.
    (folder / "zzzz-later.json").write_text("not json", encoding="utf-8")
    pooled = first_error(PersonaStore.load, folder)
    one = first_error(lambda f: sequential_load(monkeypatch, f), folder)
    assert pooled == one
    assert "zzzz-later" not in pooled[0]


def _worker_dies(job):
    os._exit(3)


def test_a_worker_that_dies_falls_back_to_one_process(parallel, monkeypatch):
    """A pool whose worker exits (killed, out of memory) must not hang the load: one process instead."""
    monkeypatch.setattr(persona_pool, "_load_slice", _worker_dies)
    fallback = PersonaStore.load(BUILT_IN)
    one = sequential_load(monkeypatch, BUILT_IN)
    assert list(fallback.by_nhs_number) == list(one.by_nhs_number)
