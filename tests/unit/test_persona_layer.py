"""The run-time persona layer in one process (no Flask): what a worker serves after each change,
and the document index it updates instead of rebuilding."""
import json
from pathlib import Path

import pytest

from mockprovider.config import BUILT_IN_PERSONAS
from mockprovider.state.control import SqliteControlStore
from mockprovider.personas.documents import DocumentIndex, index
from mockprovider.personas.layer import BUILT_IN, RUN_TIME, LayeredCast
from mockprovider.personas.store import PersonaStore

NEW = "9000000009"


@pytest.fixture
def world(tmp_path):
    store = PersonaStore.load(BUILT_IN_PERSONAS)
    control = SqliteControlStore({}, str(tmp_path))
    return store, control, LayeredCast(store, control, builtin=True)


def persona(nhs=NEW, family="Layer"):
    return json.dumps({"nhs_number": nhs, "name": {"family": family}, "gender": "male", "birth_date": "1999-09-09"})


def same_index(a: DocumentIndex, b: DocumentIndex):
    assert a.by_nhs.keys() == b.by_nhs.keys()
    assert {k: [d.binary_id for d in v] for k, v in a.by_nhs.items()} == \
        {k: [d.binary_id for d in v] for k, v in b.by_nhs.items()}
    assert {k: (p.nhs_number, d.binary_id) for k, (p, d) in a.by_id.items()} == \
        {k: (p.nhs_number, d.binary_id) for k, (p, d) in b.by_id.items()}
    assert a.by_patient_id.keys() == b.by_patient_id.keys()


def test_nothing_changes_until_the_version_moves(world):
    store, control, cast = world
    assert not cast.sync(control.personas_version())
    assert cast.store is store


def test_put_replace_delete_and_reset(world):
    store, control, cast = world
    with_documents = next(p.nhs_number for p in store if p.documents)
    control.put_persona(NEW, persona())
    control.delete_persona(with_documents)
    assert cast.sync(control.personas_version())
    assert cast.store.get(NEW).name == "Layer" and cast.source(NEW) == RUN_TIME
    assert cast.store.get(with_documents) is None
    same_index(index(cast.store), DocumentIndex(cast.store))          # the update equals a rebuild
    assert not any(p.nhs_number == with_documents for p, _ in index(cast.store).by_id.values())

    kept = cast.store.get(NEW)
    control.put_persona("9690937286", persona("9690937286", "Swapped"))
    cast.sync(control.personas_version())
    assert cast.store.get(NEW) is kept                                   # unchanged text: not parsed again
    assert cast.store.get("9690937286").name == "Swapped"
    same_index(index(cast.store), DocumentIndex(cast.store))

    control.reset()
    cast.sync(control.personas_version())
    assert cast.store.by_nhs_number == store.by_nhs_number
    assert cast.source("9690937286") == BUILT_IN


def test_every_process_sees_the_store_not_its_own_copy(world, tmp_path):
    store, control, cast = world
    other = LayeredCast(store, SqliteControlStore({}, str(tmp_path)), builtin=True)   # a second worker
    control.put_persona(NEW, persona())
    assert other.sync(other.control.current().personas_version)
    assert other.store.get(NEW) is not None


def test_a_bad_entry_is_skipped_not_served(world):
    store, control, cast = world
    control.put_persona(NEW, '{"nhs_number": "9000000009"}')        # never stored by the API; still safe
    cast.sync(control.personas_version())
    assert cast.store.get(NEW) is None and len(cast.store) == len(store)


def test_reload_reads_the_folder_again(tmp_path):
    folder = tmp_path / "cast"
    folder.mkdir()
    first = sorted(Path(BUILT_IN_PERSONAS).glob("*.json"))[0]
    (folder / first.name).write_bytes(first.read_bytes())
    store = PersonaStore.load(folder)
    control = SqliteControlStore({}, str(tmp_path / "state"))
    cast = LayeredCast(store, control, builtin=False)
    (folder / "new.json").write_text(persona())
    control.reload_personas()
    cast.sync(control.personas_version())
    assert cast.store.get(NEW) is not None and cast.source(NEW) == "folder"
    control.reset()
    cast.sync(control.personas_version())
    assert cast.store.get(NEW) is None


def test_a_thread_never_reads_the_old_cast_once_the_new_version_shows(tmp_path):
    """gthread workers: while one thread swaps the cast, another that sees the new version must
    wait for the swap, not serve the old persona (the race behind a stale answer after a replace)."""
    import threading
    from mockprovider.app import create_app

    runtime = create_app({"state_dir": str(tmp_path)}).extensions["mockprovider"]
    runtime.control.put_persona(NEW, persona(family="Old"))
    runtime.sync_personas()
    runtime.control.put_persona(NEW, persona(family="New"))
    version = runtime.control.current().personas_version

    applied, release = threading.Event(), threading.Event()
    original = runtime.cast._apply

    def slow_apply(layer):
        original(layer)                 # the cast is new now ...
        applied.set()
        release.wait(5)                 # ... and the swapping thread is paused before it returns

    runtime.cast._apply = slow_apply
    first = threading.Thread(target=runtime.sync_personas, args=(version,))
    first.start()
    assert applied.wait(5)
    seen = []

    def request_thread():               # what fhir_views.dispatch does, then reads the cast
        if version > runtime.personas_version:
            runtime.sync_personas(version)
        seen.append(runtime.personas.get(NEW).name)

    second = threading.Thread(target=request_thread)
    second.start()
    second.join(0.3)
    assert second.is_alive(), "the second thread must wait for the swap"
    release.set()
    first.join(5)
    second.join(5)
    assert seen == ["New"]
