"""``make bench``: the product measured against a same-bytes baseline, WireMock and an essential floor.

What lives here, and what each part may import (no import circle; tests/unit/test_layers.py checks):

- ``run.py``: the runner. ``python bench/run.py`` (``make bench``) runs the scenarios in order,
  writes ``bench/results.json`` and prints the table. Imports everything below; nothing imports it.
- ``cases.py``: the requests, exactly as a consumer sends them (``Case``, a fresh unsigned JWT,
  fixed trace ids per wrk thread). Imports nothing of bench.
- ``harness.py``: settings (``BENCH_*``), paths, the servers a run starts (product, baseline,
  floor, WireMock, a minimal Flask app) and machine facts. Imports ``cases``.
- ``measure.py``: wrk runs and their figures, product-against-others rounds, streaming a Binary.
  Imports ``cases`` and ``harness``.
- ``bed.py``: the product and the baseline serving the same bytes, set up once for the served
  scenarios. Imports ``cases``, ``harness``, ``measure``.
- ``scenarios/``: one module a scenario, each with ``run(...)``; they import the modules above
  (never ``run`` or ``report``, nor each other).
- ``report.py``: the targets (PASS/MISS) and the table. Imports ``harness`` and
  ``scenarios.stores`` (its rows).
- Separate processes the scenarios start, not imported by them: ``baseline.py`` (the replay and
  minimal Flask servers), ``floor.py`` (the essential floor; imports ``cases``),
  ``slow_readers.py`` (the 64 slow clients), ``wrk.lua``.
"""
