"""The scenarios of ``make bench``, one module each, run in this order by ``bench/run.py``.

Served on the bed (``bench/bed.py``: the product and its same-bytes baseline), each ``run(bed, results)``:
``load`` (the gate, metadata, migrate structured at 1 and 16 connections), ``wiremock`` (WireMock
and the essential floor beside them), ``stream`` (Binary 5 MiB and 100 MiB), ``slow_readers``
(latency while 64 clients read 100 MB slowly). Then on their own servers, each ``run(results)``:
``stores`` (the Redis control store beside SQLite), ``cold_start``, ``personas`` (10,000 generated).

A scenario module imports ``bench.cases``, ``bench.harness``, ``bench.measure`` (and the bed's
type); never ``bench.run``, ``bench.report`` or another scenario.
"""
