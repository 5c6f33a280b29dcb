#!/usr/bin/env python3
"""What a large run-time persona costs each worker, and whether it gives the memory back (issue #28).

    .venv/bin/python bench/persona_memory.py [--mb 50] [--workers 2] [--state-url redis://…]

Starts a real ``mockprovider serve`` (gunicorn, ``--workers`` workers, on 127.0.0.1), makes a
structured Bundle of about ``--mb`` MB (the EMIS-shaped built-in's record, its clinical entries
repeated under new ids), and measures every worker's resident memory (``VmRSS`` from /proc):

1. at rest (after a migrate and a retrieve of a small built-in persona on every worker: the code
   paths' first use is not the large persona's cost);
2. after ``PUT /_control/personas/{nhs}`` (application/fhir+json) and a control call on every
   worker (each worker builds its own view of the cast);
3. after a migrate of that persona answered by every worker (its Bundle built and cached);
3b. after a Retrieve a structured record of it (allergies, medication, problems) answered by every
   worker (its answer built and cached);
4. after ``POST /_control/reset`` (and a call on every worker);
5. after another PUT, then ``DELETE`` of the persona;
6. after another PUT, then a PUT of a small persona under the same number (a replacement).

Prints one row per step (each worker's RSS and its growth over step 1, in MB and in multiples of
the Bundle's size) and the PUT's time. Not part of ``make test`` or ``make bench``;
``tests/live/test_persona_memory.py`` runs the same steps on a smaller Bundle with bounds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import helpers as h  # noqa: E402

NHS = "9690990519"                   # a run-time persona of issue #28's block (valid Mod-11)
SOURCE = "9990042179"               # the EMIS-shaped heavy record: ~3,000 resources, ~4 MB
MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
WARM_UP = "9690937286"      # a small built-in persona: first use of migrate and retrieve
META = h.STRUCTURED + "/metadata"
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``mockprovider serve`` in its own process group; ``stop()`` ends it."""

    def __init__(self, workers: int = 2, env: dict | None = None):
        self.port = free_port()
        self.state = tempfile.mkdtemp(prefix="mockprovider-bench-state-")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MOCKPROVIDER_")}
        environ.update({"MOCKPROVIDER_STATE_DIR": self.state, "MOCKPROVIDER_ACCESS_LOG": "false", **(env or {})})
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from mockprovider.cli import cli; cli()", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            env=environ, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/_control/health")[0] == 200 and len(self.workers()) == workers:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"server did not start: {self.log.read().decode(errors='replace')}")
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None, timeout=600):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def workers(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                            found.append(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
        return sorted(found)

    def every_worker(self, make_request, timeout=120) -> None:
        """Repeat a FHIR request (new connection each) until every worker has answered one
        (the journal names the worker)."""
        pids = set(self.workers())
        seen = set()
        deadline = time.monotonic() + timeout
        while not pids <= seen and time.monotonic() < deadline:
            headers = make_request()
            status, raw = self.request("GET", f"/_control/requests?trace_id={headers['Ssp-TraceID']}")
            for row in json.loads(raw):
                seen.add(row.get("worker"))
        if not pids <= seen:
            raise RuntimeError(f"workers {sorted(pids - seen)} never answered")

    def touch_every_worker(self) -> None:
        """A metadata request answered by every worker: each applies the persona layer first."""
        def meta():
            headers = h.metadata_headers()
            assert self.request("GET", META, headers=headers)[0] == 200
            return headers
        self.every_worker(meta)

    def migrate_on_every_worker(self, nhs: str) -> None:
        def migrate():
            headers = h.migrate_headers(True)
            status, _ = self.request("POST", MIGRATE, json.dumps(h.migrate_body(nhs, True)).encode(), headers)
            assert status == 200, status
            return headers
        self.every_worker(migrate)

    def retrieve_on_every_worker(self, nhs: str) -> None:
        def retrieve():
            headers = h.retrieve_headers()
            body = h.retrieve_body(nhs, h.area("includeAllergies", includeResolvedAllergies=True),
                                   h.area("includeMedication"), h.area("includeProblems"))
            status, _ = self.request("POST", h.RETRIEVE_URL, json.dumps(body).encode(), headers)
            assert status == 200, status
            return headers
        self.every_worker(retrieve)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        import shutil
        shutil.rmtree(self.state, ignore_errors=True)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def large_bundle(megabytes: float) -> bytes:
    """The heavy EMIS-shaped record as a migrate answer, its non-Patient entries repeated under new
    ids (``-c<n>`` suffixes) until the JSON is about ``megabytes`` MB. Still FHIR STU3 in shape."""
    from mockprovider.app import create_app
    with tempfile.TemporaryDirectory(prefix="mockprovider-bench-state-") as state:
        client = create_app({"state_dir": state, "access_log": False}).test_client()
        bundle = client.post(MIGRATE, data=json.dumps(h.migrate_body(SOURCE, True)),
                             headers=h.migrate_headers(True)).get_json()
    base = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    one = len(json.dumps(base, separators=(",", ":")).encode())
    copies = max(0, int(megabytes * MB / one) - 1)
    entries = list(bundle["entry"])
    for n in range(copies):
        for entry in base:
            resource = dict(entry["resource"])
            if isinstance(resource.get("id"), str):
                resource["id"] = f"{resource['id'][:50]}-c{n}"
            entries.append({**entry, "resource": resource})
    bundle["entry"] = entries
    return json.dumps(bundle, separators=(",", ":")).encode()


def small_persona() -> bytes:
    return json.dumps({"name": {"family": "Small"}, "gender": "female", "birth_date": "1980-01-01"}).encode()


def measure(megabytes: float = 50, workers: int = 2, env: dict | None = None, log=print) -> dict:
    """Run the steps; returns {"bundle_mb", "put_seconds", "steps": [(name, {pid: rss_mb})]}."""
    body = large_bundle(megabytes)
    size_mb = len(body) / MB
    log(f"Bundle: {size_mb:.1f} MB, {body.count(b'resourceType') - 1} resources")
    server = Server(workers, env)
    steps = []

    def step(name):
        import gc
        gc.collect()
        time.sleep(0.5)
        steps.append((name, {pid: rss_mb(pid) for pid in server.workers()}))
        log(row(steps[-1], steps[0][1], size_mb))

    put = ("PUT", f"/_control/personas/{NHS}", body, {"Content-Type": "application/fhir+json"})
    try:
        server.touch_every_worker()
        # Warm each code path once with a small built-in persona (modules, compiled patterns, caches
        # of small things): "at rest" is the server after first use, so growth is the persona's alone.
        server.migrate_on_every_worker(WARM_UP)
        server.retrieve_on_every_worker(WARM_UP)
        step("at rest")
        started = time.monotonic()
        status, raw = server.request(*put)
        put_seconds = time.monotonic() - started
        assert status in (200, 201), raw[:500]
        log(f"PUT: {status} in {put_seconds:.1f} s")
        server.touch_every_worker()
        step("after PUT")
        server.migrate_on_every_worker(NHS)
        step("after a migrate on every worker")
        server.retrieve_on_every_worker(NHS)
        step("after a retrieve on every worker")
        assert server.request("POST", "/_control/reset")[0] == 200
        server.touch_every_worker()
        step("after reset")
        assert server.request(*put)[0] in (200, 201)
        server.migrate_on_every_worker(NHS)
        assert server.request("DELETE", f"/_control/personas/{NHS}")[0] == 200
        server.touch_every_worker()
        step("after PUT, migrate, DELETE")
        assert server.request(*put)[0] in (200, 201)
        server.migrate_on_every_worker(NHS)
        assert server.request("PUT", f"/_control/personas/{NHS}", small_persona(),
                              {"Content-Type": "application/json"})[0] == 200
        server.touch_every_worker()
        step("after PUT, migrate, replaced by a small one")
    finally:
        server.stop()
    return {"bundle_mb": size_mb, "put_seconds": put_seconds, "steps": steps}


def row(step, rest: dict, size_mb: float) -> str:
    name, rss = step
    cells = []
    for n, pid in enumerate(sorted(rss)):
        grown = rss[pid] - rest.get(pid, rss[pid])
        cells.append(f"worker {n + 1}: {rss[pid]:7.1f} MB ({grown:+7.1f} MB, {grown / size_mb:+5.1f}x)")
    return f"{name:<46} " + "  ".join(cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50, help="Bundle size in MB (default 50)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--state-url", default="", help="redis://… to measure on the Redis store")
    args = parser.parse_args()
    env = {"MOCKPROVIDER_STATE_URL": args.state_url} if args.state_url else {}
    measure(args.mb, args.workers, env)


if __name__ == "__main__":
    main()
