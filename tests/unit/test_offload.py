"""mockprovider.process.offload: a large step runs in a forked child and answers as if run here."""
import os

import pytest

from mockprovider.process import offload
from mockprovider.personas.format import PersonaError

BIG = offload.OFFLOAD_FROM_BYTES


def whose(value):
    return os.getpid(), value * 2


def refuse():
    raise PersonaError("f.json", "$.gender", "'x' must be one of male, female")


def test_a_large_step_runs_in_a_child_and_returns_its_value():
    pid, value = offload.in_child(BIG, whose, 21)
    assert value == 42 and pid != os.getpid()


def test_a_small_step_runs_here():
    assert offload.in_child(BIG - 1, whose, 1) == (os.getpid(), 2)


def test_the_childs_exception_is_raised_here_with_its_fields():
    with pytest.raises(PersonaError) as raised:
        offload.in_child(BIG, refuse)
    assert (raised.value.file, raised.value.path, raised.value.reason) == ("f.json", "$.gender",
                                                                           "'x' must be one of male, female")


def test_a_child_that_dies_means_the_step_runs_here():
    calls = []

    def once():
        calls.append(os.getpid())
        if len(calls) == 1 and os.getpid() != parent:
            os._exit(3)
        return "here"
    parent = os.getpid()
    assert offload.in_child(BIG, once) == "here"


def test_works_with_descriptors_over_1023():
    held = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            held.append(fd)
            if fd > 1100:
                break
    except OSError:
        pytest.skip("cannot open that many files here")
    try:
        pid, value = offload.in_child(BIG, whose, 2)
        assert value == 4 and pid != os.getpid()
    finally:
        for fd in held:
            os.close(fd)
