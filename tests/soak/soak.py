"""Soak: N concurrent clients for D seconds against ``mockprovider serve`` (gunicorn, loopback).

    make soak                      # 64 clients, 60 s, 2 workers
    .venv/bin/python -m tests.soak.soak --clients 64 --duration 60 --workers 2

Traffic: every interaction on main (migrate structured, migrate and retrieve a document, metadata)
plus error paths (missing header, bad JWT, unknown path, XML, oversized body). Mid-run a control
thread flips enablement and validation flags and injects faults (spec-code errors, 503s and delays,
matched to a dedicated consumer ASID) through the control API, then removes them.

Every answer is checked: its status must be the template's baseline status (probed once before the
load), or 403 ACCESS DENIED while an enablement flag is off, or an injected fault's status for the
fault-target clients; and every FHIR answer must keep the fuzz property (spec-exact
OperationOutcome, FHIR headers). Report: requests, unexpected statuses (target 0), worker restarts
(target 0, worker PIDs sampled every 0.5 s), RSS growth of master + workers after warm-up
(target < 10 %). Exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests import helpers as h
from tests.reliability import fuzzing as fz
from tests.reliability.liveserver import LiveServer

FAULT_ASID = "200000000999"     # clients using this ASID are the only ones faults match
FAULT_STATUSES = {404, 503}     # what the injected rules answer (NO_RECORD_FOUND, proxy 503)
ENABLEMENT = ("gpconnect_enabled", "structured_enabled", "documents_enabled")


def rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class Templates:
    """Request templates: name -> (weight, build(asid) -> (method, path, headers, body))."""

    def __init__(self, nhs: str, docs: dict):
        def base(kind, doc="small"):
            def build(asid):
                method, path, headers, body = fz.base_request(kind, nhs, docs[doc])
                headers["Ssp-From"] = asid
                return method, path, headers, body
            return build

        def variant(kind, doc="small", **changes):
            def build(asid):
                method, path, headers, body = base(kind, doc)(asid)
                for key, value in changes.items():
                    if key == "path":
                        path = value
                    elif key == "body":
                        body = value
                    elif value is None:
                        headers.pop(key.replace("_", "-"), None)
                    else:
                        headers[key.replace("_", "-")] = value
                return method, path, headers, body
            return build

        bad_jwt = "Bearer " + h.token(h.claims(), header={"alg": "HS256", "typ": "JWT"})
        self.items = {
            "metadata_structured": (3, base("metadata_structured")),
            "metadata_documents": (2, base("metadata_documents")),
            "migrate_structured": (6, base("migrate_structured")),
            "migrate_document": (3, base("migrate_document", "medium")),
            "migrate_document_4_5_mb": (1, base("migrate_document", "large")),
            "retrieve_document": (4, base("retrieve_document")),
            "retrieve_over_limit": (1, base("retrieve_document", "over_limit")),
            "find_patient": (1, base("find_patient")),
            "read_patient": (1, base("read_patient", "patient")),
            "search_documents": (1, base("search_documents", "patient")),
            "err_missing_trace": (1, variant("metadata_structured", Ssp_TraceID=None)),
            "err_bad_jwt": (1, variant("migrate_structured", Authorization=bad_jwt)),
            "err_unknown_path": (1, variant("metadata_structured", path=h.STRUCTURED + "/Nothing")),
            "err_xml": (1, variant("retrieve_document", Accept="application/fhir+xml")),
            "err_big_body": (1, variant("migrate_structured", body=b"{" * (1024 * 1024 + 10))),
        }
        self.names = list(self.items)
        self.weights = [self.items[n][0] for n in self.names]

    def pick(self, rng):
        return rng.choices(self.names, self.weights)[0]


class Soak:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = collections.Counter()          # (template, status) -> n
        self.unexpected = collections.Counter()      # reason -> n
        self.samples = []                            # first unexpected answers, for the report
        self.transport_errors = collections.Counter()
        self.flags_off = set()                       # enablement flags currently off (+ grace)
        self.off_until = 0.0
        self.fault_until = 0.0                       # faults may answer until then (monotonic)
        self.events = collections.Counter()
        self.faults_available = None

    # --- the server ----------------------------------------------------------------------------------
    def control(self, method, path, payload=None):
        return self.server.control(method, path, payload)

    @staticmethod
    def discover():
        """A persona with documents, and documents of the sizes the templates need (from the cast)."""
        from mockprovider.config import Settings
        from mockprovider.personas import documents, ids
        from mockprovider.personas.store import PersonaStore
        store = PersonaStore.load(Settings.from_env({}).personas)
        by_size = sorted((doc.size, doc_id, persona.nhs_number)
                         for doc_id, (persona, doc) in documents.index(store).by_id.items()
                         if not doc.confidential)
        small = by_size[0]
        pick = lambda low, high: next((d for d in by_size if low <= d[0] <= high), small)   # noqa: E731
        docs = {"small": small[1], "medium": pick(50_000, 200_000)[1], "large": pick(4_000_000, 5_000_000)[1],
                "over_limit": pick(5 * 2 ** 20 + 1, 20 * 2 ** 20)[1], "patient": ids.patient_id(small[2])}
        return small[2], docs

    # --- one request ---------------------------------------------------------------------------------
    def fire(self, conn_factory, name, asid):
        method, path, headers, body = self.templates.items[name][1](asid)
        conn = conn_factory()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.headers, data
        finally:
            conn.close()

    def judge(self, name, asid, status, headers, data):
        now = time.monotonic()
        expected = self.baseline[name]
        if status == expected:
            return None
        if asid == FAULT_ASID and status in FAULT_STATUSES and now < self.fault_until:
            return None   # an injected fault (its window includes requests still in flight)
        if status == 403 and (self.flags_off or now < self.off_until) and b"ACCESS DENIED" in data:
            return None
        return f"{name}: expected {expected}, got {status}"

    def client(self, index):
        rng = random.Random(index)
        asid = FAULT_ASID if index % 8 == 0 else h.CONSUMER_ASID
        factory = lambda: self.server.connection(timeout=30)   # noqa: E731
        while not self.stop.is_set():
            name = self.templates.pick(rng)
            try:
                status, headers, data = self.fire(factory, name, asid)
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.transport_errors[type(exc).__name__] += 1
                    self.counts[(name, "transport error")] += 1
                    if len(self.samples) < 20:
                        self.samples.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            problem = self.judge(name, asid, status, headers, data)
            if problem is None and not (asid == FAULT_ASID and status == 503):   # 503: proxy-style body
                try:
                    fz.check_fhir_answer(self.templates.items[name][1](asid)[0], status, headers, data)
                except AssertionError as exc:
                    problem = f"{name}: {exc}"[:300]
            with self.lock:
                self.counts[(name, status)] += 1
                if problem:
                    self.unexpected[problem.split(":")[0] + f" -> {status}"] += 1
                    if len(self.samples) < 20:
                        self.samples.append(problem[:300])

    # --- chaos: flags and faults -------------------------------------------------------------------------
    def chaos(self):
        rng = random.Random(99)
        step = 0
        while not self.stop.wait(self.args.chaos_every):
            step += 1
            phase = step % 4
            if phase == 1:     # an enablement flag off, validation lenient
                flag = rng.choice(ENABLEMENT)
                self.flags_off.add(flag)
                self.control("PATCH", "/flags", {flag: False, "validation": "lenient"})
                self.events["flag off: " + flag] += 1
            elif phase == 2:   # flags back on
                self.control("PATCH", "/flags", {f: True for f in ENABLEMENT} | {"validation": "strict"})
                self.off_until = time.monotonic() + 2.0
                self.flags_off.clear()
                self.events["flags on"] += 1
            elif phase == 3:   # faults for the fault-target clients
                self.inject_faults(rng)
            else:              # faults removed
                self.clear_faults()

    def inject_faults(self, rng):
        rules = [
            {"kind": "error", "code": "NO_RECORD_FOUND", "match": {"from_asid": FAULT_ASID}, "times": 50},
            {"kind": "error", "status": 503, "match": {"from_asid": FAULT_ASID}},
            {"kind": "delay", "ms": 50, "match": {"from_asid": FAULT_ASID}},
        ]
        rule = rng.choice(rules)
        status, body = self.control("POST", "/faults", rule)
        if status in (404, 405):
            self.faults_available = False
            return
        if status >= 300:
            self.events[f"fault refused {status}"] += 1
            return
        self.faults_available = True
        self.fault_until = float("inf")
        self.events[f"fault {rule['kind']} {rule.get('code') or rule.get('status') or rule.get('ms')}"] += 1

    def clear_faults(self):
        if self.faults_available:
            status, rules = self.control("GET", "/faults")
            for rule in rules if isinstance(rules, list) else []:
                self.control("DELETE", f"/faults/{rule['id']}")
            self.events["faults removed"] += 1
        self.fault_until = time.monotonic() + 2.0

    # --- the run -------------------------------------------------------------------------------------------
    def watch(self):
        """Worker PIDs every 0.5 s: every PID ever seen, to count restarts."""
        while not self.stop.wait(0.5):
            self.seen_pids.update(self.server.worker_pids())

    def run(self):
        args = self.args
        with tempfile.TemporaryDirectory(prefix="mockprovider-soak-") as folder, \
                LiveServer(folder, workers=args.workers) as server:
            self.server = server
            nhs, docs = self.discover()
            self.templates = Templates(nhs, docs)
            self.baseline = {}
            for name in self.templates.names:
                status, headers, data = self.fire(server.connection, name, h.CONSUMER_ASID)
                self.baseline[name] = status
            first_workers = server.worker_pids()
            self.seen_pids = set(first_workers)
            master = server.proc.pid
            threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(args.clients)]
            watcher = threading.Thread(target=self.watch, daemon=True)
            chaos = threading.Thread(target=self.chaos, daemon=True)
            started = time.monotonic()
            for t in threads + [watcher]:
                t.start()
            time.sleep(min(args.warmup, args.duration / 4))
            rss_start = rss_kb([master, *server.worker_pids()])
            requests_at_warmup = sum(self.counts.values())
            chaos.start()
            time.sleep(max(0.0, args.duration - (time.monotonic() - started)))
            self.stop.set()
            for t in threads + [watcher, chaos]:
                t.join(60)
            elapsed = time.monotonic() - started
            rss_end = rss_kb([master, *server.worker_pids()])
            still = server.request("GET", h.STRUCTURED + "/metadata", headers=h.metadata_headers())[0]
            final_workers = server.worker_pids()
            restarts = len(self.seen_pids - set(first_workers))
            log_tail = server.log()
        total = sum(self.counts.values())
        unexpected = sum(self.unexpected.values())
        transport = sum(self.transport_errors.values())
        growth = (rss_end - rss_start) / rss_start * 100 if rss_start else 0.0
        report = {
            "clients": args.clients, "duration_s": round(elapsed, 1), "workers": args.workers,
            "requests": total, "requests_per_s": round(total / elapsed, 1),
            "requests_after_warmup": total - requests_at_warmup,
            "unexpected_statuses": unexpected, "transport_errors": transport,
            "worker_restarts": restarts, "rss_start_kb": rss_start, "rss_end_kb": rss_end,
            "rss_growth_percent": round(growth, 2), "answering_after": still == 200,
            "baseline_statuses": self.baseline, "faults_api": self.faults_available,
            "chaos_events": dict(self.events),
            "statuses": {f"{n} {s}": c for (n, s), c in sorted(self.counts.items(), key=str)},
            "unexpected_kinds": dict(self.unexpected), "samples": self.samples,
            "workers_at_end": len(final_workers),
        }
        ok = unexpected == 0 and transport == 0 and restarts == 0 and growth < 10 and still == 200
        self.print(report, ok, log_tail)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0 if ok else 1

    @staticmethod
    def print(r, ok, log_tail):
        print(f"\nsoak: {r['clients']} clients x {r['duration_s']} s against mockprovider serve "
              f"({r['workers']} workers, loopback)")
        print(f"  requests              {r['requests']}  ({r['requests_per_s']}/s)")
        print(f"  unexpected statuses   {r['unexpected_statuses']}   (target 0)")
        print(f"  transport errors      {r['transport_errors']}   (target 0)")
        print(f"  worker restarts       {r['worker_restarts']}   (target 0)")
        print(f"  RSS growth            {r['rss_growth_percent']} %  ({r['rss_start_kb']} -> {r['rss_end_kb']} kB, "
              "master + workers, after warm-up; target < 10 %)")
        print(f"  still answering       {r['answering_after']}")
        print(f"  faults API            {'used' if r['faults_api'] else 'not on this build (flags only)'}")
        print(f"  chaos events          {r['chaos_events']}")
        print("  baseline statuses     " + ", ".join(f"{k}={v}" for k, v in r["baseline_statuses"].items()))
        print("  answers:")
        for key, count in r["statuses"].items():
            print(f"    {key:40s} {count}")
        for sample in r["samples"]:
            print("  ! " + sample)
        if not ok and log_tail:
            print("server log tail:\n" + log_tail)
        print("RESULT: " + ("PASS" if ok else "FAIL"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the RSS baseline")
    parser.add_argument("--chaos-every", type=float, default=4.0, help="seconds between flag/fault changes")
    parser.add_argument("--json", help="also write the report here")
    return Soak(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
