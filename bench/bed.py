"""The served scenarios' bed: ``mockprovider serve`` and, under the identical gunicorn settings, a
baseline (``bench/baseline.py replay``) answering with the very bytes the product returned.

Set up once, in this order: start the product; migrate every built-in persona once (discovery:
which answer 200, their sizes, their documents); record the product's answer to each load case
for each fixed trace id, and download the documents the streaming scenarios read; write the
manifest; start the baseline; check that it answers byte for byte as the product does.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.cases import (CONSUMER_ODS, MIGRATE_DOCUMENT, ODS, RETRIEVE_DOCUMENT, TYPICAL_PERSONA, Case,
                         binary_case, metadata_case, migrate_case, request, retrieve_case, trace_ids)
from bench.harness import (MB, MIGRATE_LIMIT, RETRIEVE_LIMIT, ROOT, WORK, Manifest, Server, free_port, log,
                           product_server, replay_server)
from bench.measure import download


def persona_files(directory: Path) -> list[dict]:
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and "nhs_number" in data:
            ods = (data.get("pds") or {}).get("registered_practice_ods") or CONSUMER_ODS
            found.append({"nhs": data["nhs_number"], "ods": ods, "file": path.name})
    return found


def discover(port: int) -> dict:
    """Migrate every built-in persona once: which answer 200, their sizes, their documents."""
    records, documents, statuses = [], [], {}
    for p in persona_files(ROOT / "personas"):
        case = migrate_case("probe", p["nhs"], p["ods"])
        started = time.perf_counter()
        status, _, body = request(port, case)      # the first request builds the Bundle (then cached)
        first_s = time.perf_counter() - started
        statuses[p["nhs"]] = status
        if status != 200:
            continue
        records.append({**p, "bytes": len(body), "first_s": first_s})
        try:
            bundle = json.loads(body)
        except ValueError:
            continue
        records[-1]["resources"] = len(bundle.get("entry", []))
        for entry in bundle.get("entry", []):
            res = entry.get("resource", {})
            if res.get("resourceType") != "DocumentReference":
                continue
            for content in res.get("content", []):
                att = content.get("attachment", {})
                if att.get("url") and isinstance(att.get("size"), int):
                    documents.append({**p, "url": att["url"], "size": att["size"]})
    return {"records": records, "documents": documents, "statuses": statuses}


def documents_from_store() -> list[dict]:
    """Every document of the built-in personas, straight from the product's own document index
    (so Binary is measured even before migrate structured lists the documents)."""
    try:
        from mockprovider.personas.documents import index
        from mockprovider.personas.store import PersonaStore
    except ImportError:
        return []
    store = PersonaStore.load(ROOT / "personas")
    found = []
    for binary_id, (persona, document) in sorted(index(store).by_id.items()):
        living = persona.data.get("active") is not False and not persona.data.get("deceased")
        found.append({"nhs": persona.nhs_number, "ods": persona.registered_practice_ods or CONSUMER_ODS,
                      "url": f"/{ODS}/STU3/1/gpconnect/documents/fhir/Binary/{binary_id}",
                      "size": document.size, "confidential": bool(document.confidential), "living": living})
    return found


def pick_document(documents, limit, minimum=0):
    fitting = [d for d in documents if minimum < d["size"] <= limit and not d.get("confidential")
               and d.get("living", True)]
    return max(fitting, key=lambda d: d["size"]) if fitting else None


class Bed:
    """The product and its same-bytes baseline, with what the scenarios measure on them:
    ``load_cases`` ((case, concurrencies) pairs), ``answers`` (the product's bytes per case and
    trace id, which WireMock serves too), ``stream_cases`` ((case, runs, document) triples) and
    ``manifest_path``."""

    def __init__(self):
        self.product: Server = product_server(free_port())
        self.baseline: Server | None = None
        self.load_cases: list[tuple[Case, list[int]]] = []
        self.answers: list = []       # (case, status, headers, bodies): the very bytes WireMock serves
        self.stream_cases: list = []
        self.manifest_path: Path | None = None

    def case(self, name: str) -> Case | None:
        return next((case for case, _ in self.load_cases if case.name == name), None)

    def stream_case(self, name: str) -> Case | None:
        return next((case for case, _, _ in self.stream_cases if case.name == name), None)

    def set_up(self, results: dict) -> None:
        product = self.product
        started = product.start()
        product.wait_answer(metadata_case(), started)
        manifest = Manifest()

        # The gate: a request that fails header validation (Ssp-To is not this provider's ASID) and
        # a request that passes it (the CapabilityStatement, the smallest successful interaction).
        for case, conns in ((metadata_case("gate_bad_ssp_to", **{"Ssp-To": "200000000359"}), [1, 16]),
                            (metadata_case(), [16])):
            self.load_cases.append((case, conns))

        log("discovering what the product serves (migrate every built-in persona once)")
        found = discover(product.port)
        results["discovery"] = {"records": found["records"], "statuses": found["statuses"],
                                "documents": len(found["documents"])}
        if found["records"]:
            by_nhs = {r["nhs"]: r for r in found["records"]}
            typical = by_nhs.get(TYPICAL_PERSONA) or sorted(found["records"], key=lambda r: r["bytes"])[
                len(found["records"]) // 2]
            largest = max(found["records"], key=lambda r: r["bytes"])
            results["structured_personas"] = {"typical": typical, "largest": largest}
            self.load_cases.append((migrate_case("structured_typical", typical["nhs"], typical["ods"]), [1, 16]))
            self.load_cases.append((migrate_case("structured_largest", largest["nhs"], largest["ods"]), [1, 16]))
            # Retrieve a structured record beside migrate: the same persona, a typical query.
            self.load_cases.append((retrieve_case("retrieve_typical", typical["nhs"], typical["ods"]), [1, 16]))
        else:
            results["structured_unavailable"] = sorted(set(found["statuses"].values()))
            log(f"  migrate structured answered {results['structured_unavailable']}: not measured")

        for case, conns in self.load_cases:
            traces = set()
            for c in conns:
                traces.update(trace_ids(case.name, min(c, 2)))
            bodies = {}
            for trace in sorted(traces):
                status, headers, body = request(product.port, case, trace)
                if status != case.expect:
                    raise RuntimeError(f"{case.name}: product answered {status}, expected {case.expect}: {body[:300]!r}")
                bodies[trace] = body
            manifest.add_bodies(case, status, headers, bodies)
            self.answers.append((case, status, headers, bodies))

        documents = documents_from_store() or found["documents"]
        doc5 = pick_document(documents, RETRIEVE_LIMIT)
        doc100 = pick_document(documents, MIGRATE_LIMIT, RETRIEVE_LIMIT)
        for name, doc, reps in (("binary_5mb", doc5, 5), ("binary_100mb", doc100, 3)):
            if doc is None:
                results.setdefault("binary_unavailable", []).append(name)
                continue
            for interaction in ((RETRIEVE_DOCUMENT, MIGRATE_DOCUMENT) if name == "binary_5mb" else (MIGRATE_DOCUMENT,)):
                case = binary_case(name, urlsplit(doc["url"]).path, interaction, doc["ods"])
                dest = WORK / f"{name}.body"
                log(f"  {name}: downloading {doc['size'] / MB:.1f} MB document once for the baseline")
                status, headers = download(product.port, case, dest)
                if status == 200:
                    manifest.add_file(case, status, headers, dest.name)
                    self.stream_cases.append((case, reps, doc))
                    break
            else:
                results.setdefault("binary_unavailable", []).append(f"{name} (answered {status})")

        self.manifest_path = manifest.write()
        self.baseline = replay_server(free_port(), self.manifest_path)
        started = self.baseline.start()
        self.baseline.wait_answer(metadata_case(), started)

        # The baseline answers with the product's bytes: check it before comparing them.
        for case, conns in self.load_cases:
            trace = trace_ids(case.name, 1)[0]
            a, b = request(product.port, case, trace), request(self.baseline.port, case, trace)
            if a[0] != b[0] or a[2] != b[2]:
                raise RuntimeError(f"{case.name}: baseline bytes differ from the product's")

    def stop(self) -> None:
        self.product.stop()
        if self.baseline is not None:
            self.baseline.stop()
