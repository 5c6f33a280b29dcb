"""Heavy, short-lived work on a large persona in a forked child process, so the worker never holds it.

Parsing a 50 MB persona makes ~500 MB of small Python objects; building its Bundle as many again.
Freed, they leave the worker's allocators fragmented: CPython's small-object arenas stay pinned by
the few long-lived objects made meanwhile, and a worker that once served a large run-time persona
kept hundreds of MB for good (issue #28). :func:`in_child` runs such a step in a child forked
from the worker: the child parses and builds, sends back only the result (the stored text, the
persona's small parts, the Bundle's bytes) through a pipe, and exits, taking every transient
object with it. The worker allocates only what it keeps.

Only pure work runs in the child (no sockets, no control store, no logging): it closes every file
descriptor but its pipe, and leaves with ``os._exit``. If the child cannot be made, dies, or takes
longer than its time limit, the step runs here instead (the answer is the same, only the memory
differs), so nothing depends on fork being available.
"""
from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import time

log = logging.getLogger("mockprovider")

# A step over this many bytes of input goes to a child (below it, forking costs more than it saves).
OFFLOAD_FROM_BYTES = 1024 * 1024
SECONDS_PER_MB = 2.0            # the child's time limit: 30 s, plus this much per MB of input
_HEADER = 8


def in_child(size: int, fn, *args):
    """``fn(*args)``, in a forked child when ``size`` (the input's bytes) is large; its return
    value (or the exception it raised) as if called here. Both must pickle."""
    if size < OFFLOAD_FROM_BYTES or not hasattr(os, "fork"):
        return fn(*args)
    limit = 30.0 + SECONDS_PER_MB * size / (1024 * 1024)
    try:
        outcome = _fork_and_wait(fn, args, limit)
    except (_ChildFailed, OSError, ValueError) as exc:
        log.warning("could not run %s in a child process (%s): running it in the worker",
                    getattr(fn, "__name__", fn), exc)
        return fn(*args)
    kind, value = outcome
    if kind == "raise":
        raise value
    return value


class _ChildFailed(Exception):
    pass


def _fork_and_wait(fn, args, limit: float):
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise _ChildFailed(f"fork: {exc}") from None
    if pid == 0:                                        # the child: work, answer, leave
        code = 0
        try:
            os.close(read_end)
            _close_other_descriptors(write_end)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                outcome = ("ok", fn(*args))
            except Exception as exc:                    # the caller gets the same exception
                outcome = ("raise", exc)
            try:
                payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                payload = pickle.dumps(("raise", RuntimeError(f"result could not be pickled: {exc}")))
            _write_all(write_end, len(payload).to_bytes(_HEADER, "big") + payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        payload = _read_answer(read_end, time.monotonic() + limit)
    except _ChildFailed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise
    finally:
        os.close(read_end)
        _reap(pid)
    try:
        return pickle.loads(payload)
    except Exception as exc:
        raise _ChildFailed(f"its answer could not be read: {exc}") from None


def _read_answer(fd: int, deadline: float) -> bytes:
    header = _read_exactly(fd, _HEADER, deadline)
    return _read_exactly(fd, int.from_bytes(header, "big"), deadline)


def _read_exactly(fd: int, count: int, deadline: float) -> bytes:
    buffer = bytearray(count)
    view = memoryview(buffer)
    got = 0
    poller = select.poll()          # (select.select cannot wait on a descriptor over 1023)
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while got < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _ChildFailed("it took too long")
        if not poller.poll(left * 1000):
            continue
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise _ChildFailed("it exited without an answer")
        got += n
    return bytes(buffer)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _close_other_descriptors(keep: int) -> None:
    """The worker's sockets (clients, the listener, Redis) and files stay the worker's alone."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        limit = 4096
    os.closerange(3, keep)
    os.closerange(keep + 1, limit)


def _reap(pid: int) -> None:
    for _ in range(200):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
