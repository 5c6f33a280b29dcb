"""Serve a record held as FHIR (an imported Bundle) as it came.

``bundle(persona, sensitive, documents_base, documents)`` gives the migrate Bundle (its id is the
trace placeholder, spliced per request) of a persona with a ``fhir_record`` section
(:mod:`mockprovider.personas.fhir_record`). The only place the mock sends clinical resources it did not
build in :mod:`mockprovider.record` (a supplier-styled record is an ordinary record with a style).
Nothing is "fixed": every entry is sent as stored,
but for the documented rewrites (docs/personas/import.md):

- each attachment listed in ``attachments`` gets ``url`` = the documents root + ``/Binary/{id}`` of
  its persona document (so a consumer following it verbatim reaches this mock's Binary route);
- with ``sensitive`` false, the resources listed in ``confidential`` are left out. A resource that
  still needs a left-out one (any reference other than a List entry or an extension's
  valueReference, e.g. ``basedOn``, ``context``, ``List.encounter``) is left out with it. List
  entries and extensions pointing at a left-out resource are removed; each List that lost an entry
  carries the ``confidential-items`` warning and note (an emptied List also its emptyReason), as
  the spec asks of a provider (migrate-structured.md "Confidential / sensitive information") —
  except consultation-structure Lists, which never carry warnings: they only lose the entry, and
  one left with nothing is left out (and its entry above it).
"""
from __future__ import annotations

import json

from .. import spec
from ..personas.bundle_import import CONFIDENTIALITY_SYSTEM, is_confidential
from ..record import lists, problems as problems_area
from . import documents as documents_fhir
from .render import TRACE_PLACEHOLDER

RESTRICTED = {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}
ADMIN_TYPES = frozenset(("Patient", "Organization", "Practitioner", "PractitionerRole", "Location",
                         "HealthcareService", "Device"))


def fhir_record_of(persona, ods_code: str = "B82617") -> dict:
    """The persona's record as FHIR: the stored ``fhir_record`` (an import)."""
    return persona.data["fhir_record"]


def has_fhir_record(persona) -> bool:
    return "fhir_record" in persona.data


