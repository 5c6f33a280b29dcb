"""A persona's structured record as a ``GPConnect-StructuredRecord-Bundle-1`` (migrate-structured.md).

``structured_bundle(persona, ods_code, sensitive, documents_base, status_system)`` returns the Bundle
dict with ``Bundle.id`` set to :data:`render.TRACE_PLACEHOLDER` (the interaction splices the
request's Ssp-TraceID in). Order: Lists (primary, secondary, consultation structure), clinical
resources, administrative resources. Entries hold only ``resource`` (no fullUrl).

Confidentiality: with ``sensitive=False`` every item marked ``confidential`` is left out, and every
List it would have appeared in (its primary List, the secondary "related to problems" /
"contained in consultations" Lists, the consultation heading that recorded it) carries the
``confidential-items`` warning extension and note. A List whose every item was left out is sent
empty with ``emptyReason`` and the warning.
"""
from __future__ import annotations

from .. import spec
from . import admin, clinical
from . import documents as documents_fhir
from .render import TRACE_PLACEHOLDER

# Record areas in Bundle order; each with its builder and primary-List key (spec.PRIMARY_LISTS).
AREAS = ("problems", "allergies", "medications", "observations", "immunisations", "investigations",
         "referrals", "diary", "consultations")
PRIMARY_ORDER = ("consultations", "problems", "allergies", "ended_allergies", "medications", "observations",
                 "immunisations", "investigations", "referrals", "diary")
BUILDERS = {
    "problems": clinical.problem,
    "allergies": clinical.allergy,
    "medications": clinical.medication,
    "observations": clinical.observation,
    "immunisations": clinical.immunisation,
    "referrals": clinical.referral,
    "diary": clinical.diary_entry,
    "consultations": clinical.encounter,
}

# Secondary Lists (GPConnect-SecondaryListValues-1): area -> title.
PROBLEM_SECONDARY = {
    "allergies": "Problems - allergies related to problems",
    "consultations": "Problems - consultations related to problems",
    "diary": "Problems - diary entries related to problems",
    "documents": "Problems - documents related to problems",
    "immunisations": "Problems - immunisations related to problems",
    "investigations": "Problems - investigations related to problems",
    "medications": "Problems - medications related to problems",
    "referrals": "Problems - outbound referrals related to problems",
    "observations": "Problems - uncategorised data related to problems",
}
CONSULTATION_SECONDARY = {
    "allergies": "Consultations - allergies contained in consultations",
    "diary": "Consultations - diary entries contained in consultations",
    "documents": "Consultations - documents contained in consultations",
    "immunisations": "Consultations - immunisations contained in consultations",
    "investigations": "Consultations - investigations contained in consultations",
    "medications": "Consultations - medications contained in consultations",
    "observations": "Consultations - uncategorised data contained in consultations",
    "referrals": "Consultations - outbound referrals in consultations",
    "problems": "Consultations - problems contained in consultations",
}


def secondary_code(title: str) -> str:
    """The SecondaryListValues code: the title lower-cased and hyphenated."""
    return title.lower().replace(" - ", "-").replace(" ", "-")


def record_date(persona) -> str:
    record = persona.data.get("record", {})
    if record.get("date"):
        return record["date"]
    dates = [item["date"] for area in AREAS for item in record.get(area, [])]
    return max(dates) if dates else persona.data["birth_date"]


