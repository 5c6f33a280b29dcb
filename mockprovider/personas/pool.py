"""Loading a large persona folder on every CPU the process may use.

Validation is plain Python work, about 0.1 ms a persona: 10,000 generated personas cost over a
second on one core, which is most of the server's cold start. For a folder of at least
:data:`PARALLEL_FROM` files, :func:`load_files` validates contiguous slices of the sorted file
list in forked processes and returns the Personas (pickled back whole, raw bytes and all) in file
order, stopping at the first error exactly where the one-process loop would: the caller still
checks duplicate NHS numbers in file order, so the error raised is the one a sequential load
raises, and a bad folder still never gives a partial cast.
"""
from __future__ import annotations

import os

from .persona import load_file
from .format import PersonaError

PARALLEL_FROM = 1000        # fewer files than this: one process (forking costs more than it saves)
SLICES_PER_PROCESS = 4      # a few slices each, so one slow slice does not hold up the rest


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _load_slice(job):
    """Personas of one slice in order, ending with ("error", file, path, reason) at the first error."""
    paths, directory = job
    out = []
    for path in paths:
        try:
            out.append(load_file(path, directory))
        except PersonaError as exc:    # sent as a tuple: PersonaError's constructor takes 3 arguments
            out.append(("error", exc.file, exc.path, exc.reason))
            break
    return out


def load_files(paths: list[str], directory: str):
    """Yield each file's Persona in file order; raise the first file's PersonaError where it occurs."""
    processes = min(cpus(), 8)
    results = None
    if len(paths) >= PARALLEL_FROM and processes >= 2:
        count = processes * SLICES_PER_PROCESS
        step = -(-len(paths) // count)
        results = _pooled([(paths[i:i + step], directory) for i in range(0, len(paths), step)], processes)
    if results is None:                 # small folder, one CPU, or a pool that broke: one process
        for path in paths:
            yield load_file(path, directory)
        return
    for item in results:
        if isinstance(item, tuple):
            raise PersonaError(item[1], item[2], item[3])
        yield item


def _pooled(jobs: list, processes: int) -> list | None:
    """Every slice's items in order, up to and including the first error; None if the pool broke.

    The pool is finished before anything is yielded, so a caller that stops early (a duplicate
    NHS number) never leaves worker processes behind; a worker that dies (killed, out of memory,
    a fork that inherited a held lock and exited) raises BrokenProcessPool, answered by the
    one-process loop instead of a wait that never ends.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    out: list = []
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            for result in pool.map(_load_slice, jobs):
                out.extend(result)
                if out and isinstance(out[-1], tuple):
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
    except BrokenProcessPool:
        return None
    return out
