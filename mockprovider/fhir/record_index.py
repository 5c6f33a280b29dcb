"""The built structured record as an index a query can filter: areas, items, links, dates.

Retrieve a patient's structured record answers from **the same record Migrate serves**: this module
reads two migrate Bundles of one persona, whatever the record's origin (hand-written or run-time
personas assembled by :mod:`mockprovider.fhir.structured`, imported or supplier-shaped records
served by :mod:`mockprovider.fhir.served_record`):

- the Bundle *with* sensitive information: what the record holds, so a query knows where each
  confidential item would have been (its Lists get the ``confidential-items`` warning);
- the Bundle *without* it: the resources a retrieve may send, exactly as Migrate sends them
  (confidential items and every reference to them already left out by the migrate code).

:func:`build` turns them into a :class:`RecordIndex`. Nothing here builds a clinical resource;
:mod:`mockprovider.fhir.retrieve` filters the index and shapes the Lists with
:mod:`mockprovider.record.lists`.

How the record is read (pages of nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/):

- **Areas and items** (accessrecord_structured_development_lists_for_message_structure.md, "Primary
  lists"): every entry of a primary List (found by its SNOMED code) is one item of that area; an
  ended allergy is contained in the Ended allergies List. A resource of an area's own type that no
  List names (an imported Bundle without its Lists) joins that area by type.
- **What an item is made of** (accessrecord_structured_development_linkages.md, "FHIR profiles
  returned on query"): its primary resource and what it references that belongs to no other item
  (a MedicationStatement's plan and Medication, a DiagnosticReport's ProcedureRequest, Specimens and
  result Observations), plus the prescription issues (MedicationRequest ``order``) based on its
  plan. A consultation is its Encounter, its consultation / topic / heading Lists and the narrative
  Observations they hold (accessrecord_structured_development_consultation_guidance.md).
- **Links**: a problem links the items in its ``relatedClinicalContent`` and ``actualProblem``
  extensions, the consultation in its ``context``, and the problems in ``relatedProblemHeader``
  (accessrecord_structured_problems.md); a topic List's ``relatedProblemHeader`` and any other
  reference to a Condition link that item or consultation to the problem. What a consultation
  contains is what its structure Lists reference, and every item recorded in it (``context``,
  ``encounter``, the associatedEncounter extension).
- **Dates** for the search parameters (accessrecord_structured_development_retrieve_patient_record.md,
  "Payload response body"): MedicationStatement.effectivePeriod and the plan's prescription type,
  Encounter.period, Observation.effective[x], DiagnosticReport.issued, ReferralRequest.authoredOn,
  ProcedureRequest.occurrence[x]; a problem's clinicalStatus; an immunisation's notGiven.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import spec

ADMIN_TYPES = frozenset(("Patient", "Organization", "Practitioner", "PractitionerRole", "Location",
                         "HealthcareService", "Device"))
# Never followed to find what an item is made of: links to other items, not parts of this one.
_STOP_TYPES = ADMIN_TYPES | {"Encounter", "Condition", "List", "DocumentReference"}
_LINK_FIELDS = frozenset(("priorPrescription", "supportingInfo"))
_ENCOUNTER_FIELDS = frozenset(("context", "encounter"))
STRUCTURE_CODES = frozenset((spec.CONSULTATION_LIST_CODE[0], spec.TOPIC_LIST_CODE[0], spec.CATEGORY_LIST_CODE[0]))
# primary List SNOMED code -> area (the keys of spec.PRIMARY_LISTS)
AREA_OF_CODE = {code: area for area, (code, _, _) in spec.PRIMARY_LISTS.items()}
# An area's own resource type, for a resource no List names.
AREA_OF_TYPE = {"MedicationStatement": "medications", "Immunization": "immunisations",
                "DiagnosticReport": "investigations", "ReferralRequest": "referrals", "Encounter": "consultations",
                "Condition": "problems"}
EXT = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
EXT_RELATED_CONTENT = EXT + "Extension-CareConnect-RelatedClinicalContent-1"
EXT_RELATED_PROBLEM = EXT + "Extension-CareConnect-RelatedProblemHeader-1"
EXT_ACTUAL_PROBLEM = spec.SD + "Extension-CareConnect-GPC-ActualProblem-1"
EXT_PRESCRIPTION_TYPE = spec.SD + "Extension-CareConnect-GPC-PrescriptionType-1"
EXT_PRESCRIBING_AGENCY = spec.SD + "Extension-CareConnect-GPC-PrescribingAgency-1"
EXT_ENCOUNTER = "http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter"
PRESCRIBED_ELSEWHERE = "prescribed-by-another-organisation"
_CONTAINED_REF = re.compile(r"^List/([^#/]+)#(.+)\Z")


def ref_of(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource.get('id')}"


@dataclass
class Item:
    """One record item: its primary resource and the resources made for it."""
    ref: str                    # "Type/id" of the primary resource (an ended allergy: AllergyIntolerance/<id>)
    area: str                   # a key of spec.PRIMARY_LISTS, or "documents"
    order: int                  # position in the record (the Bundle's order)
    members: list = field(default_factory=list)     # refs, in Bundle order, primary first
    orders: set = field(default_factory=set)        # members that are prescription issues
    confidential: bool = False  # left out of the Bundle without sensitive information
    partial: bool = False       # sent, but some of its resources are left out (confidential)
    dates: dict = field(default_factory=dict)       # what the search parameters compare (see module doc)


@dataclass
class RecordIndex:
    items: dict                 # ref -> Item, in record order
    by_area: dict               # area -> [Item], in record order
    member_of: dict             # member ref -> [Item] (a shared Medication or Specimen has several)
    served: dict                # ref -> resource of the Bundle without sensitive information
    served_order: list          # refs of that Bundle's entries, in order (Lists with ids too)
    ended_list_id: str | None   # the Ended allergies List's id, when the record references into it
    structure_lists: dict       # Encounter ref -> [List ref] (served), in Bundle order
    problem_links: dict         # problem ref -> {item ref: {directly referenced member refs}}
    problem_problems: dict      # problem ref -> [problem ref] (relatedProblemHeader, both ways)
    item_problems: dict         # item ref -> [problem ref] (every link, both directions)
    contains: dict              # consultation ref -> {item ref: {directly referenced member refs}}
    linked_documents: dict      # item ref -> [DocumentReference refs] it references (supportingInfo)
    warnings: dict              # ListMaker warnings: code -> (note text, areas or None)
    list_date: str | None       # List.date of the record's Lists
    patient_ref: dict
    bundle_meta: dict
    admin_refs: list            # Patient, Organization, ... refs in Bundle order
    roles_of: dict              # Practitioner ref -> [PractitionerRole refs]


def _walk(node, path=(), ext_urls=()):
    """(field path, reference, extension urls around it) of every relative reference in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "contained":
                continue
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for x in value:
                    if isinstance(x, dict):
                        yield from _walk(x, path + (key,), ext_urls + (x.get("url"),))
            elif key == "reference" and isinstance(value, str):
                yield path, value, ext_urls
            elif isinstance(value, (dict, list)):
                yield from _walk(value, path + (key,), ext_urls)
    elif isinstance(node, list):
        for x in node:
            yield from _walk(x, path, ext_urls)