class _ListBuilder:
    def __init__(self, patient_ref: dict, date: str):
        self.patient_ref, self.date = patient_ref, date

    def make(self, title: str, coding: dict, refs: list, warned: bool, *, list_id=None, encounter=None,
             contained=None) -> dict:
        r = {"resourceType": "List"}
        if list_id:
            r["id"] = list_id     # only consultation-structure Lists have ids
        r["meta"] = {"profile": [spec.PROFILE_LIST]}
        ext = [{"url": spec.CLINICAL_SETTING_EXTENSION, "valueCodeableConcept": {"coding": [
            {"system": spec.SNOMED, "code": spec.CLINICAL_SETTING[0], "display": spec.CLINICAL_SETTING[1]}]}}]
        if warned:
            ext.append({"url": spec.LIST_WARNING_EXTENSION, "valueCode": "confidential-items"})
        r["extension"] = ext
        if contained:
            r["contained"] = contained
        r["status"] = "current"
        r["mode"] = "snapshot"
        r["title"] = title
        r["code"] = {"coding": [coding]}
        r["subject"] = self.patient_ref
        if encounter:
            r["encounter"] = encounter
        r["date"] = self.date
        notes = []
        if warned:
            notes.append({"text": spec.LIST_WARNINGS["confidential-items"]})
        if refs:
            r["entry"] = [{"item": ref} for ref in refs]
        else:
            notes.append({"text": spec.LIST_EMPTY_NOTE})
            r["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
        if notes:
            r["note"] = notes
        return r


def _snomed(code: str, display: str) -> dict:
    return {"system": spec.SNOMED, "code": code, "display": display}


def structured_bundle(persona, ods_code: str, sensitive: bool, documents_base: str = "",
                      status_system: str = "example", documents=(), migrate_limit_bytes: int = 0) -> dict:
    """The Bundle (with the trace placeholder as id).

    documents            the persona's :class:`mockprovider.domain.documents.Document` list
                         (``domain.documents.index(store).of(persona)``), listed as DocumentReferences
                         whose attachment.url is ``documents_base + "/Binary/" + id``;
    migrate_limit_bytes  the flag ``migrate_document_limit_bytes``: a larger document is listed as a
                         placeholder (no url, the reason in attachment.title); 0 = unlimited.
    """
    data = persona.data
    nhs = data["nhs_number"]
    record = data.get("record", {})
    admins = admin.admin_resources(persona, ods_code, status_system)
    patient_ref = admin.ref(admins[0])
    org_ref = admin.ref(admins[1])
    gp = data.get("usual_gp")
    gp_ref = {"reference": f"Practitioner/{admins[-2]['id']}"} if gp else None
    ctx = clinical.Ctx(nhs=nhs, patient_ref=patient_ref, organization_ref=org_ref, practitioner_ref=gp_ref)

    def included(item) -> bool:
        return sensitive or not item.get("confidential")

    items = {area: record.get(area, []) for area in AREAS}
    area_of = {item["key"]: area for area in AREAS for item in items[area]}
    # Documents join the same bookkeeping under "document:<key>" (their keys are another namespace).
    doc_of = {f"document:{d.key}": d for d in documents}
    for key in doc_of:
        area_of[key] = "documents"
    order = {key: n for n, key in enumerate(area_of)}
    problems_in = {p["key"] for p in items["problems"] if included(p)}

    # Where each item was recorded: item key -> consultation key (every consultation).
    recorded_in: dict = {}
    for cons in items["consultations"]:
        for topic in cons.get("topics", []):
            for part in [topic, *topic.get("headings", [])]:
                for key in part.get("items", []):
                    recorded_in[key] = cons["key"]
    for key, doc in doc_of.items():
        if doc.entry.get("consultation"):
            recorded_in[key] = doc.entry["consultation"]
    consultations_in = {c["key"] for c in items["consultations"] if included(c)}
    for key, cons_key in recorded_in.items():
        if cons_key in consultations_in:
            ctx.encounter_of[key] = ctx.ref("Encounter", cons_key)

    # Problem links: problem key -> [(area, item key)] in area order, consultations by topic.
    links: dict = {}
    for area in AREAS:
        for item in items[area]:
            if area == "consultations":
                for topic in item.get("topics", []):
                    if topic.get("problem"):
                        pair = (area, item["key"])
                        if pair not in links.setdefault(topic["problem"], []):
                            links[topic["problem"]].append(pair)
            elif item.get("problem"):
                links.setdefault(item["problem"], []).append((area, item["key"]))
    for key, doc in doc_of.items():
        if doc.entry.get("problem"):
            links.setdefault(doc.entry["problem"], []).append(("documents", key))

    # Build the clinical resources of every included item.
    primary_ref: dict = {}          # item key -> reference of its primary resource
    clinical_resources: list = []
    ended_allergies: list = []      # contained in the "Ended allergies" List
    for area in AREAS:
        if area == "problems":
            continue                # after the others: a problem links what was actually sent
        for item in items[area]:
            if not included(item):
                continue
            if area == "investigations":
                primary, resources = clinical.investigation(ctx, item, included)
            else:
                primary, resources = BUILDERS[area](ctx, item)
            if area == "allergies" and "end" in item:
                ended_allergies += resources
                primary_ref[item["key"]] = {"reference": f"#{primary['id']}"}
                continue
            primary_ref[item["key"]] = {"reference": f"{primary['resourceType']}/{primary['id']}"}
            clinical_resources.append((area, resources))
    # DocumentReferences (metadata only; attachment.url on the documents root).
    document_resources = []
    for key, doc in doc_of.items():
        if not (sensitive or not doc.confidential):
            continue
        unavailable = None
        if migrate_limit_bytes and doc.size > migrate_limit_bytes:
            unavailable = documents_fhir.OVER_MIGRATE_LIMIT.format(limit=migrate_limit_bytes)
        ref = documents_fhir.document_reference(doc, documents_base=documents_base, custodian_ods=ods_code,
                                                unavailable=unavailable)
        context = ref.get("context", {})
        if doc.entry.get("consultation") not in consultations_in:
            context.pop("encounter", None)     # its consultation was left out (confidential)
        if doc.entry.get("problem") not in problems_in:
            context.pop("related", None)
        primary_ref[key] = {"reference": f"DocumentReference/{ref['id']}"}
        document_resources.append(ref)
    for problem_key in problems_in:
        ctx.related[problem_key] = [primary_ref[k] for _, k in links.get(problem_key, []) if k in primary_ref]
    problem_resources = []
    for item in items["problems"]:
        if included(item):
            primary, resources = clinical.problem(ctx, item)
            primary_ref[item["key"]] = {"reference": f"Condition/{primary['id']}"}
            problem_resources += resources

    lists = _ListBuilder(patient_ref, record_date(persona))

    # Investigations sent without some of their (confidential) results.
    partial = {i["key"] for i in items["investigations"] if included(i) and not all(
        included(res) for group in i.get("groups", []) for res in group["results"])
        or not all(included(res) for res in i.get("results", []))}

    def membership(full_keys, sent_keys):
        refs = [primary_ref[k] for k in sent_keys]
        return refs, bool(set(full_keys) - set(sent_keys)) or bool(set(sent_keys) & partial)

    # Primary Lists.
    out_lists = []
    for name in PRIMARY_ORDER:
        code, code_display, title = spec.PRIMARY_LISTS[name]
        if name in ("allergies", "ended_allergies"):
            want_ended = name == "ended_allergies"
            full = [a["key"] for a in items["allergies"] if ("end" in a) == want_ended]
        else:
            full = [i["key"] for i in items[name]]
        sent = [k for k in full if k in primary_ref]
        refs, warned = membership(full, sent)
        contained = ended_allergies if name == "ended_allergies" and ended_allergies else None
        out_lists.append(lists.make(title, _snomed(code, code_display), refs, warned, contained=contained))

    # Secondary Lists: sent only with data or a warning.
    by_key = {item["key"]: item for area in AREAS for item in items[area]}
    for area, title in PROBLEM_SECONDARY.items():
        full, sent = {}, {}          # dicts as ordered sets
        for problem_key, pairs in links.items():
            for linked_area, key in pairs:
                if linked_area != area:
                    continue
                full[key] = None
                if problem_key in problems_in and key in primary_ref:
                    sent[key] = None
        full, sent = list(full), list(sent)
        if area == "allergies":
            full = [k for k in full if "end" not in by_key[k]]
            sent = [k for k in sent if k in full]
        refs, warned = membership(full, sent)
        if refs or warned:
            coding = {"system": spec.SECONDARY_LIST_SYSTEM, "code": secondary_code(title), "display": title}
            out_lists.append(lists.make(title, coding, refs, warned))
    for area, title in CONSULTATION_SECONDARY.items():
        full = [k for k in recorded_in if area_of.get(k) == area]
        full.sort(key=order.__getitem__)
        sent = [k for k in full if k in primary_ref and recorded_in[k] in consultations_in]
        refs, warned = membership(full, sent)
        if refs or warned:
            coding = {"system": spec.SECONDARY_LIST_SYSTEM, "code": secondary_code(title), "display": title}
            out_lists.append(lists.make(title, coding, refs, warned))

    # Consultation structure Lists and narrative Observations.
    narratives = []
    for cons in items["consultations"]:
        if not included(cons):
            continue
        ck = cons["key"]
        enc_ref = ctx.ref("Encounter", ck)
        topic_lists, heading_lists = [], []
        for t, topic in enumerate(cons.get("topics", []), 1):
            tkey = f"{ck}/topic-{t}"
            parts = [(tkey, topic)] if not topic.get("headings") else \
                [(f"{tkey}/heading-{h}", heading) for h, heading in enumerate(topic["headings"], 1)]
            part_lists = []
            for pkey, part in parts:
                refs = [primary_ref[k] for k in part.get("items", []) if k in primary_ref]
                warned = any(k not in primary_ref for k in part.get("items", []))
                for n, text in enumerate(part.get("notes", []), 1):
                    note = clinical.narrative(ctx, f"{pkey}/note-{n}", text, cons["date"], enc_ref)
                    if cons.get("nopat"):
                        note["meta"]["security"] = [dict(spec.NOPAT_SECURITY)]
                    narratives.append(note)
                    refs.append({"reference": f"Observation/{note['id']}"})
                if pkey == tkey:
                    part_lists.append((pkey, None, refs, warned))
                else:
                    part_lists.append((pkey, part["code"], refs, warned))
            # A topic named after its problem; never after a problem left out as confidential.
            topic_title = topic.get("title") or (clinical.display(by_key[topic["problem"]]["code"])
                                                 if topic["problem"] in problems_in else "Topic")
            if topic.get("headings"):
                heading_refs = []
                for pkey, code, refs, warned in part_lists:
                    hl = lists.make(clinical.display(code), _snomed(*spec.CATEGORY_LIST_CODE), refs, warned,
                                    list_id=ctx.id("List", pkey), encounter=enc_ref)
                    heading_lists.append(hl)
                    heading_refs.append({"reference": f"List/{hl['id']}"})
                topic_list = lists.make(topic_title, _snomed(*spec.TOPIC_LIST_CODE), heading_refs, False,
                                        list_id=ctx.id("List", tkey), encounter=enc_ref)
            else:
                _, _, refs, warned = part_lists[0]
                topic_list = lists.make(topic_title, _snomed(*spec.TOPIC_LIST_CODE), refs, warned,
                                        list_id=ctx.id("List", tkey), encounter=enc_ref)
            topic_lists.append(topic_list)
        title = cons.get("title") or clinical.display(cons["type"])
        consultation_list = lists.make(title, _snomed(*spec.CONSULTATION_LIST_CODE),
                                       [{"reference": f"List/{tl['id']}"} for tl in topic_lists], False,
                                       list_id=ctx.id("List", ck), encounter=enc_ref)
        out_lists += [consultation_list, *topic_lists, *heading_lists]

    entries = list(out_lists)
    entries += problem_resources
    for area, resources in clinical_resources:
        entries += resources
    entries += narratives
    entries += document_resources
    entries += admins
    # Organisations that authored documents, other than the practice (already in admins).
    seen = {ods_code}
    for doc in documents:
        author = doc.entry.get("author", {}).get("organization")
        if author and author not in seen and primary_ref.get(f"document:{doc.key}"):
            seen.add(author)
            entries.append(admin.organization(author))
    return {
        "resourceType": "Bundle",
        "id": TRACE_PLACEHOLDER,
        "meta": {"profile": [spec.PROFILE_STRUCTURED_BUNDLE]},
        "type": "collection",
        "entry": [{"resource": r} for r in entries],
    }
