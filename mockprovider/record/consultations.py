"""Consultations: ``record.consultations`` -> Encounter (CareConnect-GPC-Encounter-1), the
consultation / topic / heading Lists that give its structure, and narrative Observations for its
notes.

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_encounter.md,
accessrecord_structured_development_list_consutation.md, accessrecord_structured_development_list_topic.md,
accessrecord_structured_development_list_category.md, accessrecord_structured_development_observation_narrative.md
(and accessrecord_structured_development_consultation_guidance.md).

Persona item fields: ``type`` (code), ``title``, ``topics``. A topic is ``{"title" or "problem",
"headings": [{"code", "items": [keys], "notes": [text]}]}``, or holds ``items`` and ``notes``
directly. ``items`` names record items (by key) recorded in that consultation (each item in at most
one place); ``notes`` become narrative Observations. A topic with a ``problem`` links the
consultation to it.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import COMMENT_NOTE, Ctx, check_code, concept, display
from .lists import snomed
from .uncategorised import observation_resource

FIELD = "consultations"
REQUIRED = ("type",)
OPTIONAL = ("title", "topics")
CODE_FIELDS = ("type",)


def check(c: Checker, item, p, keys):
    if "title" in item:
        c.string(item["title"], f"{p}.title")


def check_structure(c: Checker, record, path, problems: dict, area_of: dict, recordable, is_ended_allergy):
    """Topics -> headings -> items (keys of other record items) and notes, once every key is known."""
    recorded: dict = {}
    for i, cons in enumerate(record.get("consultations", [])):
        cp = f"{path}.consultations[{i}]"
        topics = c.array(cons.get("topics", []), f"{cp}.topics")
        if not topics:
            c.fail(f"{cp}.topics", "a consultation needs at least one topic")
        for t, topic in enumerate(topics):
            tp = f"{cp}.topics[{t}]"
            c.obj(topic, tp, (), ("title", "problem", "headings", "items", "notes"))
            if "title" in topic:
                c.string(topic["title"], f"{tp}.title")
            if "problem" in topic:
                target = c.string(topic["problem"], f"{tp}.problem")
                if target not in problems:
                    c.fail(f"{tp}.problem", f"{target!r} is not the key of a problem")
            elif "title" not in topic:
                c.fail(f"{tp}.title", "a topic needs a title or a problem")
            parts = [(tp, topic)]
            for h, heading in enumerate(c.array(topic.get("headings", []), f"{tp}.headings")):
                hp = f"{tp}.headings[{h}]"
                c.obj(heading, hp, ("code",), ("items", "notes"))
                check_code(c, heading["code"], f"{hp}.code")
                parts.append((hp, heading))
            if "headings" in topic and ("items" in topic or "notes" in topic):
                c.fail(tp, "a topic holds either headings or items/notes, not both")
            for pp, part in parts:
                for n, text in enumerate(c.array(part.get("notes", []), f"{pp}.notes")):
                    c.string(text, f"{pp}.notes[{n}]")
                for n, key in enumerate(c.array(part.get("items", []), f"{pp}.items")):
                    ip = f"{pp}.items[{n}]"
                    c.string(key, ip)
                    if area_of.get(key) not in recordable:
                        c.fail(ip, f"{key!r} is not the key of a record item")
                    if key in recorded:
                        c.fail(ip, f"{key!r} is already recorded at {recorded[key]}")
                    if is_ended_allergy(key):
                        c.fail(ip, "an ended allergy cannot be recorded in a consultation "
                                   "(it is contained in the Ended allergies List)")
                    recorded[key] = ip
            if not any(part.get("items") or part.get("notes") for _, part in parts):
                c.fail(tp, "a topic needs at least one item or note")


def recorded_in(consultations: list) -> dict:
    """Where each item was recorded: item key -> consultation key (every consultation)."""
    where: dict = {}
    for cons in consultations:
        for topic in cons.get("topics", []):
            for part in [topic, *topic.get("headings", [])]:
                for key in part.get("items", []):
                    where[key] = cons["key"]
    return where


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("Encounter", key, spec.PROFILE_ENCOUNTER, item)
    r["identifier"] = ctx.identifier("Encounter", key)
    r["status"] = "finished"
    r["type"] = [concept(item["type"])]
    r["subject"] = ctx.patient_ref
    if ctx.practitioner_ref:
        r["participant"] = [{"type": [{"coding": [{"system": "http://hl7.org/fhir/v3/ParticipationType",
                                                   "code": "PPRF", "display": "primary performer"}]}],
                             "individual": ctx.practitioner_ref}]
    r["period"] = {"start": item["date"]}
    r["serviceProvider"] = ctx.organization_ref
    return r, [r]


def narrative(ctx: Ctx, key: str, text: str, date: str, encounter: dict) -> dict:
    """A consultation note: a narrative Observation ("Comment note") holding the text."""
    r = observation_resource(ctx, key, {}, concept("|".join(COMMENT_NOTE)), date, encounter)
    r["comment"] = text
    return r


def structure(ctx: Ctx, cons: dict, lists, primary_ref: dict, problem_title) -> tuple[list, list]:
    """The consultation's Lists (consultation, topics, headings) and its narrative Observations.

    ``lists`` is a :class:`mockprovider.record.lists.ListMaker`; ``primary_ref`` maps item keys to
    the references of what was sent; ``problem_title(key)`` is a problem's display, or None when the
    problem was not sent.
    """
    narratives = []
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
                obs = narrative(ctx, f"{pkey}/note-{n}", text, cons["date"], enc_ref)
                if cons.get("nopat"):
                    obs["meta"]["security"] = [dict(spec.NOPAT_SECURITY)]
                narratives.append(obs)
                refs.append({"reference": f"Observation/{obs['id']}"})
            if pkey == tkey:
                part_lists.append((pkey, None, refs, warned))
            else:
                part_lists.append((pkey, part["code"], refs, warned))
        # A topic named after its problem; never after a problem left out as confidential.
        topic_title = topic.get("title") or problem_title(topic["problem"]) or "Topic"
        if topic.get("headings"):
            heading_refs = []
            for pkey, code, refs, warned in part_lists:
                hl = lists.make(display(code), snomed(*spec.CATEGORY_LIST_CODE), refs, warned,
                                list_id=ctx.id("List", pkey), encounter=enc_ref)
                heading_lists.append(hl)
                heading_refs.append({"reference": f"List/{hl['id']}"})
            topic_list = lists.make(topic_title, snomed(*spec.TOPIC_LIST_CODE), heading_refs, False,
                                    list_id=ctx.id("List", tkey), encounter=enc_ref)
        else:
            _, _, refs, warned = part_lists[0]
            topic_list = lists.make(topic_title, snomed(*spec.TOPIC_LIST_CODE), refs, warned,
                                    list_id=ctx.id("List", tkey), encounter=enc_ref)
        topic_lists.append(topic_list)
    title = cons.get("title") or display(cons["type"])
    consultation_list = lists.make(title, snomed(*spec.CONSULTATION_LIST_CODE),
                                   [{"reference": f"List/{tl['id']}"} for tl in topic_lists], False,
                                   list_id=ctx.id("List", ck), encounter=enc_ref)
    return [consultation_list, *topic_lists, *heading_lists], narratives
