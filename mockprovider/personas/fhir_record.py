"""Persona sections holding a record as FHIR resources rather than as the mock's own record format.

- ``fhir_record``: a structured Bundle's entries **as they came** (``mockprovider personas import``,
  :mod:`mockprovider.personas.bundle_import`), served back with only the documented rewrites
  (:mod:`mockprovider.fhir.served_record`). Fields: ``source`` (where it came from), ``bundle_meta``
  (the Bundle's meta), ``entries`` (the Bundle entries), ``attachments`` (``[{entry, content,
  document}]``: which attachment url points at which persona document), ``confidential``
  (``["Type/id", ...]``: left out when includeSensitiveInformation is false).
- ``supplier_record``: ``{"style": "emis"|"tpp", "seed", "volume": "small"|"typical"|"heavy"}``: a
  record in the shape that GP system supplier sends, made from the seed on first use
  (:mod:`mockprovider.fhir.suppliers`), then served exactly like ``fhir_record``.

The checks here are cheap (start-up validates every persona): shapes, not FHIR conformance.
"""
from __future__ import annotations

from .store import SECTION_VALIDATORS, Checker

SUPPLIER_STYLES = ("emis", "tpp")
VOLUMES = ("small", "typical", "heavy")
RECORD_SECTIONS = ("record", "generated_record", "fhir_record", "supplier_record")


def validate_fhir_record(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("entries",), ("source", "bundle_meta", "attachments", "confidential"))
    if "source" in value:
        c.string(value["source"], f"{path}.source")
    if "bundle_meta" in value:
        if type(value["bundle_meta"]) is not dict:
            c.fail(f"{path}.bundle_meta", "must be a JSON object (the Bundle's meta)")
    entries = c.array(value["entries"], f"{path}.entries")
    for n, entry in enumerate(entries):
        p = f"{path}.entries[{n}]"
        if type(entry) is not dict or type(entry.get("resource")) is not dict:
            c.fail(f"{p}.resource", "is required (a FHIR resource)")
        kind = entry["resource"].get("resourceType")
        if type(kind) is not str or not kind:
            c.fail(f"{p}.resource.resourceType", "is required")
    # One Patient, attachments naming DocumentReference attachments, confidential entries naming
    # resources of the record: rules of the persona contract (mockprovider.personas.contract).
    for n, att in enumerate(c.array(value.get("attachments", []), f"{path}.attachments")):
        p = f"{path}.attachments[{n}]"
        c.obj(att, p, ("entry", "content", "document"))
        c.integer(att["entry"], f"{p}.entry")
        c.integer(att["content"], f"{p}.content")
        c.string(att["document"], f"{p}.document")
    for n, ref in enumerate(c.array(value.get("confidential", []), f"{path}.confidential")):
        c.string(ref, f"{path}.confidential[{n}]")


def validate_supplier_record(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("style", "seed"), ("volume",))
    c.string(value["style"], f"{path}.style", choices=SUPPLIER_STYLES)
    seed = value["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (str, int)) or seed == "":
        c.fail(f"{path}.seed", "must be a non-empty string or a whole number")
    if "volume" in value:
        c.string(value["volume"], f"{path}.volume", choices=VOLUMES)


SECTION_VALIDATORS["fhir_record"] = validate_fhir_record
SECTION_VALIDATORS["supplier_record"] = validate_supplier_record
