"""Giving freed memory back to the system.

CPython frees a large parsed persona or a built Bundle object by object; its small-object arenas go
back when wholly empty, but glibc keeps the rest of the freed heap for reuse, so a worker that once
parsed a 50 MB import would keep its peak for as long as it lives (issue #28). ``malloc_trim(0)``
returns the free pages of every glibc arena. It costs a walk of the heap (about a millisecond), so
it is called only after something large was let go: a changed cast, a large Bundle built.
"""
from __future__ import annotations


# Blocks of at least this size get their own mapping from glibc, handed back whole when freed:
# a persona's bytes, a Bundle's bytes, the text of a large run-time persona. By default glibc
# raises this threshold as large blocks come and go (up to 32 MiB), after which a 50 MB persona's
# text is carved from the heap and leaves it fragmented when freed.
MMAP_FROM_BYTES = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3          # mallopt parameter (malloc.h)


def map_large_blocks() -> None:
    """Fix glibc's mmap threshold at :data:`MMAP_FROM_BYTES` for this process and the workers it
    forks (a no-op without glibc)."""
    libc = _libc()
    if libc is not None:
        try:
            libc.mallopt(_M_MMAP_THRESHOLD, MMAP_FROM_BYTES)
        except AttributeError:
            pass


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim          # glibc, not another libc
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC or None


_LIBC = None


def give_back_memory() -> None:
    """Return freed heap pages to the system (glibc's malloc_trim; a no-op without glibc)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