def _codes(cc) -> list:
    return [c.get("code") for c in (cc or {}).get("coding", []) if isinstance(c, dict)]


def _list_area(resource: dict):
    for code in _codes(resource.get("code")):
        if code in AREA_OF_CODE:
            return AREA_OF_CODE[code]
    return None


def _is_structure(resource: dict) -> bool:
    return resource.get("resourceType") == "List" and any(c in STRUCTURE_CODES for c in _codes(resource.get("code")))


def _entries(resource: dict):
    for e in resource.get("entry") or []:
        item = e.get("item") if isinstance(e, dict) else None
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            yield item["reference"]


def _index_bundle(bundle: dict) -> tuple[dict, list, dict]:
    """(ref -> resource, refs in order, contained ended allergy ref -> resource)."""
    by_ref, order, contained = {}, [], {}
    for entry in bundle.get("entry") or []:
        r = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(r, dict) or not isinstance(r.get("resourceType"), str):
            continue
        ref = ref_of(r)
        if r.get("id") is not None and ref not in by_ref:
            by_ref[ref] = r
        order.append(ref if r.get("id") is not None else r)
        if r["resourceType"] == "List" and _list_area(r) == "ended_allergies":
            for c in r.get("contained") or []:
                if isinstance(c, dict) and c.get("resourceType") == "AllergyIntolerance":
                    contained[f"AllergyIntolerance/{c.get('id')}"] = c
    return by_ref, order, contained


_NOTE_DATE = r"\d{2}-[A-Z][a-z]{2}-\d{4}"


