"""The request journal of the SQLite backend: JSON lines appended to a file in the state folder.

One request, one ``os.write`` of one line to a file opened ``O_APPEND`` (about 2 us). The SQLite
INSERT it replaces cost about 34 us a request (4 pwrite and 6 fcntl calls), a sixth of the
gate's whole budget. Every worker of a server appends to the same file; Linux gives each
``O_APPEND`` write to a regular file its own place at the end, so lines never interleave.

Bounded: when the live file (``journal.jsonl``) passes :data:`ROTATE_BYTES` or four times the
journal size in lines, whichever is larger, one writer (under an ``flock``) renames it to
``journal.1.jsonl``, replacing the one before, and starts a new live file. A reader reads the
previous file then the live one and keeps the newest ``journal_size`` lines, so at least that many
are always there. A writer that still holds the renamed file notices (the live path's inode
changed) within :data:`CHECK_EVERY` writes and reopens; lines written in between land in the
previous file, which is read too (a second rotation needs a megabyte more first).

A reader skips a last line still being written (no newline yet) and a line that is not JSON.

An entry is written when its answer is ready; how the answer went out (``total_ms``,
``bytes_sent``, ``complete``) is known only when it is over, possibly seconds later, so it is one
more line, ``{"_finish": <id>, ...fields}``, naming the entry's ``_id`` (this process's id and a
serial). A reader, going newest first, meets the finishing line before its entry and merges it
in; neither ``_id`` nor a finishing line is ever shown.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import threading

LIVE = "journal.jsonl"
PREVIOUS = "journal.1.jsonl"
LOCK = "journal.lock"
ROTATE_BYTES = 1 << 20          # 1 MiB: a few thousand entries
# One encoder for every line: json.dumps with separators builds a new JSONEncoder per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
CHECK_EVERY = 16                # writes between looks at the live file (rotation by anyone, size)


class FileJournal:
    def __init__(self, folder: str, size: int):
        self.folder = folder
        self.size = size
        self.live = os.path.join(folder, LIVE)
        self.previous = os.path.join(folder, PREVIOUS)
        self.lock_path = os.path.join(folder, LOCK)
        self.rotate_at = max(ROTATE_BYTES, 4 * size * 512)
        self._fd = None               # (pid, fd, inode) of the live file this process appends to
        self._writes = 0
        self._serial = itertools.count(1)
        self._open_lock = threading.Lock()
        self._open()

    # --- writing ---------------------------------------------------------------------------------------
    def _open(self):
        fd = os.open(self.live, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        state = (os.getpid(), fd, os.fstat(fd).st_ino)
        old, self._fd = self._fd, state
        if old is not None:
            try:
                os.close(old[1])      # after a fork, the child's inherited copy: the parent keeps its own
            except OSError:
                pass
        return state

    def _current(self):
        """This process's fd on the live file, reopened after a fork or another writer's rotation."""
        state = self._fd
        try:
            inode = os.stat(self.live).st_ino
        except FileNotFoundError:
            inode = None
        if state is None or state[0] != os.getpid() or state[2] != inode:
            with self._open_lock:
                state = self._fd
                if state is None or state[0] != os.getpid() or state[2] != inode:
                    state = self._open()
        return state

    def record(self, entry: dict) -> str:
        """Append the entry; returns its id, for :meth:`finish`."""
        token = f"{os.getpid()}:{next(self._serial)}"
        self._write((_ENCODE({**entry, "_id": token}) + "\n").encode("utf-8"))
        return token

    def finish(self, token: str, fields: dict) -> None:
        """Add fields to the entry ``token`` names (how its answer went out)."""
        self._write((_ENCODE({"_finish": token, **fields}) + "\n").encode("utf-8"))

    def _write(self, line: bytes) -> None:
        self._writes += 1
        state = self._fd
        if self._writes % CHECK_EVERY == 0 or state is None or state[0] != os.getpid():
            state = self._current()
            os.write(state[1], line)
            if os.fstat(state[1]).st_size > self.rotate_at:
                self._rotate(state[1])
        else:
            os.write(state[1], line)

    def _rotate(self, fd: int) -> None:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                # another writer may have rotated already: only rotate the file we wrote to
                if os.stat(self.live).st_ino == os.fstat(fd).st_ino:
                    os.replace(self.live, self.previous)
                    with self._open_lock:
                        self._open()
            except FileNotFoundError:
                pass

    # --- reading ---------------------------------------------------------------------------------------
    def entries(self, limit: int) -> list[dict]:
        """The newest ``limit`` entries, newest first."""
        if limit <= 0:
            return []
        lines: list[bytes] = []
        for path in (self.previous, self.live):
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                continue
            if not data.endswith(b"\n"):
                data = data[:data.rfind(b"\n") + 1]       # a line still being written
            lines.extend(data.splitlines())
        out = []
        finished: dict = {}
        for raw in reversed(lines):
            try:
                row = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(row, dict):
                continue
            if "_finish" in row:
                finished[row.pop("_finish")] = row
                continue
            later = finished.pop(row.pop("_id", None), None)
            if later:
                row.update(later)
            out.append(row)
            if len(out) == limit:
                break
        return out

    def clear(self) -> None:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for path in (self.previous, self.live):
                try:
                    os.truncate(path, 0)
                except FileNotFoundError:
                    pass
