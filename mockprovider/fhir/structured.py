"""A persona's structured record as a ``GPConnect-StructuredRecord-Bundle-1`` (migrate-structured.md).

``structured_bundle(persona, ods_code, sensitive, documents_base, status_system)`` returns the Bundle
dict with ``Bundle.id`` set to :data:`render.TRACE_PLACEHOLDER` (the interaction splices the
request's Ssp-TraceID in). Order: Lists (primary, secondary, consultation structure), clinical
resources, administrative resources. Entries hold only ``resource`` (no fullUrl).

This module only assembles: each clinical area's fields, checks and builders are in its module of
:mod:`mockprovider.record` (the List rules in :mod:`mockprovider.record.lists`).

Confidentiality: with ``sensitive=False`` every item marked ``confidential`` is left out, and every
List it would have appeared in (its primary List, the secondary "related to problems" /
"contained in consultations" Lists, the consultation heading that recorded it) carries the
``confidential-items`` warning extension and note. A List whose every item was left out is sent
empty with ``emptyReason`` and the warning.
"""
from __future__ import annotations

from .. import record as record_areas
from .. import spec
from ..personas import ids
from ..record import consultations, documents as record_documents, investigations, lists, problems
from ..record import styles
from ..record.common import Ctx, display
from . import admin, served_record
from . import documents as documents_fhir
from .render import TRACE_PLACEHOLDER

# Persona fields of the record areas, in Bundle order.
AREAS = tuple(area.FIELD for area in record_areas.AREAS)
BUILDERS = {area.FIELD: area.build for area in record_areas.AREAS}
# Kept for callers of the old names.
PRIMARY_ORDER = lists.PRIMARY_ORDER
PROBLEM_SECONDARY = lists.PROBLEM_SECONDARY
CONSULTATION_SECONDARY = lists.CONSULTATION_SECONDARY
secondary_code = lists.secondary_code


def record_date(persona) -> str:
    record = persona.data.get("record", {})
    if record.get("date"):
        return record["date"]
    dates = [item["date"] for area in AREAS for item in record.get(area, [])]
    return max(dates) if dates else persona.data["birth_date"]


