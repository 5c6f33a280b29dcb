"""Three replicas behind a load balancer, sharing one Redis (MOCKPROVIDER_STATE_URL).

Real components throughout: Debian's ``redis-server`` on a free loopback port in its own folder,
three ``mockprovider serve`` (gunicorn, 2 workers each) and Debian's nginx running the very
``deploy/nginx.conf`` that docker-compose.yml mounts (only the upstream addresses, the port and
nginx's own paths are swapped for loopback ones), round robin in front. ``make test`` installs
redis-server and nginx when they are missing; nothing here skips for want of them.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mockprovider.control_client import ControlClient, ControlError
from tests import helpers as h
from tests.live.conftest import LiveServer, free_port
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
META = h.STRUCTURED + "/metadata"
REPLICAS = ("mock-1", "mock-2", "mock-3")


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None)
    if not found:
        raise RuntimeError("nginx is not installed: `make test` installs it (apt-get install nginx-light)")
    return found


def loopback_conf(ports: list[int], listen: int, folder: Path) -> str:
    """deploy/nginx.conf with loopback upstreams, port and temp paths (nothing else changed)."""
    text = NGINX_CONF.read_text()
    servers = re.findall(r"server (mock-\d):8080;", text)
    assert servers == list(REPLICAS), servers        # the compose file's three replicas
    for name, port in zip(REPLICAS, ports):
        text = text.replace(f"server {name}:8080;", f"server 127.0.0.1:{port};")
    assert "listen 8080;" in text
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    # one worker: a strict rotation over the three replicas
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    temp = "".join(f"    {kind}_temp_path {folder / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return text.replace("http {\n", "http {\n" + temp, 1)


class Nginx:
    def __init__(self, ports: list[int]):
        self.folder = Path(tempfile.mkdtemp(prefix="mockprovider-nginx-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self.folder / "nginx.conf"
        self.conf.write_text(loopback_conf(ports, self.port, self.folder))
        self.argv = [nginx_binary(), "-p", str(self.folder), "-c", str(self.conf), "-e", "stderr",
                     "-g", f"daemon off; pid {self.folder / 'nginx.pid'};"
                     + (" user root;" if os.geteuid() == 0 else "")]
        check = subprocess.run(self.argv + ["-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.log = open(self.folder / "nginx.log", "wb")
        self.process = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if send(self.port, "GET", "/_control/health")[0] == 200:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not answer: " + (self.folder / "nginx.log").read_text())

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def send(port: int, method: str, path: str, headers=None, body: bytes | None = None):
    """One request on a new connection: (status or None, parsed JSON body or raw bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        connection.close()


class Cluster:
    def __init__(self, redis: RedisServer, journal_size: int = 500):
        self.redis = redis
        env = {"MOCKPROVIDER_STATE_URL": redis.url, "MOCKPROVIDER_JOURNAL_SIZE": str(journal_size)}
        self.servers, self.proxy = [], None
        try:
            for name in REPLICAS:
                self.servers.append(LiveServer(workers=2, env={**env, "MOCKPROVIDER_REPLICA": name}))
            self.proxy = Nginx([s.port for s in self.servers])
        except BaseException:
            self.stop()
            raise
        self.control = ControlClient(self.proxy.url, timeout=30)

    def meta(self, port=None, **changes):
        return send(port or self.proxy.port, "GET", META, h.metadata_headers(**changes))[0]

    def stop(self):
        if self.proxy is not None:
            self.proxy.stop()
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="module")
def cluster():
    redis = RedisServer().start()
    try:
        cluster = Cluster(redis)
        yield cluster
        cluster.stop()
    finally:
        redis.remove()


@pytest.fixture(autouse=True)
def _fresh(request):
    if "cluster" in request.fixturenames:
        cluster = request.getfixturevalue("cluster")
        if not cluster.redis.ping():
            cluster.redis.start()
        wait_healthy(cluster)
        cluster.control.reset()
    yield


def wait_healthy(cluster, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.control.health()["status"] == "ok" for s in cluster.servers):
            return
        time.sleep(0.1)
    raise AssertionError([s.control.health() for s in cluster.servers])


def workers_of(server) -> list[int]:
    pid = server.process.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


def in_parallel(count, call):
    results = [None] * count

    def one(i):
        results[i] = call()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


# --- the load balancer rotates over every replica ----------------------------------------------------------
def test_round_robin_reaches_every_replica_and_the_journal_merges_them(cluster):
    sent = [h.metadata_headers() for _ in range(9)]
    for headers in sent:
        assert send(cluster.proxy.port, "GET", META, headers)[0] == 200
    journal = cluster.control.requests()
    assert [e["trace_id"] for e in journal] == [s["Ssp-TraceID"] for s in sent[::-1]]   # newest first
    assert sorted(e["replica"] for e in journal) == sorted(REPLICAS * 3)
    for server in cluster.servers:            # every replica reads the same merged journal
        assert [e["trace_id"] for e in server.control.requests()] == [e["trace_id"] for e in journal]


