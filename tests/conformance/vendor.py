"""Copy the NHS definitions the conformance check needs into tests/conformance/definitions/.

Run by hand when the definitions should move (the test never reads /work/ref or the network):

    .venv/bin/python -m tests.conformance.vendor /path/to/STU3-FHIR-Assets /path/to/CareConnect-profiles

Starts from the profiles the mock names in ``meta.profile`` and takes their closure: extension
definitions (``type.profile``), ValueSets of required and extensible bindings, and the CodeSystems
and ValueSets those include. Referenced profiles (``type.targetProfile``) and base profiles are not
copied whole: ``definitions/profiles.json`` records each one's resource type and base, which is all
the reference check needs. STU3-FHIR-Assets wins where both repositories define a canonical URL.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tests.conformance import fhirxml as fx

HERE = Path(__file__).resolve().parent / "definitions"
ROOTS = [f"https://fhir.nhs.uk/STU3/StructureDefinition/{name}" for name in (
    "GPConnect-StructuredRecord-Bundle-1", "GPConnect-Searchset-Bundle-1", "CareConnect-GPC-Patient-1",
    "CareConnect-GPC-Organization-1", "CareConnect-GPC-Practitioner-1", "CareConnect-GPC-PractitionerRole-1",
    "CareConnect-GPC-Location-1", "CareConnect-GPC-AllergyIntolerance-1", "CareConnect-GPC-Medication-1",
    "CareConnect-GPC-MedicationStatement-1", "CareConnect-GPC-MedicationRequest-1", "CareConnect-GPC-Immunization-1",
    "CareConnect-GPC-Observation-1", "CareConnect-GPC-Encounter-1", "CareConnect-GPC-List-1",
    "CareConnect-GPC-ProblemHeader-Condition-1", "CareConnect-GPC-DiagnosticReport-1", "CareConnect-GPC-Specimen-1",
    "CareConnect-GPC-ProcedureRequest-1", "CareConnect-GPC-ReferralRequest-1", "CareConnect-GPC-DocumentReference-1",
    "GPConnect-OperationOutcome-1")]


def index(folders):
    by_url = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.xml")):
            try:
                res = fx.read(path)
            except Exception:       # not every XML file there is a resource
                continue
            url = fx.one(res, "url")
            if isinstance(url, str) and url not in by_url:
                by_url[url] = (path, res)
    return by_url


def closure(by_url):
    want, seen, missing = list(ROOTS), {}, set()
    while want:
        url = want.pop().split("|")[0]
        if url in seen or url in missing:
            continue
        if url not in by_url:
            missing.add(url)
            continue
        path, res = by_url[url]
        seen[url] = path
        kind = res["resourceType"]
        if kind == "StructureDefinition":
            if not fx.one(res, "snapshot"):
                # differential only (GPC Encounter, ProblemHeader): the CareConnect profile it
                # specialises supplies the snapshot the differential is laid over
                want.append(url.replace("https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-",
                                        "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-"))
                for el in fx.many(fx.one(res, "differential", {}), "element"):
                    for t in fx.many(el, "type"):
                        want += fx.many(t, "profile")
                    binding = fx.one(el, "binding")
                    if binding:
                        ref = fx.one(fx.one(binding, "valueSetReference", {}), "reference")
                        if ref:
                            want.append(ref)
            for el in fx.many(fx.one(res, "snapshot", {}), "element"):
                for t in fx.many(el, "type"):
                    want += fx.many(t, "profile")
                binding = fx.one(el, "binding")
                if binding and fx.one(binding, "strength") in ("required", "extensible"):
                    ref = fx.one(fx.one(binding, "valueSetReference", {}), "reference") or fx.one(binding, "valueSetUri")
                    if ref:
                        want.append(ref)
        elif kind == "ValueSet":
            for inc in fx.many(fx.one(res, "compose", {}), "include"):
                want += fx.many(inc, "system") + fx.many(inc, "valueSet")
    return seen, missing


def main(assets, careconnect):
    by_url = index([Path(assets) / d for d in ("StructureDefinitions", "ValueSets", "CodeSystems")]
                   + [Path(careconnect) / d for d in ("constraints", "valuesets", "codesystems")])
    seen, missing = closure(by_url)
    for sub in ("StructureDefinitions", "ValueSets", "CodeSystems"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    for url, path in sorted(seen.items()):
        kind = {"StructureDefinition": "StructureDefinitions", "ValueSet": "ValueSets",
                "CodeSystem": "CodeSystems"}[fx.read(path).get("resourceType")]
        origin = "STU3-FHIR-Assets" if str(path).startswith(str(Path(assets))) else "CareConnect-profiles"
        dest = HERE / kind / f"{origin}--{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    profiles = {url: {"type": fx.one(res, "type"), "base": fx.one(res, "baseDefinition")}
                for url, (path, res) in sorted(by_url.items()) if res["resourceType"] == "StructureDefinition"}
    (HERE / "profiles.json").write_text(json.dumps(profiles, indent=1, sort_keys=True) + "\n")
    print(f"{len(seen)} definitions copied; not found (HL7 core or external): {len(missing)}")
    for url in sorted(missing):
        print("  ", url)


if __name__ == "__main__":
    main(*sys.argv[1:3])
