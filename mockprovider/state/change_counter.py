"""A change counter shared by every process of a server: 8 bytes of a memory-mapped file.

The SQLite control store bumps it after each committed change; a reader compares it with the
value its cache was loaded at. Reading is a memory read (no system call), where asking SQLite
(``PRAGMA data_version``) took a read transaction and its file-lock calls on every request.

The mapping is shared (``MAP_SHARED``) and survives ``fork``, so gunicorn's workers see the same
bytes as the master that made it. A bump takes an ``flock`` on the file, opened anew each time
(a lock on an inherited descriptor would be shared with the parent), so two writers never lose an
increment. A reader that catches a bump half-written sees a value that differs from its own and
re-reads the state: the worst a torn read can do is one extra re-read.
"""
from __future__ import annotations

import fcntl
import mmap
import os

SIZE = 8


class ChangeCounter:
    def __init__(self, path: str):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)          # zeros; two servers doing this at once agree
            self._map = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)

    def value(self) -> bytes:
        return self._map[:SIZE]

    def bump(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            count = int.from_bytes(self._map[:SIZE], "little")
            self._map[:SIZE] = ((count + 1) % (1 << 64)).to_bytes(SIZE, "little")
        finally:
            os.close(fd)                        # (closing releases the lock)