def test_times_five_fires_exactly_five_times_across_replicas(cluster):
    rule = cluster.control.add_fault({"kind": "error", "status": 503, "times": 5,
                                      "match": {"interaction": "metadata_structured"}})
    statuses = in_parallel(30, cluster.meta)
    assert sorted(statuses) == [200] * 25 + [503] * 5, statuses
    journal = cluster.control.requests()
    faulted = [e for e in journal if e.get("fault")]
    assert len(faulted) == 5 and all(e["fault"]["rules"] == [rule["id"]] for e in faulted)
    assert {e["replica"] for e in journal} == set(REPLICAS)
    assert cluster.control.faults() == []          # spent: gone from every replica
    assert [cluster.meta(s.port) for s in cluster.servers] == [200, 200, 200]


def test_fail_twice_then_succeed_counts_across_replicas(cluster):
    cluster.control.add_fault({"kind": "error", "code": "NO_RECORD_FOUND", "times": 2})
    # one request to each replica in turn: two failures in total, wherever they land
    assert [cluster.meta(s.port) for s in cluster.servers] == [404, 404, 200]


def test_flag_flip_is_seen_by_the_next_request_on_every_replica(cluster):
    servers = cluster.servers
    for round_ in range(6):
        lenient = round_ % 2 == 0
        writer = servers[round_ % 3]                # each replica takes a turn at the change
        writer.control.flags({"validation": "lenient" if lenient else "strict"})
        expected = 200 if lenient else 400          # Ssp-From missing: lenient accepts, strict refuses
        assert [cluster.meta(s.port, Ssp_From=None) for s in servers] == [expected] * 3, round_


def test_fault_rule_added_anywhere_applies_everywhere_at_once(cluster):
    rule = cluster.servers[2].control.add_fault({"kind": "error", "status": 502})
    assert [cluster.meta(s.port) for s in cluster.servers] == [502, 502, 502]
    cluster.servers[0].control.delete_fault(rule["id"])
    assert [cluster.meta(s.port) for s in cluster.servers] == [200, 200, 200]


NEW_NHS = "9000000009"           # a valid NHS number no built-in persona uses
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"