def structured_bundle(persona, ods_code: str, sensitive: bool, documents_base: str = "",
                      status_system: str = "example", documents=(), migrate_limit_bytes: int = 0,
                      general_practitioner: str = "seed") -> dict:
    """The Bundle (with the trace placeholder as id).

    documents            the persona's :class:`mockprovider.personas.documents.Document` list
                         (``personas.documents.index(store).of(persona)``), listed as DocumentReferences
                         whose attachment.url is ``documents_base + "/Binary/" + id``;
    migrate_limit_bytes  the flag ``migrate_document_limit_bytes``: a larger document is listed as a
                         placeholder (no url, the reason in attachment.title); 0 = unlimited.
    """
    if served_record.has_fhir_record(persona):     # an imported Bundle: served as it came
        return served_record.bundle(persona, sensitive, documents_base, documents, ods_code)
    data = persona.data
    nhs = data["nhs_number"]
    record = data.get("record", {})
    admins = admin.admin_resources(persona, ods_code, status_system, general_practitioner)
    patient_ref = admin.ref(admins[0])
    org_ref = admin.ref(admins[1])
    gp = data.get("usual_gp")
    gp_ref = {"reference": f"Practitioner/{ids.practitioner_id(gp['sds_user_id'])}"} if gp else None

    def included(item) -> bool:
        return sensitive or not item.get("confidential")

    ctx = Ctx(nhs=nhs, patient_ref=patient_ref, organization_ref=org_ref, practitioner_ref=gp_ref,
              include=included, style=styles.style(record.get("style"), nhs, ods_code))

    items = {area: record.get(area, []) for area in AREAS}
    area_of = {item["key"]: area for area in AREAS for item in items[area]}
    for item in items["allergies"]:
        if "end" in item:
            area_of[item["key"]] = "ended_allergies"     # contained in the Ended allergies List
    # Documents join the same bookkeeping under "document:<key>" (their keys are another namespace).
    doc_of = record_documents.record_keys(documents)
    for key in doc_of:
        area_of[key] = "documents"
    order = {key: n for n, key in enumerate(area_of)}
    problems_in = {p["key"] for p in items["problems"] if included(p)}
    for clinician in record.get("clinicians", []):
        ctx.clinicians[clinician["sds_user_id"]] = {"reference": f"Practitioner/{ids.practitioner_id(clinician['sds_user_id'])}"}
    ctx.location_ref = next((admin.ref(r) for r in admins if r["resourceType"] == "Location"), None)
    ctx.items = {item["key"]: item for area in AREAS for item in record.get(area, [])}
    for item in record.get("observations", []):
        for member in item.get("members", []):
            ctx.parents.setdefault(member, []).append(item["key"])

    # Where each item was recorded: item key -> consultation key (every consultation).
    recorded_in = consultations.recorded_in(items["consultations"])
    for key, doc in doc_of.items():
        if doc.entry.get("consultation"):
            recorded_in[key] = doc.entry["consultation"]
    consultations_in = {c["key"] for c in items["consultations"] if included(c)}
    for key, cons_key in recorded_in.items():
        if cons_key in consultations_in:
            ctx.encounter_of[key] = ctx.ref("Encounter", cons_key)

    # Problem links: problem key -> [(area, item key)]: items naming the problem, consultations with a
    # topic about it, the items recorded under such a topic, and the consultations that recorded an
    # item linked to it (the ProblemHeader page, extension[relatedClinicalContent]).
    rank = {area: n for n, area in enumerate(AREAS)}
    rank.update({"ended_allergies": rank["allergies"], "documents": len(AREAS)})
    link_sets: dict = {}
    for area in AREAS:
        for item in items[area]:
            if area == "consultations":
                for topic in item.get("topics", []):
                    if topic.get("problem"):
                        found = link_sets.setdefault(topic["problem"], set())
                        found.add(item["key"])
                        found.update(k for k in consultations.topic_items(topic) if area_of.get(k) != "problems")
            elif item.get("problem"):
                link_sets.setdefault(item["problem"], set()).add(item["key"])
    for key, doc in doc_of.items():
        if doc.entry.get("problem"):
            link_sets.setdefault(doc.entry["problem"], set()).add(key)
    for found in link_sets.values():
        found.update([recorded_in[k] for k in list(found) if k in recorded_in])
    links = {problem: [(area_of[k], k) for k in sorted(found, key=lambda k: (rank[area_of[k]], order[k]))]
             for problem, found in link_sets.items()}
    # Items problems were raised from (actualProblem): listed with the linked items in secondary Lists.
    actual_of = {p["key"]: p["actual"] for p in items["problems"] if p.get("actual")}
    for problem_key, key in actual_of.items():
        if key not in link_sets.get(problem_key, ()):
            links.setdefault(problem_key, []).append((area_of[key], key))

    # Documents sent: what items may point at (a referral's supportingInfo, a test result's value).
    primary_ref: dict = {}          # item key -> reference of its primary resource
    ctx.link = primary_ref
    for key, doc in doc_of.items():
        if included({"confidential": doc.confidential}):
            primary_ref[key] = {"reference": f"DocumentReference/{record_documents.document_reference_id(doc)}"}
            if not (migrate_limit_bytes and doc.size > migrate_limit_bytes):
                ctx.attachments[doc.key] = record_documents.attachment(doc, documents_base)

    # Build the clinical resources of every included item.
    clinical_resources: list = []
    ended_allergies: list = []      # contained in the "Ended allergies" List
    ended_list_id = ctx.id("List", "ended-allergies")
    for area in AREAS:
        if area == "problems":
            continue                # after the others: a problem links what was actually sent
        for item in items[area]:
            if not included(item):
                continue
            primary, resources = BUILDERS[area](ctx, item)
            if area == "allergies" and "end" in item:
                ended_allergies += resources
                primary_ref[item["key"]] = {"reference": f"List/{ended_list_id}#{primary['id']}"}
                continue
            primary_ref[item["key"]] = {"reference": f"{primary['resourceType']}/{primary['id']}"}
            clinical_resources.append((area, resources))
    # DocumentReferences (metadata only; attachment.url on the documents root).
    document_resources = []
    for key, doc in doc_of.items():
        if not included({"confidential": doc.confidential}):
            continue
        ref = record_documents.in_bundle(doc, documents_base=documents_base, custodian_ods=ods_code,
                                         migrate_limit_bytes=migrate_limit_bytes,
                                         consultations_sent=consultations_in, problems_sent=problems_in)
        primary_ref[key] = {"reference": f"DocumentReference/{ref['id']}"}
        document_resources.append(ref)
    # What problems and consultation headings reference: the primary resource, except a medication,
    # linked through its plan MedicationRequest (problems guidance "Clinical item references"; the
    # GP2GP adaptor rejects a MedicationStatement in a consultation List).
    linked_ref = {k: (ctx.ref("MedicationRequest", f"{k}/plan") if area_of.get(k) == "medications" else ref)
                  for k, ref in primary_ref.items()}
    for problem_key in problems_in:
        ctx.related[problem_key] = [linked_ref[k] for k in sorted(link_sets.get(problem_key, ()),
                                                                   key=lambda k: (rank[area_of[k]], order[k]))
                                    if k in linked_ref]
        actual = actual_of.get(problem_key)
        if actual in primary_ref:
            # a prescription is referenced through its plan (problems guidance, "Clinical item references")
            ctx.actual[problem_key] = ctx.ref("MedicationRequest", f"{actual}/plan") \
                if area_of[actual] == "medications" else primary_ref[actual]
    for item in items["problems"]:
        for link in item.get("related", []):
            if item["key"] in problems_in and link["problem"] in problems_in:
                ctx.problem_links.setdefault(item["key"], []).append(
                    (link["type"], ctx.ref("Condition", link["problem"])))
                ctx.problem_links.setdefault(link["problem"], []).append(
                    (problems.INVERSE[link["type"]], ctx.ref("Condition", item["key"])))
    problem_resources = []
    for item in items["problems"]:
        if included(item):
            primary, resources = problems.build(ctx, item)
            primary_ref[item["key"]] = {"reference": f"Condition/{primary['id']}"}
            problem_resources += resources

    maker = lists.ListMaker(patient_ref, record_date(persona), lists.record_warnings(record))

    # Investigations sent without some of their (confidential) results.
    partial = {i["key"] for i in items["investigations"] if investigations.partial(ctx, i)}

    def membership(full_keys, sent_keys):
        refs = [primary_ref[k] for k in sent_keys]
        return refs, bool(set(full_keys) - set(sent_keys)) or bool(set(sent_keys) & partial)

    # Primary Lists.
    out_lists = []
    for name in lists.PRIMARY_ORDER:
        code, code_display, title = spec.PRIMARY_LISTS[name]
        if name in ("allergies", "ended_allergies"):
            want_ended = name == "ended_allergies"
            full = [a["key"] for a in items["allergies"] if ("end" in a) == want_ended]
        else:
            full = [i["key"] for i in items[name]]
        sent = [k for k in full if k in primary_ref]
        refs, warned = membership(full, sent)
        contained, list_id = None, None
        if name == "ended_allergies":
            contained = ended_allergies or None
            refs = [{"reference": "#" + ref["reference"].rpartition("#")[2]} for ref in refs]
            if any(area_of.get(k) == "ended_allergies" for k in recorded_in) or any(
                    area == "ended_allergies" for pairs in links.values() for area, _ in pairs):
                list_id = ended_list_id     # referenced from outside: List/<id>#<allergy id>
        area = "allergies" if name == "ended_allergies" else name
        out_lists.append(maker.record_list(title, lists.snomed(code, code_display), refs, warned, area=area,
                                           contained=contained, list_id=list_id))

    # Secondary Lists: sent only with data or a warning.
    by_key = {item["key"]: item for area in AREAS for item in items[area]}
    for area, title in lists.PROBLEM_SECONDARY.items():
        if area == "problems":
            # every problem of a migrate is in the primary List: only a linked problem left out shows
            full = [link["problem"] for p in items["problems"] if p["key"] in problems_in
                    for link in p.get("related", []) if link["problem"] not in problems_in]
            full += [p["key"] for p in items["problems"] if p["key"] not in problems_in and any(
                link["problem"] in problems_in for link in p.get("related", []))]
            if full:
                out_lists.append(maker.record_list(title, lists.secondary_coding(title), [], True))
            continue
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
            out_lists.append(maker.record_list(title, lists.secondary_coding(title), refs, warned))
    for area, title in lists.CONSULTATION_SECONDARY.items():
        full = [k for k in recorded_in if area_of.get(k) == area]
        full.sort(key=order.__getitem__)
        sent = [k for k in full if k in primary_ref and recorded_in[k] in consultations_in]
        refs, warned = membership(full, sent)
        if refs or warned:
            out_lists.append(maker.record_list(title, lists.secondary_coding(title), refs, warned))

    # Consultation structure Lists and narrative Observations.
    def problem_title(key):
        return display(by_key[key]["code"]) if key in problems_in else None

    narratives = []
    for cons in items["consultations"]:
        if included(cons):
            structure, notes = consultations.structure(ctx, cons, maker,
                                                       {**primary_ref, **{k: v for k, v in linked_ref.items() if k in primary_ref}},
                                                       problem_title, problems_in)
            out_lists += structure
            narratives += notes

    entries = list(out_lists)
    entries += problem_resources
    for area, resources in clinical_resources:
        entries += resources
    entries += narratives
    entries += document_resources
    entries += admins
    # Other organisations clinical items name (labs, referral recipients).
    seen = {ods_code}
    for ods, name in sorted(ctx.organizations.items()):
        if ods not in seen:
            seen.add(ods)
            entries.append(admin.organization(ods, name or documents_fhir.ORGANISATION_NAMES.get(ods)))
    # Organisations that authored documents, other than the practice (already in admins).
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
