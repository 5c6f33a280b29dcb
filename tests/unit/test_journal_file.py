"""The SQLite backend's request journal: a JSON-lines file appended by every worker process."""
from __future__ import annotations

import json
import multiprocessing
import os

from mockprovider.state import journal_file
from mockprovider.state.control import SqliteControlStore
from mockprovider.state.journal_file import FileJournal


def test_newest_first_and_bounded(tmp_path):
    journal = FileJournal(str(tmp_path), 5)
    for n in range(12):
        journal.record({"n": n})
    assert [e["n"] for e in journal.entries(5)] == [11, 10, 9, 8, 7]
    assert [e["n"] for e in journal.entries(2)] == [11, 10]
    assert journal.entries(0) == []


def _append(folder: str, worker: int, count: int) -> None:
    journal = FileJournal(folder, 100_000)
    for n in range(count):
        journal.record({"worker": worker, "n": n, "pad": "x" * (n % 300)})


def test_workers_appending_at_once_never_interleave_a_line(tmp_path):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append, args=(str(tmp_path), w, 2000)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
        assert p.exitcode == 0
    lines = (tmp_path / journal_file.LIVE).read_bytes().splitlines()
    entries = [json.loads(line) for line in lines]          # every line whole JSON
    assert len(entries) == 8000
    for w in range(4):                                      # each worker's lines in its own order
        assert [e["n"] for e in entries if e["worker"] == w] == list(range(2000))


def test_rotation_keeps_at_least_the_journal_size(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_file, "ROTATE_BYTES", 2000)
    journal = FileJournal(str(tmp_path), 3)
    for n in range(1000):
        journal.record({"n": n, "pad": "y" * 40})
    assert (tmp_path / journal_file.PREVIOUS).exists()              # it did rotate
    assert os.path.getsize(tmp_path / journal_file.LIVE) <= journal.rotate_at + 100
    assert [e["n"] for e in journal.entries(3)] == [999, 998, 997]


def test_a_writer_holding_the_rotated_file_reopens_the_live_one(tmp_path):
    first, second = FileJournal(str(tmp_path), 1000), FileJournal(str(tmp_path), 1000)
    first.rotate_at = second.rotate_at = 5000
    for n in range(200):                     # ~50 bytes a line: rotations every ~100 lines
        (first if n % 2 else second).record({"n": n, "pad": "z" * 30})
    assert (tmp_path / journal_file.PREVIOUS).exists()
    kept = [e["n"] for e in first.entries(1000)]
    assert len(kept) == len(set(kept))
    # nothing written since the last rotation is lost, whichever writer rotated
    newest_rotated_away = min(kept)
    assert set(range(newest_rotated_away, 200)) <= set(kept)
    assert kept[0] in (198, 199)


def test_a_line_still_being_written_and_a_broken_line_are_skipped(tmp_path):
    journal = FileJournal(str(tmp_path), 10)
    journal.record({"n": 1})
    with open(tmp_path / journal_file.LIVE, "ab") as fh:
        fh.write(b"not json\n")
        fh.write(b'{"n": 2')                                 # no newline yet
    assert journal.entries(10) == [{"n": 1}]


def test_clear_empties_both_files_and_writing_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_file, "ROTATE_BYTES", 300)
    journal = FileJournal(str(tmp_path), 10)
    for n in range(50):
        journal.record({"n": n})
    journal.clear()
    assert journal.entries(10) == []
    journal.record({"n": "after"})
    assert journal.entries(10) == [{"n": "after"}]


def test_the_store_journal_survives_a_fork(tmp_path):
    store = SqliteControlStore({}, str(tmp_path / "state"), journal_size=10, replica="r1")
    store.record({"n": "parent"})
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=lambda: store.record({"n": "child"}))
    child.start()
    child.join()
    assert [e["n"] for e in store.journal()] == ["child", "parent"]
    assert store.journal()[0]["replica"] == "r1"