def _warnings(served_lists: list) -> dict:
    """The record-wide List warnings (anything but confidential-items) as the Bundle without sensitive
    information carries them on its primary Lists: code -> (note text, areas, or None for every List).
    data-in-transit goes on every List returned (lists_for_message_structure.md, "Data in transit");
    the others on the primary Lists of the areas that carry them."""
    found: dict = {}
    for area, r in served_lists:
        note = " ".join(n.get("text", "") for n in r.get("note") or [] if isinstance(n, dict))
        for x in r.get("extension") or []:
            if not isinstance(x, dict) or x.get("url") != spec.LIST_WARNING_EXTENSION:
                continue
            code = x.get("valueCode")
            if not isinstance(code, str) or code == "confidential-items":
                continue
            template = spec.LIST_WARNINGS.get(code)
            text = None
            if template:
                pattern = re.escape(template).replace(re.escape("{date}"), _NOTE_DATE)
                m = re.search(pattern, note)
                text = m.group(0) if m else None
            if text is None:        # a list worded otherwise: its note, less the texts we know
                text = note.replace(spec.LIST_WARNINGS["confidential-items"], "").replace(
                    spec.LIST_EMPTY_NOTE, "").strip() or code
            known = found.setdefault(code, [text, []])
            known[1].append("allergies" if area == "ended_allergies" else area)
    return {code: (text, None if code == "data-in-transit" else tuple(dict.fromkeys(areas)))
            for code, (text, areas) in found.items()}


def _period(value) -> tuple:
    if isinstance(value, dict):
        return value.get("start"), value.get("end")
    return value, None


def _item_dates(area: str, primary: dict, full: dict) -> dict:
    """What the search parameters of ``area`` compare, as the resources write it (strings)."""
    if area == "medications":
        start, end = _period(primary.get("effectivePeriod") or primary.get("effectiveDateTime"))
        kind = None
        for b in primary.get("basedOn") or []:
            plan = full.get(b.get("reference")) if isinstance(b, dict) else None
            for x in (plan or {}).get("extension") or []:
                if isinstance(x, dict) and x.get("url") == EXT_PRESCRIPTION_TYPE:
                    kind = next(iter(_codes(x.get("valueCodeableConcept"))), None)
        elsewhere = any(isinstance(x, dict) and x.get("url") == EXT_PRESCRIBING_AGENCY
                        and PRESCRIBED_ELSEWHERE in _codes(x.get("valueCodeableConcept"))
                        for x in primary.get("extension") or [])
        return {"start": start, "end": end, "type": kind, "elsewhere": elsewhere}
    if area == "consultations":
        start, end = _period(primary.get("period"))
        return {"start": start, "end": end}
    if area in ("observations", "immunisations"):
        if primary.get("resourceType") == "Immunization":
            return {"start": primary.get("date"), "end": None, "not_given": primary.get("notGiven") is True,
                    "status_record": False}
        start, end = _period(primary.get("effectivePeriod") or primary.get("effectiveDateTime"))
        return {"start": start, "end": end, "not_given": False, "status_record": True}
    if area == "investigations":
        return {"start": primary.get("issued"), "end": None}
    if area == "referrals":
        return {"start": primary.get("authoredOn"), "end": None}
    if area == "diary":
        start, _ = _period(primary.get("occurrencePeriod") or primary.get("occurrenceDateTime"))
        return {"start": start, "end": None}
    if area == "problems":
        return {"status": primary.get("clinicalStatus")}
    return {}


