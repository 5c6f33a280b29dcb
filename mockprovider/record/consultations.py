"""Consultations: ``record.consultations`` -> Encounter (CareConnect-GPC-Encounter-1), the
consultation / topic / heading Lists that give its structure, and narrative Observations for its
notes.

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_encounter.md,
accessrecord_structured_development_list_consutation.md, accessrecord_structured_development_list_topic.md,
accessrecord_structured_development_list_category.md, accessrecord_structured_development_observation_narrative.md
(and accessrecord_structured_development_consultation_guidance.md).

Persona item fields: ``type`` (SNOMED code) or ``type_text`` (the system's free-text consultation
type, sent as ``Encounter.type.text``), ``title``, ``topics``, and:

- ``status``: ``finished`` (default) or ``draft`` (saved in draft: ``Encounter.status`` ``unknown``,
  the Encounter page);
- ``end``: when it ended (date-time): ``period.end`` and ``length`` in minutes;
- ``location``: ``"practice"``: ``Encounter.location`` is the practice's Location;
- ``clinicians: [{"sds_user_id", "type": "REC"|"PPRF"|"PART"}]``: the participants (an entry of
  ``record.clinicians``, or ``"usual_gp"``); the recorder (REC) defaults to the usual GP.

A topic is ``{"title"?, "problem"?, "headings": [{"code"?, "title"?, "items": [keys], "notes": [text]}]}``
(a heading List is titled ``title``, the system's own heading name, else the code's display),
or holds ``items`` and ``notes`` directly (a topic without headings). A topic with neither title
nor problem is an untitled topic (headings recorded without a topic: the topic List has no title).
``items`` names record items (by key) recorded in that consultation (each item in at most one
place); ``notes`` become narrative Observations. A topic with a ``problem`` links the consultation
and everything recorded under the topic to it, and its List carries relatedProblemHeader.
"""
from __future__ import annotations

import datetime
import re

from .. import spec
from ..personas.format import Checker
from .common import COMMENT_NOTE, Ctx, check_code, display
from .lists import snomed
from .problems import related_header

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})\Z")
from .uncategorised import observation_resource

FIELD = "consultations"
REQUIRED = ()
OPTIONAL = ("type", "type_text", "title", "topics", "status", "end", "location", "clinicians")
CODE_FIELDS = ("type",)
# Encounter.participant.type (the GPConnect-ParticipantType-1 ValueSet the GPC Encounter profile binds):
# REC (recorder) is a code of GP Connect's own CodeSystem; PPRF and PART are HL7 v3 ParticipationType
# codes (v3 has no REC). code -> (system, display); the one place this rule lives.
PARTICIPANT_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-ParticipantType-1"
V3_PARTICIPATION_SYSTEM = "http://hl7.org/fhir/v3/ParticipationType"
PARTICIPATION = {"REC": (PARTICIPANT_TYPE_SYSTEM, "recorder"), "PPRF": (V3_PARTICIPATION_SYSTEM, "primary performer"),
                 "PART": (V3_PARTICIPATION_SYSTEM, "Participation")}


def participant_type(code: str) -> list:
    """Encounter.participant.type for REC, PPRF or PART, each in its own code system."""
    system, text = PARTICIPATION[code]
    return [{"coding": [{"system": system, "code": code, "display": text}]}]


def check(c: Checker, item, p, keys):
    if "title" in item:
        c.string(item["title"], f"{p}.title")
    if "type" not in item and "type_text" not in item:
        c.fail(f"{p}.type", "a consultation has a type (a code), a type_text, or both (the code with the system's own text)")
    if "type_text" in item:
        c.string(item["type_text"], f"{p}.type_text")
    c.string(item.get("status", "finished"), f"{p}.status", choices=("finished", "draft"))
    if "end" in item:
        c.string(item["end"], f"{p}.end", DATETIME_RE)
        if "T" not in item["date"]:
            c.fail(f"{p}.date", "must be a date-time when end is given (the length is computed)")
    if "location" in item:
        c.string(item["location"], f"{p}.location", choices=("practice",))
    for i, who in enumerate(c.array(item.get("clinicians", []), f"{p}.clinicians")):
        c.obj(who, f"{p}.clinicians[{i}]", ("sds_user_id", "type"))
        c.string(who["sds_user_id"], f"{p}.clinicians[{i}].sds_user_id")
        c.string(who["type"], f"{p}.clinicians[{i}].type", choices=tuple(PARTICIPATION))


def topic_items(topic: dict) -> list:
    """Keys of the items recorded under a topic (directly or under its headings)."""
    return [key for part in [topic, *topic.get("headings", [])] for key in part.get("items", [])]