def migrate(port, nhs=NEW_NHS):
    """(status, Patient family name or Spine code) of one migrate structured request."""
    status, body = send(port, "POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body(nhs)).encode())
    data = json.loads(body)
    if status == 200:
        patient = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
        return status, patient["name"][0]["family"]
    return status, data["issue"][0]["details"]["coding"][0]["code"]


def test_persona_put_and_delete_are_seen_by_the_next_request_on_every_replica(cluster):
    servers = cluster.servers
    assert [migrate(s.port) for s in servers] == [(404, "PATIENT_NOT_FOUND")] * 3   # every worker warm
    for round_, family in enumerate(("Everywhere", "Replaced", "Again")):
        persona = {"nhs_number": NEW_NHS, "name": {"family": family, "given": ["Eve"]},
                   "gender": "female", "birth_date": "1970-01-01"}
        servers[round_ % 3].control.put_persona(NEW_NHS, persona)     # each replica takes a turn
        assert [migrate(s.port) for s in servers] == [(200, family)] * 3, round_
    servers[1].control.delete_persona(NEW_NHS)
    assert [migrate(s.port) for s in servers] == [(404, "PATIENT_NOT_FOUND")] * 3
    sources = {row["nhs_number"]: row["source"] for row in servers[2].control.personas()}
    assert NEW_NHS not in sources


def test_reset_through_any_replica_resets_them_all(cluster):
    cluster.servers[0].control.flags({"structured_enabled": False})
    cluster.servers[1].control.add_fault({"kind": "malformed"})
    cluster.meta()
    cluster.servers[0].control.put_persona(NEW_NHS, {"nhs_number": NEW_NHS, "name": {"family": "Temp"},
                                                     "gender": "male", "birth_date": "1990-01-01"})
    assert [cluster.meta(s.port) for s in cluster.servers] == [200] * 3     # malformed: 200, not JSON
    cluster.servers[2].control.reset()
    for server in cluster.servers:
        assert server.control.flags()["structured_enabled"] is True
        assert server.control.faults() == [] and server.control.requests() == []
    assert [migrate(s.port) for s in cluster.servers] == [(404, "PATIENT_NOT_FOUND")] * 3


def test_journal_stays_bounded_across_replicas():
    redis = RedisServer().start()
    cluster = Cluster(redis, journal_size=5)
    try:
        sent = [h.metadata_headers() for _ in range(12)]
        for headers in sent:
            send(cluster.proxy.port, "GET", META, headers)
        journal = cluster.control.requests()
        assert [e["trace_id"] for e in journal] == [s["Ssp-TraceID"] for s in sent[::-1][:5]]
        assert int(redis.command("ZCARD", "mockprovider:journal").split(b":")[1]) == 5
    finally:
        cluster.stop()
        redis.remove()


# --- Redis goes away and comes back --------------------------------------------------------------------------
def test_redis_killed_and_back_loses_nothing(cluster):
    control = cluster.control
    control.flags({"validation": "lenient", "error_display": "guidance"})
    forever = control.add_fault({"kind": "error", "code": "NO_RECORD_FOUND",
                                 "match": {"from_asid": "111111111111"}})
    counted = control.add_fault({"kind": "error", "status": 503, "times": 3,
                                 "match": {"from_asid": "222222222222"}})
    control.put_persona(NEW_NHS, {"nhs_number": NEW_NHS, "name": {"family": "Kept", "given": ["Kim"]},
                                  "gender": "female", "birth_date": "1975-05-05"})
    assert cluster.meta(Ssp_From="222222222222") == 503       # one use of three

    cluster.redis.kill()
    for server in cluster.servers:
        health = server.control.health()
        assert health["status"] == "degraded" and health["store"]["status"] == "degraded", health
        # last known state: the lenient flag and the uncounted rule still apply...
        assert cluster.meta(server.port, Ssp_From=None) == 200
        assert cluster.meta(server.port, Ssp_From="111111111111") == 404
        # ...a counted rule cannot be charged, so it does not fire (it never over-fires)
        assert cluster.meta(server.port, Ssp_From="222222222222") == 200
        assert migrate(server.port) == (200, "Kept")                   # the run-time persona too
        with pytest.raises(ControlError) as refused:             # a change cannot be made: 503, said so
            server.control.flags({"validation": "strict"})
        assert refused.value.status == 503
    # a worker (re)started during the outage starts from its server's last known copy too
    restarted = cluster.servers[0]
    old = workers_of(restarted)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (len(workers_of(restarted)) == 2 and not set(workers_of(restarted)) & set(old)):
        time.sleep(0.1)
    assert len(workers_of(restarted)) == 2 and not set(workers_of(restarted)) & set(old)
    assert [cluster.meta(restarted.port, Ssp_From="111111111111") for _ in range(4)] == [404] * 4
    assert [cluster.meta(restarted.port, Ssp_From=None) for _ in range(4)] == [200] * 4
    assert [migrate(restarted.port) for _ in range(4)] == [(200, "Kept")] * 4
    made_while_down = [h.metadata_headers() for _ in range(6)]
    for headers in made_while_down:
        assert send(cluster.proxy.port, "GET", META, headers)[0] == 200
    assert sum(s.control.health()["store"]["journal_buffered"] for s in cluster.servers) >= 6

    cluster.redis.start()                                        # same port, same folder (AOF)
    wait_healthy(cluster)
    for server in cluster.servers:
        flags = server.control.flags()
        assert flags["validation"] == "lenient" and flags["error_display"] == "guidance"
        rules = {r["id"]: r for r in server.control.faults()}
        assert set(rules) == {forever["id"], counted["id"]} and rules[counted["id"]]["remaining"] == 2
        assert migrate(server.port) == (200, "Kept")
    # the journal rows made while Redis was down were flushed when it came back
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        traces = {e["trace_id"] for e in control.requests()}
        if {hd["Ssp-TraceID"] for hd in made_while_down} <= traces:
            break
        time.sleep(0.1)
    assert {hd["Ssp-TraceID"] for hd in made_while_down} <= traces
    # each worker publishes what it still holds right after its flush: the sum settles at 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(s.control.health()["store"]["journal_buffered"]
                                              for s in cluster.servers):
        time.sleep(0.1)
    assert all(s.control.health()["store"]["journal_buffered"] == 0 for s in cluster.servers)
    # and the counted rule goes on from where it was: two uses left in total
    assert [cluster.meta(s.port, Ssp_From="222222222222") for s in cluster.servers] == [503, 503, 200]
    for server in cluster.servers:                               # an outage is not an error
        assert "Traceback" not in server.stderr(), server.stderr()


# --- start-up ----------------------------------------------------------------------------------------------
def test_start_up_refuses_in_one_line_when_redis_is_unreachable():
    port = free_port()                       # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKPROVIDER_")}
    for url, words in ((f"redis://127.0.0.1:{port}/0", "Redis is not reachable"),
                       ("http://127.0.0.1:6379/0", "use redis://host:port/db")):
        result = subprocess.run(
            [sys.executable, "-c",
             "from mockprovider.cli import cli; cli()", "serve", "--port", str(free_port()), "--state-url", url],
            env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert words in lines[0] and lines[0].startswith("Error: MOCKPROVIDER_STATE_URL"), lines
