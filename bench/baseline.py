"""The benchmark's baselines, run under the product's own gunicorn settings.

Two apps, each started as its own server by ``bench/run.py``:

``replay`` (the ceiling for every load figure)
    A minimal WSGI app that answers with bytes the product returned once, precomputed: a manifest
    maps a case name (sent as ``X-Bench-Case``, a header the product ignores) to a status, headers
    and either in-memory bodies (one per Ssp-TraceID, since Bundle.id is the trace id) or a file on
    disk that it streams in 1 MiB chunks, as the product streams a Binary.

``flask`` (the cold-start reference)
    The smallest Flask app that answers any GET with a fixed body.

Both go through ``mockprovider.server.run_gunicorn`` with ``Settings(host, port, workers)``, so the
worker class, preload, timeouts and worker count are identical to ``mockprovider serve``'s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

STREAM_CHUNK = 1024 * 1024     # as large as the product's base64 pieces (1 MiB): the stronger baseline


class FileChunks:
    """Iterate a file in fixed-size chunks (never the whole file in memory)."""

    def __init__(self, path: str, chunk: int):
        self.fh = open(path, "rb")
        self.chunk = chunk

    def __iter__(self):
        read, chunk = self.fh.read, self.chunk
        while True:
            data = read(chunk)
            if not data:
                return
            yield data

    def close(self):
        self.fh.close()


def load_manifest(path: str) -> dict:
    """Manifest JSON -> case name -> ready-to-send response parts."""
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    base = os.path.dirname(os.path.abspath(path))
    cases = {}
    for name, case in manifest["cases"].items():
        headers = [(k, v) for k, v in case["headers"]]
        entry = {"status": case["status"], "headers": headers, "chunk": case.get("chunk", STREAM_CHUNK)}
        if "file" in case:
            entry["file"] = os.path.join(base, case["file"])
            entry["size"] = os.path.getsize(entry["file"])
        else:
            bodies = {}
            for trace, body_file in case["bodies"].items():
                with open(os.path.join(base, body_file), "rb") as fh:
                    bodies[trace] = fh.read()
            entry["bodies"] = bodies
            entry["default"] = next(iter(bodies.values()))
        cases[name] = entry
    return cases


def replay_app(cases: dict):
    def app(environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None and environ.get("CONTENT_LENGTH"):
            stream.read()                      # the product reads its request body too
        case = cases.get(environ.get("HTTP_X_BENCH_CASE", ""))
        if case is None:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        if "file" in case:
            start_response(case["status"], case["headers"] + [("Content-Length", str(case["size"]))])
            return FileChunks(case["file"], case["chunk"])
        body = case["bodies"].get(environ.get("HTTP_SSP_TRACEID", ""), case["default"])
        start_response(case["status"], case["headers"] + [("Content-Length", str(len(body)))])
        return [body]
    return app


def flask_app(body: bytes):
    from flask import Flask, Response

    app = Flask("minimal")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def anything(path):
        return Response(body, mimetype="application/fhir+json")

    return app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("replay", "flask"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--manifest", help="replay: the manifest JSON")
    parser.add_argument("--body", help="flask: the file whose bytes it answers with")
    args = parser.parse_args(argv)

    if args.kind == "replay":
        app = replay_app(load_manifest(args.manifest))
    else:
        with open(args.body, "rb") as fh:
            app = flask_app(fh.read())

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from mockprovider.config import Settings
    from mockprovider.server import run_gunicorn

    settings = Settings(host="127.0.0.1", port=args.port, workers=args.workers)
    run_gunicorn(app, settings)


if __name__ == "__main__":
    main()
