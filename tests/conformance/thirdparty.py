"""Run the third-party validators (FHIR.js and fhirpath.js, in tests/conformance/js) over resources.

``run(labelled_resources)`` writes the profiles' snapshots (as JSON, read from the vendored XML) and
the resources to a temporary file, runs ``node validate.js`` once, and returns its report:
``{"fhirjs": [...], "fhirpath": [...], "stats": {...}}``. ``make test`` installs the npm packages
with ``npm ci`` from the committed lock file.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conformance import fhirxml as fx
from tests.conformance.profiles import Definitions

JS = Path(__file__).resolve().parent / "js"

# Elements of the JSON form that repeat (everything else the reader gives as a one-item list is 0..1).
_REPEATING = {"element", "type", "constraint", "discriminator", "targetProfile", "alias", "mapping",
              "extension", "context", "contact", "telecom", "jurisdiction", "condition", "example"}


def _json(node, name=None):
    if isinstance(node, dict):
        out = {}
        for key, values in node.items():
            if key in ("resourceType",):
                out[key] = values
                continue
            items = [_json(v, key) for v in values]
            out[key] = items if key in _REPEATING else items[0]
        return out
    return node


def profile_json(definitions: Definitions) -> list:
    out = []
    for url, profile in definitions.profiles.items():
        elements = [_json(el) for el in profile.elements.values()]
        by_path = {el["id"]: el for el in elements if ":" not in el["id"]}
        for el in elements:
            if "max" not in el:     # a slice added by a differential: the sliced element's max
                el["max"] = by_path.get(el.get("path"), {}).get("max", "*")
            for key in ("min",):
                if key in el:
                    el[key] = int(el[key])
            for c in el.get("constraint", []):
                c.pop("xpath", None)
        out.append({"resourceType": "StructureDefinition", "url": url, "type": profile.type, "kind": "resource",
                    "snapshot": {"element": elements}})
    return out


def valuesets_json(definitions: Definitions) -> list:
    """Every vendored ValueSet whose codes can be listed in full, as an expansion FHIR.js reads."""
    out = []
    for url in definitions.valuesets:
        codes, whole = definitions.expand(url)
        if whole or not codes:
            continue
        out.append({"resourceType": "ValueSet", "url": url, "expansion": {"contains": [
            {"system": system, "code": code} for system, code in sorted(codes)]}})
    return out


def available() -> bool:
    return shutil.which("node") is not None and (JS / "node_modules" / "fhir").is_dir()


def run(labelled: list, definitions: Definitions) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"definitions": profile_json(definitions), "valueSets": valuesets_json(definitions),
                   "resources": [{"label": label, "resource": r} for label, r in labelled]}, f)
        name = f.name
    try:
        done = subprocess.run(["node", str(JS / "validate.js"), name], capture_output=True, text=True, timeout=600)
    finally:
        Path(name).unlink()
    if done.returncode != 0:
        raise RuntimeError(f"validate.js failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)
