"""How far the per-request cost of migrate structured can fall: the product's app against a floor.

Run it with the project's environment (``.venv/bin/python bench/floor.py``); it needs no server.
In one process, on the request ``make bench`` sends (typical persona, fresh JWT, fixed trace id):

``product``
    The WSGI app as gunicorn calls it: gate, control state, faults, interaction, journal row and
    access line, the Bundle with the trace id spliced in.
``floor``
    Only the steps no provider can skip, written as one flat function with no checks beyond the
    happy path: the four ``Ssp-*`` headers and ``Accept``, the JWT payload decoded and its claims
    present, lifetime, reason, scope and embedded resource types, the Parameters body parsed, a
    101 kB body joined around the trace id, one journal line appended to a file and one access
    line written. It refuses anything else with ValueError (no diagnostics, no lenient mode, no
    element checks of the embedded resources, no fault rules, no flags).

The bench's baseline costs about as much as gunicorn's own share of a request. The product
reaches 0.8x of it only if its app costs at most about a quarter of that share. This script shows
how close even the floor comes to that.
"""
from __future__ import annotations

import binascii
import json
import os
import sys
import tempfile
import time
import timeit
from pathlib import Path

from werkzeug.test import create_environ

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench import cases as bench  # noqa: E402  (bench/cases.py: the requests make bench sends)
from mockprovider import spec  # noqa: E402
from mockprovider.http.gate import ASID_RE, UUID_RE  # noqa: E402

TRACE = "5a1c0d8e-1111-4222-8333-444455556666"
_EMBEDDED = (("requesting_device", "Device"), ("requesting_organization", "Organization"),
             ("requesting_practitioner", "Practitioner"))
_B64URL = {ord("-"): "+", ord("_"): "/"}
# What the product sends with a migrate answer (Content-Length added per body).
HEADERS = [("Content-Type", spec.CONTENT_TYPES["json"]), ("Cache-Control", "no-store"), ("Vary", "Accept-Encoding")]


def environ(case, trace: str = TRACE) -> dict:
    """A WSGI environ for the bench's request (werkzeug's builder: path, headers, body)."""
    return create_environ(case.path, "http://127.0.0.1:8080", method=case.method,
                          headers=case.headers(trace), data=case.body)


