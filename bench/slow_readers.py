#!/usr/bin/env python3
"""``make bench``'s slow readers: N clients download one document at once, each reading a little
at a time (``--chunk`` bytes every ``--pause`` seconds), until told to stop (SIGTERM) or done.

Run as its own process so that its threads never share a GIL with the client that measures
latency meanwhile. Prints one JSON line when it ends: how many were reading and how many bytes
they read in all.
"""
from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--headers", required=True, help="JSON object of request headers")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=16384)
    parser.add_argument("--pause", type=float, default=0.05)
    args = parser.parse_args(argv)
    headers = json.loads(args.headers)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started, totals = [], []

    def reader():
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        total = 0
        try:
            conn.request("GET", args.path, headers=headers)
            response = conn.getresponse()
            started.append(response.status)
            while not stop.is_set():
                data = response.read(args.chunk)
                if not data:
                    break
                total += len(data)
                time.sleep(args.pause)
        except OSError:
            pass
        finally:
            totals.append(total)
            conn.close()

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(args.count)]
    for thread in threads:
        thread.start()
    print(json.dumps({"event": "started"}), flush=True)
    while not stop.is_set() and any(t.is_alive() for t in threads):
        stop.wait(0.2)
    stop.set()
    for thread in threads:
        thread.join(5)
    print(json.dumps({"readers": args.count, "answered_200": started.count(200), "bytes": sum(totals)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