def _scan(node, structural: set, removable: set):
    """Collect relative references: those inside an extension's valueReference are removable,
    the rest structural."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and isinstance(item.get("valueReference"), dict):
                        ref = item["valueReference"].get("reference")
                        if isinstance(ref, str):
                            removable.add(ref)
                    else:
                        _scan(item, structural, removable)
            elif key == "reference" and isinstance(value, str):
                structural.add(value)
            elif isinstance(value, (dict, list)):
                _scan(value, structural, removable)
    elif isinstance(node, list):
        for item in node:
            _scan(item, structural, removable)


def _references(resource: dict) -> tuple[set, set]:
    structural: set = set()
    removable: set = set()
    if resource.get("resourceType") == "List":
        for entry in resource.get("entry") or []:
            item = entry.get("item") if isinstance(entry, dict) else None
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                removable.add(item["reference"])
        _scan({k: v for k, v in resource.items() if k not in ("entry", "contained")}, structural, removable)
    else:
        _scan({k: v for k, v in resource.items() if k != "contained"}, structural, removable)
    return structural, removable


def _points_at(extension, withheld: set) -> bool:
    """Whether an extension's value, or a part of a complex extension (e.g. RelatedProblemHeader's
    ``target``), references a left-out resource: the whole extension goes (a complex one without
    its target would be broken)."""
    if not isinstance(extension, dict):
        return False
    if isinstance(extension.get("valueReference"), dict) and extension["valueReference"].get("reference") in withheld:
        return True
    return any(_points_at(part, withheld) for part in extension.get("extension") or [])


def _drop_extensions(node, withheld: set):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                kept = [_drop_extensions(item, withheld) for item in value if not _points_at(item, withheld)]
                if kept:
                    out[key] = kept
            else:
                out[key] = _drop_extensions(value, withheld)
        return out
    if isinstance(node, list):
        return [_drop_extensions(item, withheld) for item in node]
    return node


STRUCTURE_LIST_CODES = frozenset((spec.CONSULTATION_LIST_CODE[0], spec.TOPIC_LIST_CODE[0], spec.CATEGORY_LIST_CODE[0]))


def _is_structure_list(resource: dict) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") in STRUCTURE_LIST_CODES for c in codings)


def _warned_list(resource: dict, withheld: set) -> dict:
    """A List that lost entries: the ``confidential-items`` warning (before any other warning code,
    the code system's order) and its note; emptied, also ``emptyReason`` and "Information not
    available". The texts go into one note, warning texts first then the empty text (the List
    page: note 0..1, as the mock's own builder writes it, mockprovider.record.lists); a List that
    came with several notes keeps them and gets the added texts as one more."""
    r = dict(resource)
    entries = [e for e in r.get("entry") or []
               if not (isinstance(e, dict) and isinstance(e.get("item"), dict)
                       and e["item"].get("reference") in withheld)]
    ext = list(r.get("extension") or [])
    warning = {"url": spec.LIST_WARNING_EXTENSION, "valueCode": "confidential-items"}
    if not any(isinstance(e, dict) and e.get("url") == spec.LIST_WARNING_EXTENSION
               and e.get("valueCode") == "confidential-items" for e in ext):
        at = next((i for i, e in enumerate(ext) if isinstance(e, dict) and e.get("url") == spec.LIST_WARNING_EXTENSION),
                  len(ext))
        ext.insert(at, warning)
    notes = list(r.get("note") or [])
    texts = [n.get("text") for n in notes if isinstance(n, dict) and isinstance(n.get("text"), str)]
    joined = " ".join(texts)
    first = [] if spec.LIST_WARNINGS["confidential-items"] in joined else [spec.LIST_WARNINGS["confidential-items"]]
    last = [spec.LIST_EMPTY_NOTE] if not entries and spec.LIST_EMPTY_NOTE not in joined else []
    if len(notes) <= 1 and (first or last):
        note = dict(notes[0]) if notes and isinstance(notes[0], dict) else {}
        note["text"] = " ".join(first + texts[:1] + last)
        notes = [note]
    elif first or last:
        notes.append({"text": " ".join(first + last)})
    # Rebuild in the resource's own key order, adding what was missing where the profile puts it.
    out: dict = {}
    for key, value in r.items():
        if key == "entry":
            continue
        if key == "note":
            continue
        if key == "extension":
            value = ext
        out[key] = value
    if "extension" not in out:
        out = {**{k: out[k] for k in ("resourceType", "id", "meta") if k in out}, "extension": ext,
               **{k: v for k, v in out.items() if k not in ("resourceType", "id", "meta")}}
    if not entries:
        out["note"] = notes
        out.setdefault("emptyReason", {"coding": [dict(spec.LIST_EMPTY_REASON)]})
    else:
        out["note"] = notes
        out["entry"] = entries
    return out


def mark_confidential(full: dict, without: dict) -> dict:
    """``full`` (a migrate Bundle with sensitive items) with the confidentiality marker the import
    recognises (:func:`mockprovider.personas.bundle_import.is_confidential`: ``meta.security`` code
    ``R`` of the HL7 Confidentiality system) on every resource that ``without`` (the same record
    without sensitive items) leaves out, Lists and the Patient aside: imported again, the record
    leaves out the same resources (GET /_control/personas/{nhs}/record, the documented round trip).
    ``full`` is not changed."""
    kept = {(e["resource"]["resourceType"], e["resource"].get("id")) for e in without.get("entry", [])}
    entries = []
    for entry in full.get("entry", []):
        r = entry["resource"]
        if r["resourceType"] in ("List", "Patient") or not isinstance(r.get("id"), str) \
                or (r["resourceType"], r["id"]) in kept or is_confidential(r):
            entries.append(entry)
            continue
        meta = dict(r.get("meta") or {})
        meta["security"] = list(meta.get("security") or []) + [dict(RESTRICTED)]
        entries.append({**entry, "resource": {**_with_meta(r, meta)}})
    return {**full, "entry": entries}


def _with_meta(resource: dict, meta: dict) -> dict:
    """The resource with ``meta`` in its place (after ``id``), the rest in its own order."""
    out = {}
    for key, value in resource.items():
        out[key] = meta if key == "meta" else value
        if key == "id" and "meta" not in resource:
            out["meta"] = meta
    if "meta" not in out:
        out["meta"] = meta
    return out


def withhold(entries: list, confidential) -> list:
    """The entries without the confidential resources (and what depends on them); see the module
    docstring. ``entries`` is not changed; changed resources are copies."""
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
               for e in entries if isinstance(e['resource'].get("id"), str)}
    withheld = {ref for ref in confidential if ref in present}
    if not withheld:
        return entries
    refs = []
    for e in entries:
        r = e["resource"]
        refs.append(_references(r))
    changed = True
    while changed:          # a resource needing a left-out one goes too, until nothing changes
        changed = False
        for e, (structural, _) in zip(entries, refs):
            r = e["resource"]
            if r["resourceType"] in ADMIN_TYPES or not isinstance(r.get("id"), str):
                continue
            ref = f"{r['resourceType']}/{r['id']}"
            if ref not in withheld and structural & withheld:
                withheld.add(ref)
                changed = True
    # A consultation-structure List left with nothing goes too (none is ever sent empty), and with it
    # its entry in the List above it.
    changed = True
    while changed:
        changed = False
        for e in entries:
            r = e["resource"]
            if r["resourceType"] != "List" or not isinstance(r.get("id"), str) or not _is_structure_list(r):
                continue
            ref = f"List/{r['id']}"
            items = [x["item"].get("reference") for x in r.get("entry") or []
                     if isinstance(x, dict) and isinstance(x.get("item"), dict)]
            if ref not in withheld and items and all(i in withheld for i in items):
                withheld.add(ref)
                changed = True
    out = []
    linked_problem_gone = _linked_problem_withheld(entries, withheld)
    for e, (structural, removable) in zip(entries, refs):
        r = e["resource"]
        rid = r.get("id")
        if isinstance(rid, str) and f"{r['resourceType']}/{rid}" in withheld:
            continue
        if r["resourceType"] == "List" and (structural & withheld):
            continue            # a consultation-structure List of a left-out consultation
        if removable & withheld:
            if r["resourceType"] == "List":
                lost = any(isinstance(x, dict) and isinstance(x.get("item"), dict)
                           and x["item"].get("reference") in withheld for x in r.get("entry") or [])
                if lost and _is_structure_list(r):
                    # Consultation-structure Lists never carry warnings (List page): the entry just goes.
                    r = {**r, "entry": [x for x in r.get("entry") or []
                                        if not (isinstance(x, dict) and isinstance(x.get("item"), dict)
                                                and x["item"].get("reference") in withheld)]}
                elif lost:
                    r = _warned_list(r, withheld)
            r = _drop_extensions(r, withheld)
            e = {**e, "resource": r}
        out.append(e)
    if linked_problem_gone:
        _add_linked_problems_list(out)
    return out


def _related_problems(resource: dict) -> list:
    """The targets of a problem's RelatedProblemHeader extensions."""
    out = []
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == problems_area.EXT_RELATED_PROBLEM:
            for part in ext.get("extension") or []:
                if isinstance(part, dict) and part.get("url") == "target" \
                        and isinstance(part.get("valueReference"), dict):
                    out.append(part["valueReference"].get("reference"))
    return out


def _linked_problem_withheld(entries: list, withheld: set) -> bool:
    """Whether a problem linked to a problem that is sent (RelatedProblemHeader, either side) is left out."""
    for e in entries:
        r = e["resource"]
        if r["resourceType"] != "Condition" or not isinstance(r.get("id"), str):
            continue
        gone = f"Condition/{r['id']}" in withheld
        for target in _related_problems(r):
            if gone != (target in withheld):
                return True
    return False


def _add_linked_problems_list(out: list) -> None:
    """The secondary "linked problems" List, empty with the confidential-items warning, when a
    linked problem was left out and the Bundle has none: the List the left-out problem would have
    appeared in (the mock's builder sends it the same way, mockprovider.fhir.structured)."""
    title = lists.PROBLEM_SECONDARY["problems"]
    lists_at = [(n, e["resource"]) for n, e in enumerate(out) if e["resource"]["resourceType"] == "List"]
    if any(r.get("title") == title for _, r in lists_at):
        return
    model = next((r for _, r in lists_at if r.get("title") == "Problems"), None) or \
        next((r for _, r in lists_at), None)
    if model is None:
        return
    setting = [x for x in model.get("extension") or []
               if isinstance(x, dict) and x.get("url") == spec.CLINICAL_SETTING_EXTENSION]
    made = {"resourceType": "List"}
    if "meta" in model:
        made["meta"] = model["meta"]
    made["extension"] = setting + [{"url": spec.LIST_WARNING_EXTENSION, "valueCode": "confidential-items"}]
    made.update({"status": "current", "mode": "snapshot", "title": title,
                 "code": {"coding": [lists.secondary_coding(title)]}})
    for key in ("subject", "date"):
        if key in model:
            made[key] = model[key]
    made["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
    made["note"] = [{"text": f"{spec.LIST_WARNINGS['confidential-items']} {spec.LIST_EMPTY_NOTE}"}]
    # In the secondary Lists' order: before the first that comes after it, else after the last before it.
    titles = list(lists.PROBLEM_SECONDARY.values())
    later = set(titles[titles.index(title) + 1:])
    earlier = set(titles[:titles.index(title)])
    at = next((n for n, r in lists_at if r.get("title") in later), None)
    if at is None:
        before = [n for n, r in lists_at if r.get("title") in earlier]
        at = before[-1] + 1 if before else lists_at[-1][0] + 1
    out.insert(at, {"resource": made})


def bundle(persona, sensitive: bool, documents_base: str, documents=(), ods_code: str = "B82617") -> dict:
    """The migrate Bundle of a persona whose record is FHIR (id: the trace placeholder)."""
    record = fhir_record_of(persona, ods_code)
    entries = record["entries"]
    attachments = record.get("attachments") or []
    if attachments:
        by_key = {d.key: d for d in documents}
        entries = list(entries)
        for att in attachments:
            doc = by_key.get(att["document"])
            if doc is None:
                continue
            entry = entries[att["entry"]]
            resource = json.loads(json.dumps(entry["resource"]))   # copy: the stored record stays as it came
            resource["content"][att["content"]]["attachment"]["url"] = documents_fhir.binary_url(documents_base, doc)
            entries[att["entry"]] = {**entry, "resource": resource}
    if not sensitive and record.get("confidential"):
        entries = withhold(entries, record["confidential"])
    meta = record.get("bundle_meta") or {"profile": [spec.PROFILE_STRUCTURED_BUNDLE]}
    return {"resourceType": "Bundle", "id": TRACE_PLACEHOLDER, "meta": meta, "type": "collection",
            "entry": entries}