class Floor:
    """The essential steps of one valid migrate request (see the module docstring)."""

    def __init__(self, journal_path: str, log, body_size: int = 0, answer: bytes | None = None,
                 trace: str | None = None):
        """``answer``: the product's real body for ``trace``, joined around any other trace id per
        request (the very bytes the product sends); else a stand-in of ``body_size`` bytes."""
        self.fd = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.log = log
        if answer is not None:
            self.head, found, self.tail = answer.partition(json.dumps(trace).encode())
            if not found:
                raise ValueError("the answer does not carry the trace id")
        else:
            self.head, self.tail = b'{"resourceType":"Bundle","id":', b',"entry":"' + b"x" * body_size + b'"}'
        self.encode = json.JSONEncoder(separators=(",", ":")).encode

    def wsgi(self, env: dict, start_response):
        """The floor as a WSGI app (``floor.py serve``): the product's headers, or an empty 400 for
        anything but the one valid request."""
        try:
            body = self(env)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            start_response("400 Bad Request", [("Content-Length", "0")])
            return [b""]
        start_response("200 OK", HEADERS + [("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, env: dict) -> bytes:
        trace = env.get("HTTP_SSP_TRACEID")
        from_asid = env.get("HTTP_SSP_FROM")
        if not trace or not UUID_RE.match(trace) or not from_asid or not ASID_RE.match(from_asid):
            raise ValueError("Ssp-TraceID / Ssp-From")
        if env.get("HTTP_SSP_TO") != bench.PROVIDER_ASID or env.get("HTTP_SSP_INTERACTIONID") != bench.MIGRATE_STRUCTURED:
            raise ValueError("Ssp-To / Ssp-InteractionID")
        if "fhir+json" not in env.get("HTTP_ACCEPT", ""):
            raise ValueError("Accept")
        _, payload_part, signature = env["HTTP_AUTHORIZATION"][len("Bearer "):].split(".")
        payload = json.loads(binascii.a2b_base64(payload_part.translate(_B64URL) + "=" * (-len(payload_part) % 4)))
        if signature or any(payload.get(claim) is None for claim in spec.JWT_CLAIMS):
            raise ValueError("JWT claims")
        if payload["exp"] - payload["iat"] != spec.JWT_LIFETIME_SECONDS or time.time() >= payload["exp"]:
            raise ValueError("JWT lifetime")
        if payload["reason_for_request"] != "migration" or "patient/*.read" not in payload["requested_scope"].split():
            raise ValueError("JWT reason / scope")
        if any(payload[claim].get("resourceType") != kind for claim, kind in _EMBEDDED):
            raise ValueError("JWT embedded resources")
        stream = env["wsgi.input"]
        parameters = json.loads(stream.read(int(env["CONTENT_LENGTH"])))
        nhs = parameters["parameter"][0]["valueIdentifier"]["value"]
        answer = b"".join((self.head, json.dumps(trace).encode(), self.tail))
        entry = {"time": "2026-12-06T00:00:00.000Z", "method": "POST", "path": env["PATH_INFO"],
                 "interaction": "migrate_structured", "trace_id": trace, "consumer_asid": from_asid,
                 "status": 200, "nhs_number": nhs}
        os.write(self.fd, (self.encode(entry) + "\n").encode())
        self.log.write(f"2026-12-06T00:00:00.000Z POST {env['PATH_INFO']} 200 0.1ms trace={trace} "
                       "interaction=migrate_structured spine=-\n")
        self.log.flush()
        return answer


def measure(count: int = 5000, repeat: int = 3) -> dict:
    """Microseconds a request (best of ``repeat``), product app and floor, in this process; every
    call gets a fresh environ built beforehand (a body stream is read once), so neither figure
    includes building it."""
    state = tempfile.mkdtemp(prefix="floor-")
    os.environ.setdefault("MOCKPROVIDER_STATE_DIR", state)
    from mockprovider.app import create_app

    case = bench.migrate_case("floor", bench.TYPICAL_PERSONA, bench.CONSUMER_ODS)
    devnull = open(os.devnull, "w")
    real_stdout, sys.stdout = sys.stdout, devnull          # the product's access lines
    try:
        app = create_app()
        status = []
        first = b"".join(app(environ(case), lambda line, headers, exc=None: status.append(line)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"the product answered {status[0]}")

        def product(env):
            out = app(env, lambda line, headers, exc=None: None)
            for _ in out:
                pass
            getattr(out, "close", lambda: None)()

        floor = Floor(os.path.join(state, "floor.jsonl"), devnull, answer=first, trace=TRACE)   # the real bytes
        if floor(environ(case)) != first:
            raise RuntimeError("the floor's answer differs from the product's")
        figures = {}
        for name, call in (("product_us", product), ("floor_us", floor)):
            envs = iter([environ(case) for _ in range(count * repeat)])
            best = min(timeit.repeat(lambda: call(next(envs)), number=count, repeat=repeat))
            figures[name] = round(best / count * 1e6, 1)
    finally:
        sys.stdout = real_stdout
        devnull.close()
    return {**figures, "count": count, "repeat": repeat}


def serve(argv) -> None:
    """``floor.py serve``: the floor as a server under the product's own gunicorn settings (what
    ``make bench`` runs beside the product and the baseline), answering ``--case`` from the
    baseline's manifest with the product's bytes."""
    import argparse
    parser = argparse.ArgumentParser(prog="floor.py serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--manifest", required=True, help="the baseline's manifest (bench/baseline.py)")
    parser.add_argument("--case", default="structured_typical")
    parser.add_argument("--journal", help="the journal file it appends to (default: in a new temporary directory)")
    args = parser.parse_args(argv)
    import baseline                     # bench/baseline.py: the manifest as the replay baseline reads it
    trace, answer = next(iter(baseline.load_manifest(args.manifest)[args.case]["bodies"].items()))
    journal = args.journal or os.path.join(tempfile.mkdtemp(prefix="floor-"), "journal.jsonl")
    floor = Floor(journal, sys.stdout, answer=answer, trace=trace)

    from mockprovider.config import Settings
    from mockprovider.server import run_gunicorn
    run_gunicorn(floor.wsgi, Settings(host="127.0.0.1", port=args.port, workers=args.workers))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
        sys.exit(0)
    figures = measure()
    print(f"migrate structured, typical persona, in process (best of {figures['repeat']} x {figures['count']}):")
    print(f"  product app    {figures['product_us']:7.1f} us a request")
    print(f"  essential floor {figures['floor_us']:6.1f} us a request")
