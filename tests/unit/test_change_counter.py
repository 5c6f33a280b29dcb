"""The control store's change counter: shared by forked workers, never losing a bump."""
from __future__ import annotations

import multiprocessing

from mockprovider.state.change_counter import ChangeCounter
from mockprovider.state.control import SqliteControlStore


def _bump(path: str, times: int) -> None:
    counter = ChangeCounter(path)
    for _ in range(times):
        counter.bump()


def test_bumps_from_several_processes_all_count(tmp_path):
    path = str(tmp_path / "changes")
    counter = ChangeCounter(path)
    start = counter.value()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_bump, args=(path, 500)) for _ in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
        assert p.exitcode == 0
    assert int.from_bytes(counter.value(), "little") - int.from_bytes(start, "little") == 2000


def test_a_forked_child_sees_the_parents_mapping_move(tmp_path):
    counter = ChangeCounter(str(tmp_path / "changes"))
    before = counter.value()
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=counter.bump)
    child.start()
    child.join()
    assert counter.value() != before


def _set_flag(state_dir: str) -> None:
    SqliteControlStore({"validation": "strict"}, state_dir).update_flags({"validation": "lenient"})


def test_a_change_in_another_process_is_seen_at_the_next_read(tmp_path):
    state = str(tmp_path / "state")
    store = SqliteControlStore({"validation": "strict"}, state)
    assert store.current().flags["validation"] == "strict"      # cached now
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_set_flag, args=(state,))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert store.current().flags["validation"] == "lenient"