def build(full_bundle: dict, served_bundle: dict) -> RecordIndex:
    """The index of one persona's record from its migrate Bundles with and without sensitive
    information (see the module docstring)."""
    full, full_order, full_contained = _index_bundle(full_bundle)
    served, served_order, served_contained = _index_bundle(served_bundle)
    full_all = {**full, **full_contained}
    served_all = {**served, **served_contained}

    # --- areas and items -----------------------------------------------------------------------------
    items: dict = {}
    ended_list_id = None
    for entry in full_order:
        if isinstance(entry, dict):
            r = entry
        else:
            r = full[entry]
        if r["resourceType"] != "List" or _is_structure(r):
            continue
        area = _list_area(r)
        if area is None:
            continue
        if area == "ended_allergies" and r.get("id"):
            ended_list_id = r["id"]
        for target in _entries(r):
            ref = f"AllergyIntolerance/{target[1:]}" if target.startswith("#") else target
            if ref in full_all and ref not in items:
                items[ref] = Item(ref, area, 0)
    for ref in full_order:
        if isinstance(ref, str) and ref not in items:
            kind = ref.split("/", 1)[0]
            area = AREA_OF_TYPE.get(kind)
            if kind == "AllergyIntolerance":
                area = "ended_allergies" if full[ref].get("clinicalStatus") == "resolved" else "allergies"
            elif kind == "DocumentReference":
                area = "documents"
            if area:
                items[ref] = Item(ref, area, 0)
    for ref in full_contained:
        items.setdefault(ref, Item(ref, "ended_allergies", 0))
    position = {ref: n for n, ref in enumerate(r for r in full_order if isinstance(r, str))}
    for item in items.values():
        item.order = position.get(item.ref, -1)
    items = dict(sorted(items.items(), key=lambda kv: (kv[1].order, kv[0])))

    # --- what each item is made of -------------------------------------------------------------------
    structure = [full[ref] for ref in full_order if isinstance(ref, str) and _is_structure(full[ref])]
    encounter_item = {ref: ref for ref, item in items.items() if item.area == "consultations"}
    member_of: dict = {}
    linked_documents: dict = {}

    def claim(item: Item, ref: str):
        if ref not in item.members:
            item.members.append(ref)
        member_of.setdefault(ref, [])
        if item not in member_of[ref]:
            member_of[ref].append(item)

    def close(item: Item, start: str):
        todo = [start]
        while todo:
            ref = todo.pop()
            if ref in item.members and ref != start:
                continue
            resource = full_all.get(ref)
            if resource is None:
                continue
            claim(item, ref)
            for path, target, ext_urls in _walk(resource):
                kind = target.split("/", 1)[0]
                if ext_urls or (path and path[0] in _LINK_FIELDS):
                    if kind == "DocumentReference" and target in items:
                        linked_documents.setdefault(item.ref, []).append(target)
                    continue
                if kind == "DocumentReference" and target in items:
                    if path and path[0] not in _ENCOUNTER_FIELDS:
                        linked_documents.setdefault(item.ref, []).append(target)
                    continue
                if kind in _STOP_TYPES or target in items or target in item.members:
                    continue
                if target in full_all:
                    todo.append(target)

    for item in items.values():
        close(item, item.ref)
    # Prescription issues: the MedicationRequests (intent order) based on an item's plan.
    for ref in full_order:
        if not isinstance(ref, str) or not ref.startswith("MedicationRequest/") or ref in member_of:
            continue
        r = full[ref]
        for b in r.get("basedOn") or []:
            plan = b.get("reference") if isinstance(b, dict) else None
            for item in member_of.get(plan, []):
                close(item, ref)
                if r.get("intent") == "order":
                    item.orders.add(ref)
    # A consultation: its Encounter, its structure Lists and the narratives they hold.
    structure_lists: dict = {}
    contains: dict = {}
    list_encounter = {}
    for lst in structure:
        enc = (lst.get("encounter") or {}).get("reference")
        if enc in encounter_item:
            list_encounter[ref_of(lst)] = enc
    for lst in structure:
        ref = ref_of(lst)
        enc = list_encounter.get(ref)
        if enc is None:
            continue
        item = items[enc]
        claim(item, ref)
        if ref in served:
            structure_lists.setdefault(enc, []).append(ref)
        for target in _entries(lst):
            m = _CONTAINED_REF.match(target)
            inner = f"AllergyIntolerance/{m.group(2)}" if m else target
            if inner in items or inner in member_of and inner not in item.members:
                for owner in ([items[inner]] if inner in items else member_of[inner]):
                    if owner.area != "consultations":
                        contains.setdefault(enc, {}).setdefault(owner.ref, set()).add(target)
            elif target.startswith("List/"):
                continue
            elif target in full_all:
                close(item, target)
    # Items recorded in a consultation name its Encounter (context, encounter, associatedEncounter).
    for item in items.values():
        if item.area in ("consultations", "problems"):
            continue
        for ref in item.members:
            for path, target, ext_urls in _walk(full_all[ref]):
                if target in encounter_item and (
                        (path and path[0] in _ENCOUNTER_FIELDS) or EXT_ENCOUNTER in ext_urls):
                    contains.setdefault(target, {}).setdefault(item.ref, set()).add(item.ref)
    for item in items.values():
        item.members.sort(key=lambda ref: (ref != item.ref, position.get(ref, -1)))

    # --- problem links ---------------------------------------------------------------------------------
    problem_links: dict = {}
    problem_problems: dict = {}
    item_problems: dict = {}

    def link(problem: str, item_ref: str, direct: str):
        if problem == item_ref:
            return
        problem_links.setdefault(problem, {}).setdefault(item_ref, set()).add(direct)
        if problem not in item_problems.setdefault(item_ref, []):
            item_problems[item_ref].append(problem)

    def owners(target: str) -> list:
        m = _CONTAINED_REF.match(target)
        inner = f"AllergyIntolerance/{m.group(2)}" if m else target
        if inner in items:
            return [items[inner]]
        return list(member_of.get(inner, []))

    problems = [item for item in items.values() if item.area == "problems"]
    for problem in problems:
        r = full_all[problem.ref]
        for path, target, ext_urls in _walk(r):
            if EXT_RELATED_PROBLEM in ext_urls:
                if target in items and items[target].area == "problems" and target != problem.ref:
                    for a, b in ((problem.ref, target), (target, problem.ref)):
                        if b not in problem_problems.setdefault(a, []):
                            problem_problems[a].append(b)
                continue
            if ext_urls and not ({EXT_RELATED_CONTENT, EXT_ACTUAL_PROBLEM} & set(ext_urls)):
                continue
            if not ext_urls and not (path and path[0] == "context"):
                continue
            for owner in owners(target):
                if owner.area != "problems":
                    link(problem.ref, owner.ref, target)
    # Any other reference to a problem: a topic List's relatedProblemHeader, a document's context.related.
    for lst in structure:
        enc = list_encounter.get(ref_of(lst))
        if enc is None:
            continue
        for path, target, ext_urls in _walk({k: v for k, v in lst.items() if k != "entry"}):
            if target in items and items[target].area == "problems":
                link(target, enc, enc)
    for item in items.values():
        if item.area == "problems":
            continue
        for ref in item.members:
            if ref.startswith("List/"):
                continue
            for path, target, ext_urls in _walk(full_all[ref]):
                if target in items and items[target].area == "problems":
                    link(target, item.ref, item.ref)
    for item_ref, found in item_problems.items():
        found.sort(key=lambda ref: items[ref].order)

    # --- confidential, partial, dates ----------------------------------------------------------------
    for item in items.values():
        item.confidential = item.ref not in served_all
        # Sent without some of its resources (a confidential test result): its Lists warn. A consultation
        # never does: what it leaves out warns on the secondary List of that item's area instead.
        item.partial = not item.confidential and item.area != "consultations" and any(
            m not in served_all for m in item.members)
        item.dates = _item_dates(item.area, full_all[item.ref], full_all)

    by_area: dict = {}
    for item in items.values():
        by_area.setdefault(item.area, []).append(item)

    served_lists = [(_list_area(served[ref]), served[ref]) for ref in served_order
                    if isinstance(ref, str) and ref.startswith("List/") and _list_area(served[ref])]
    served_lists += [(_list_area(r), r) for r in served_order
                     if isinstance(r, dict) and r.get("resourceType") == "List" and _list_area(r)]
    list_date = next((r.get("date") for _, r in served_lists if r.get("date")), None)
    patient = next((r for ref, r in served.items() if ref.startswith("Patient/")), None)
    admin_refs = [ref for ref in served_order if isinstance(ref, str) and ref.split("/", 1)[0] in ADMIN_TYPES]
    roles_of: dict = {}
    for ref in admin_refs:
        if ref.startswith("PractitionerRole/"):
            practitioner = (served[ref].get("practitioner") or {}).get("reference")
            if practitioner:
                roles_of.setdefault(practitioner, []).append(ref)
    return RecordIndex(
        items=items, by_area=by_area, member_of=member_of, served=served_all,
        served_order=[ref for ref in served_order if isinstance(ref, str)], ended_list_id=ended_list_id,
        structure_lists=structure_lists, problem_links=problem_links, problem_problems=problem_problems,
        item_problems=item_problems, contains=contains,
        linked_documents={k: list(dict.fromkeys(v)) for k, v in linked_documents.items()},
        warnings=_warnings(served_lists), list_date=list_date,
        patient_ref={"reference": ref_of(patient)} if patient else {},
        bundle_meta=served_bundle.get("meta") or {"profile": [spec.PROFILE_STRUCTURED_BUNDLE]},
        admin_refs=admin_refs, roles_of=roles_of)