def minutes(start: str, end: str) -> int:
    return int((datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)).total_seconds() // 60)


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
            elif "title" not in topic and not topic.get("headings"):
                c.fail(f"{tp}.title", "a topic without headings needs a title or a problem")
            parts = [(tp, topic)]
            for h, heading in enumerate(c.array(topic.get("headings", []), f"{tp}.headings")):
                hp = f"{tp}.headings[{h}]"
                c.obj(heading, hp, (), ("code", "title", "items", "notes"))
                if "code" in heading:
                    check_code(c, heading["code"], f"{hp}.code")
                if "title" in heading:
                    c.string(heading["title"], f"{hp}.title")
                if "code" not in heading and "title" not in heading:
                    c.fail(f"{hp}.code", "a heading needs a code or a title (the heading List's title)")
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
    r["status"] = "unknown" if item.get("status") == "draft" else "finished"
    r["type"] = [ctx.concept(item["type"], text=item.get("type_text"), description=False) if "type" in item
                 else {"text": item["type_text"]}]
    r["subject"] = ctx.patient_ref
    if item.get("clinicians"):
        people = item["clinicians"]
        if not any(who["type"] == "REC" for who in people) and ctx.practitioner_ref:
            people = [{"sds_user_id": None, "type": "REC"}, *people]
        r["participant"] = [{"type": participant_type(who["type"]), "individual": ctx.clinician(who["sds_user_id"])}
                            for who in people if ctx.clinician(who["sds_user_id"])]
    elif ctx.practitioner_ref:
        # The page: the person who recorded the consultation (participant.type REC) is mandatory; the
        # usual GP both recorded and performed it.
        r["participant"] = [{"type": participant_type(code), "individual": ctx.practitioner_ref}
                            for code in ("REC", "PPRF")]
    r["period"] = {"start": item["date"]}
    if item.get("end"):
        r["period"]["end"] = item["end"]
        r["length"] = {"value": minutes(item["date"], item["end"]), "unit": "min",
                       "system": "http://unitsofmeasure.org", "code": "min"}
    if item.get("location") == "practice" and ctx.location_ref:
        r["location"] = [{"location": ctx.location_ref}]
    r["serviceProvider"] = ctx.organization_ref
    return r, [r]


def narrative(ctx: Ctx, key: str, text: str, date: str, encounter: dict, clinician: str | None = None) -> dict:
    """A consultation note: a narrative Observation ("Comment note") holding the text."""
    r = observation_resource(ctx, key, {"clinician": clinician} if clinician else {}, ctx.concept("|".join(COMMENT_NOTE)),
                             date, encounter)
    r["comment"] = text
    return r


def structure(ctx: Ctx, cons: dict, lists, primary_ref: dict, problem_title, problems_sent=()) -> tuple[list, list]:
    """The consultation's Lists (consultation, topics, headings) and its narrative Observations.

    ``lists`` is a :class:`mockprovider.record.lists.ListMaker`; ``primary_ref`` maps item keys to
    the references of what was sent (a medication by its plan MedicationRequest, as the consultation
    and medication pages link it); ``problem_title(key)`` is a problem's display, or None when the
    problem was not sent. Page accessrecord_structured_development_list_consutation.md: a heading or
    topic whose every item was left out (confidential) is not sent, and nor is a consultation left
    with no topic; the warning for what was left out is on the secondary "... contained in
    consultations" Lists, never on the structure.
    """
    narratives = []
    ck = cons["key"]
    enc_ref = ctx.ref("Encounter", ck)
    date = cons["date"]          # the persona's consultation date stands for its last-edited date
    topic_lists, heading_lists = [], []
    for t, topic in enumerate(cons.get("topics", []), 1):
        tkey = f"{ck}/topic-{t}"
        parts = [(tkey, topic)] if not topic.get("headings") else \
            [(f"{tkey}/heading-{h}", heading) for h, heading in enumerate(topic["headings"], 1)]
        part_lists = []
        for pkey, part in parts:
            refs = [primary_ref[k] for k in part.get("items", []) if k in primary_ref]
            for n, text in enumerate(part.get("notes", []), 1):
                obs = narrative(ctx, f"{pkey}/note-{n}", text, cons["date"], enc_ref, cons.get("clinician"))
                if cons.get("nopat"):
                    obs["meta"]["security"] = [dict(spec.NOPAT_SECURITY)]
                narratives.append(obs)
                refs.append({"reference": f"Observation/{obs['id']}"})
            part_lists.append((pkey, None if pkey == tkey else (part.get("title") or display(part["code"])), refs))
        # A topic named after its problem; never after a problem left out as confidential.
        topic_title = topic.get("title") or (problem_title(topic["problem"]) or "Topic" if topic.get("problem") else None)
        topic_ext = [related_header(None, ctx.ref("Condition", topic["problem"]))] \
            if topic.get("problem") in problems_sent else []
        if topic.get("headings"):
            topic_refs = []
            for pkey, heading_title, refs in part_lists:
                if not refs:
                    continue
                hl = lists.structure(heading_title, snomed(*spec.CATEGORY_LIST_CODE), refs,
                                     list_id=ctx.id("List", pkey), encounter=enc_ref, date=date)
                heading_lists.append(hl)
                topic_refs.append({"reference": f"List/{hl['id']}"})
        else:
            topic_refs = part_lists[0][2]
        if topic_refs:
            topic_lists.append(lists.structure(topic_title, snomed(*spec.TOPIC_LIST_CODE), topic_refs,
                                               list_id=ctx.id("List", tkey), encounter=enc_ref, date=date,
                                               extensions=topic_ext))
    if not topic_lists:
        return [], narratives
    title = cons.get("title") or (display(cons["type"]) if "type" in cons else cons["type_text"])
    consultation_list = lists.structure(title, snomed(*spec.CONSULTATION_LIST_CODE),
                                        [{"reference": f"List/{tl['id']}"} for tl in topic_lists],
                                        list_id=ctx.id("List", ck), encounter=enc_ref, date=date)
    return [consultation_list, *topic_lists, *heading_lists], narratives
