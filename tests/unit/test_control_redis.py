"""RedisControlStore on its own, against a real redis-server of its own (killed and restarted here):
what happens to journal rows while Redis is away, and the start-up refusal."""
import time

import pytest

from mockprovider.config import Settings
from mockprovider.state.control_redis import RedisControlStore, StateStoreError, StoreUnavailable, redact
from tests.redis_server import RedisServer, free_port


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.remove()


def store_on(server, journal_size=3):
    return RedisControlStore(Settings().runtime_defaults(), server.url, journal_size, replica="r1")


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_journal_rows_wait_in_a_bounded_buffer_and_are_written_when_redis_is_back(own_redis):
    store = store_on(own_redis, journal_size=3)
    try:
        store.record({"trace_id": "before"})
        own_redis.kill()
        for n in range(5):
            store.record({"trace_id": f"down-{n}"})
        status = store.status()
        assert status["status"] == "degraded" and status["error"]
        assert status["journal_buffered"] == 3 and status["journal_dropped"] == 2   # the oldest two
        with pytest.raises(StoreUnavailable):
            store.journal()
        own_redis.start()                                 # same folder: the append-only file
        assert wait_for(lambda: store.status()["journal_buffered"] == 0)
        assert [e["trace_id"] for e in store.journal()] == ["down-4", "down-3", "down-2"]
        assert {e["replica"] for e in store.journal()} == {"r1"}
        assert store.status()["status"] == "ok"
    finally:
        store.close()


def test_rows_flushed_late_take_their_place_in_time_among_other_replicas_rows(own_redis):
    a, b = store_on(own_redis, 10), store_on(own_redis, 10)
    try:
        a.record({"trace_id": "a-1"})
        a._retry_at = time.monotonic() + 60               # a cannot reach Redis for now: it buffers
        a.record({"trace_id": "a-2"})
        time.sleep(0.01)
        b.record({"trace_id": "b-1"})
        a._retry_at = 0.0
        a._flush()
        assert [e["trace_id"] for e in b.journal()] == ["b-1", "a-2", "a-1"]
    finally:
        a.close()
        b.close()


def test_start_up_refusal_is_one_line_and_hides_the_password():
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(StateStoreError) as refused:
        RedisControlStore({}, url)
    message = str(refused.value)
    assert "\n" not in message and "s3cret" not in message and "Redis is not reachable" in message
    assert redact(url) == f"redis://user:***@127.0.0.1:{url.rsplit(':', 1)[1]}"
    with pytest.raises(StateStoreError, match="use redis://host:port/db"):
        RedisControlStore({}, "http://127.0.0.1:6379")


def test_health_counts_the_rows_every_worker_of_the_server_holds_back(own_redis, tmp_path):
    """journal_buffered / journal_dropped are the server's (every worker process sharing the state
    folder), not the one process that answered /_control/health (issue #28)."""
    import os
    store = RedisControlStore(Settings().runtime_defaults(), own_redis.url, 50, replica="r1",
                              state_dir=str(tmp_path / "state"))
    own_redis.kill()
    ready, go = os.pipe(), os.pipe()
    child = os.fork()
    if child == 0:                                       # another worker of the same server
        try:
            for n in range(4):
                store.record({"trace_id": f"child-{n}"})
            os.write(ready[1], b"x")
            os.read(go[0], 1)
        finally:
            os._exit(0)
    try:
        os.read(ready[0], 1)
        for n in range(3):
            store.record({"trace_id": f"parent-{n}"})
        assert store.status()["journal_buffered"] == 7
    finally:
        os.write(go[1], b"x")
        os.waitpid(child, 0)
    assert store.status()["journal_buffered"] == 3       # a worker that is gone holds nothing back
    store.close()
