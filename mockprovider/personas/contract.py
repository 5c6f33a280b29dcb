"""The persona contract: what a valid persona is, and every mistake of one that is not, in one voice.

``personas/schema.json`` is the structure (:mod:`.schema` reads it with ``jsonschema``).
This module holds the rules a schema cannot express -- references between items (a medication's
``problem``, a problem's ``actual`` and ``related``, a consultation's clinicians and items, a
document's links, a referral's ``supporting``, an imported record's attachments and confidential
list), check digits (the NHS number's Mod 11), files that exist, dates in order, one record
section, declared tags the data shows -- and the one entry point every surface uses:

- :func:`check` -- start-up (through the loader), ``mockprovider personas validate``,
  ``POST /_control/personas/reload`` and ``PUT /_control/personas/{nhs}`` -- returns every
  mistake of a persona, each with its JSON path, in the same words everywhere: the schema's
  (structure), then each section's own checks item by item (an area module's field rules, e.g.
  a key used twice), then the rules here, at paths not already named (a mistake is reported
  once, not again by what only follows from it). A valid persona costs one fast pass:
  the loader's own checks (:func:`mockprovider.personas.persona.validate`), which run the
  rules here too (registered in :data:`.format.PERSONA_CHECKS`) and stop at the first.
- :func:`cross_field` -- the rules here, as (path, reason) pairs; tolerant of any shape, so it
  runs over a persona whose structure is wrong as well.

The record's clinical areas register what only they know (which areas a problem may be raised
from, the consultation structure check) in :data:`RECORD_RULES` when :mod:`mockprovider.record`
is imported (the persona code does not import the record package).
"""
from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

from . import nhs_number as nhs_numbers
from .persona import RECORD_SECTIONS, validate
from .format import CLINICAL_AREAS, PERSONA_CHECKS, SDS_RE, SECTION_VALIDATORS, TAGS, Checker, kind_of, \
    PersonaError, derive_tags
from .schema import schema_errors

USUAL_GP = "usual_gp"       # how a record item names the persona's usual GP among its clinicians
# What the record package registers (mockprovider/record/check.py):
#   "actual_areas": areas whose items a problem may be raised from (its "actual");
#   "consultation_structure": function(checker, record, path, problem_keys, area_of) that fails at
#   the first mistake of the consultations' topics, headings and items;
#   "supporting_areas": areas whose items a referral may carry in "supporting".
RECORD_RULES: dict = {}


# --- the entry point -------------------------------------------------------------------------------
def check(data, file, persona_dir) -> list[PersonaError]:
    """Every mistake of one persona (an empty list when it is valid). Valid personas pass the
    loader's fast checks and stop there; any other gets the complete list (:func:`mistakes`)."""
    try:
        validate(data, file, persona_dir)
        return []
    except PersonaError as first:
        return mistakes(data, file, persona_dir, first)


def mistakes(data, file, persona_dir, first: PersonaError | None = None) -> list[PersonaError]:
    """Every mistake of a persona the loader refused (``first``: what the loader said, reported
    only if nothing else names it), in document order."""
    if not isinstance(data, dict):
        return [PersonaError(file, "$", f"must be a JSON object, not {kind_of(data)}")]
    found: list[PersonaError] = []
    named: list[str] = []

    def add(path: str, reason: str) -> None:
        if not any(_overlaps(path, other) for other in named):
            found.append(PersonaError(file, path, reason))
            named.append(path)

    for error in schema_errors(data, file):
        add(error.path, error.reason)
    for path, reason in _top_level(data, file, persona_dir):
        add(path, reason)
    for path, reason in section_mistakes(data, file, persona_dir):
        add(path, reason)
    for path, reason in cross_field(data, persona_dir):
        add(path, reason)
    if not found and first is not None:
        found.append(first)
    return sorted(found, key=lambda e: _document_order(data, e.path))


def section_mistakes(data: dict, file, persona_dir):
    """Each section's own checks (the loader's), as (path, reason): a record area's item checks
    item by item, a document's document by document, any other section as a whole. A check that
    trips over a shape the schema already named is skipped (the schema said it)."""
    for name, validator in SECTION_VALIDATORS.items():
        if name not in data:
            continue
        value, path = data[name], f"$.{name}"
        per_item = SECTION_ITEMS.get(name)
        try:
            if per_item is not None:
                yield from per_item(value, path, file, persona_dir)
            else:
                validator(Checker(file), value, path, persona_dir)
        except PersonaError as error:
            yield error.path, error.reason
        except Exception:
            continue


# Stand-ins for a required top-level field the loader refused, so that it goes on to the next one.
_STAND_INS = {"nhs_number": "9000000009", "name": {"family": "Stand-in"}, "gender": "unknown",
              "birth_date": "1900-01-01"}


def _top_level(data: dict, file, persona_dir):
    """The loader's own checks of the top-level fields (e.g. a birth date that is no calendar
    date), field after field (the sections are checked on their own)."""
    top = {key: value for key, value in data.items() if key not in SECTION_VALIDATORS and key != "tags"}
    for _ in range(len(top) + len(_STAND_INS)):
        try:
            validate(top, file, persona_dir)
            return
        except PersonaError as error:
            m = _SEGMENT.match(error.path, 1)
            name = m.group(1) if error.path.startswith("$.") and m else None
            if name is None or (name in _STAND_INS and top.get(name) == _STAND_INS[name]):
                yield error.path, error.reason
                return
            yield error.path, error.reason
            if name in _STAND_INS:
                top[name] = _STAND_INS[name]
            else:
                top.pop(name, None)
        except Exception:
            return


def _documents_one_by_one(value, path, file, persona_dir):
    if not isinstance(value, list):
        raise PersonaError(file, path, f"must be a JSON array, not {kind_of(value)}")
    validator = SECTION_VALIDATORS["documents"]
    for n, doc in enumerate(value):
        try:
            validator(Checker(file), [doc], path, persona_dir)
        except PersonaError as error:
            yield error.path.replace(f"{path}[0]", f"{path}[{n}]", 1), error.reason
        except Exception:
            continue


# Sections checked item by item (name -> function(value, path, file, persona_dir) yielding
# (path, reason)); the record package registers the record's.
SECTION_ITEMS: dict = {"documents": _documents_one_by_one}


# --- the rules a schema cannot express ------------------------------------------------------------
def cross_field(data, persona_dir, tags: list | None = None):
    """(path, reason) for every rule across fields that the persona breaks. Any shape is read
    without raising: a part whose structure is wrong is skipped (the schema names it)."""
    if not isinstance(data, dict):
        return
    record, fhir_record = data.get("record"), data.get("fhir_record")
    groups = [_top(data, tags, persona_dir), _documents(data, persona_dir)]
    if isinstance(record, dict):
        groups.insert(1, _record_links(record))
    if isinstance(fhir_record, dict):
        groups.append(_fhir_record(fhir_record))
    for group in groups:
        try:
            yield from group
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            continue            # a shape no rule expected: the structure's mistakes say what it is


def _top(data: dict, tags, persona_dir):
    number = data.get("nhs_number")
    if isinstance(number, str) and re.fullmatch(r"\d{10}", number) and not nhs_numbers.is_valid(number):
        yield "$.nhs_number", f"{number!r} is not a valid NHS number (10 digits, Mod-11 check digit)"
    pds = data.get("pds")
    if isinstance(pds, dict):           # what PDS holds (issue #26): one record state at a time
        other = pds.get("superseded_by")
        if isinstance(other, str):
            if not nhs_numbers.is_valid(other):
                yield "$.pds.superseded_by", f"{other!r} is not a valid NHS number (10 digits, Mod-11 check digit)"
            elif other == number:
                yield "$.pds.superseded_by", "a record cannot be superseded by itself"
        states = [name for name in ("invalidated", "superseded_by") if pds.get(name)]
        if pds.get("on_pds") is False and states:
            yield f"$.pds.{states[0]}", "a patient who is not on PDS has no PDS record to invalidate or supersede"
        elif len(states) > 1:
            yield "$.pds.superseded_by", "an invalidated record is not superseded: give one of the two"
    born, died = _date(data.get("birth_date")), _date(data.get("deceased"))
    if born and died and died < born:
        yield "$.deceased", f"{data['deceased']} is before the birth date {data['birth_date']}"
    sections = [name for name in RECORD_SECTIONS if name in data]
    if len(sections) > 1:
        yield f"$.{sections[1]}", f"a persona has one record section, not both {sections[0]} and {sections[1]}"
    declared = data.get("tags")
    if isinstance(declared, list):
        if tags is None:
            try:
                tags = derive_tags(data, persona_dir)
            except Exception:
                return
        for i, tag in enumerate(declared):
            if isinstance(tag, str) and tag in TAGS and tag not in tags:
                yield f"$.tags[{i}]", (f"{tag!r} is declared but the data does not show it ({TAGS[tag]}); "
                                       f"the data gives: {', '.join(tags) or 'no tags'}")


def _items(record: dict, area: str):
    items = record.get(area)
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _keys(record: dict, area: str) -> set:
    return {item["key"] for _, item in _items(record, area) if isinstance(item.get("key"), str)}


def _record_links(record: dict):
    area_of: dict = {}
    for area in CLINICAL_AREAS:
        for _, item in _items(record, area):
            if isinstance(item.get("key"), str):
                area_of.setdefault(item["key"], area)
    problems_seen = {item["key"] for _, item in _items(record, "problems") if isinstance(item.get("key"), str)}
    # clinicians: each sds_user_id once; items name one of them (or the usual GP)
    clinicians = {USUAL_GP}
    for i, who in _items(record, "clinicians"):
        sds = who.get("sds_user_id")
        if isinstance(sds, str):
            if sds in clinicians:
                yield f"$.record.clinicians[{i}].sds_user_id", f"{sds!r} is already used"
            clinicians.add(sds)
    # links to problems
    for area in CLINICAL_AREAS:
        for i, item in _items(record, area):
            target = item.get("problem")
            if isinstance(target, str) and target not in problems_seen:
                yield f"$.record.{area}[{i}].problem", f"{target!r} is not the key of a problem"
    actual_areas = RECORD_RULES.get("actual_areas", ())
    for i, item in _items(record, "problems"):
        p = f"$.record.problems[{i}]"
        actual = item.get("actual")
        if isinstance(actual, str) and area_of.get(actual) not in actual_areas:
            yield f"{p}.actual", (f"{actual!r} is not the key of an item a problem can be raised from "
                                  f"({', '.join(actual_areas)})")
        related = item.get("related")
        for j, link in enumerate(related if isinstance(related, list) else []):
            target = link.get("problem") if isinstance(link, dict) else None
            if isinstance(target, str) and (target not in problems_seen or target == item.get("key")):
                yield f"{p}.related[{j}].problem", f"{target!r} is not the key of another problem"
    for i, cons in _items(record, "consultations"):
        who_list = cons.get("clinicians")
        for j, who in enumerate(who_list if isinstance(who_list, list) else []):
            sds = who.get("sds_user_id") if isinstance(who, dict) else None
            if isinstance(sds, str) and sds not in clinicians:
                yield (f"$.record.consultations[{i}].clinicians[{j}].sds_user_id",
                       f"{sds!r} is not in record.clinicians (or \"usual_gp\")")
    for area in CLINICAL_AREAS:     # who recorded or performed an item (record format: clinician)
        for i, item in _items(record, area):
            who = item.get("clinician")
            if isinstance(who, str) and who not in clinicians:
                yield f"$.record.{area}[{i}].clinician", f"{who!r} is not in record.clinicians (or \"usual_gp\")"
    for i, item in _items(record, "immunisations"):
        who = item.get("administered_by")
        if isinstance(who, str) and who and who not in clinicians:
            yield (f"$.record.immunisations[{i}].administered_by",
                   f"{who!r} is not in record.clinicians (or \"usual_gp\")")
    for i, item in _items(record, "observations"):
        members = item.get("members")
        for j, key in enumerate(members if isinstance(members, list) else []):
            if isinstance(key, str) and (area_of.get(key) != "observations" or key == item.get("key")):
                yield f"$.record.observations[{i}].members[{j}]", f"{key!r} is not the key of another observation"
    for i, item in _items(record, "medications"):
        prior = item.get("prior")
        if isinstance(prior, str) and (area_of.get(prior) != "medications" or prior == item.get("key")):
            yield f"$.record.medications[{i}].prior", f"{prior!r} is not the key of another medication"
    structure = RECORD_RULES.get("consultation_structure")
    if structure is not None and _items(record, "consultations"):
        try:
            structure(Checker("-"), record, "$.record", problems_seen, area_of)
        except PersonaError as error:
            yield error.path, error.reason
        except Exception:
            pass


def _documents(data: dict, persona_dir):
    documents = data.get("documents")
    documents = documents if isinstance(documents, list) else []
    record = data.get("record") if isinstance(data.get("record"), dict) else {}
    keys = set()
    for n, doc in enumerate(documents):
        if not isinstance(doc, dict):
            continue
        p = f"$.documents[{n}]"
        key = doc.get("key")
        if isinstance(key, str):
            if key in keys:
                yield f"{p}.key", f"{key!r} is used by another document of this persona"
            keys.add(key)
        yield from _document_file(doc, p, persona_dir)
        author = doc.get("author")
        practitioner = author.get("practitioner") if isinstance(author, dict) else None
        gp = (data.get("usual_gp") or {}).get("sds_user_id") if isinstance(data.get("usual_gp"), dict) else None
        # (a usual GP whose id is itself wrong is named there; naming its documents too would echo it)
        if isinstance(practitioner, str) and practitioner != gp and (not isinstance(gp, str) or SDS_RE.match(gp)):
            yield f"{p}.author.practitioner", f"{practitioner!r} is not this persona's usual_gp.sds_user_id"
        for link, area in (("consultation", "consultations"), ("problem", "problems")):
            target = doc.get(link)
            if isinstance(target, str) and target not in _keys(record, area):
                yield f"{p}.{link}", f"{target!r} is not a key in record.{area}"
    # record items that name documents
    for i, inv in _items(record, "investigations"):
        groups = inv.get("groups") if isinstance(inv.get("groups"), list) else []
        for where, results in [("results", inv.get("results"))] + [
                (f"groups[{g}].results", group.get("results") if isinstance(group, dict) else None)
                for g, group in enumerate(groups)]:
            for j, res in enumerate(results if isinstance(results, list) else []):
                target = res.get("document") if isinstance(res, dict) else None
                if isinstance(target, str) and target not in keys:
                    yield (f"$.record.investigations[{i}].{where}[{j}].document",
                           f"{target!r} is not the key of a document of this persona")
    supporting_areas = RECORD_RULES.get("supporting_areas", ())
    carried = {key for area in supporting_areas for key in _keys(record, area)}
    for i, ref in _items(record, "referrals"):
        supporting = ref.get("supporting")
        for j, key in enumerate(supporting if isinstance(supporting, list) else []):
            if not isinstance(key, str):
                continue
            if key.startswith("document:"):
                if key[len("document:"):] not in keys:
                    yield f"$.record.referrals[{i}].supporting[{j}]", f"{key!r} is not a document of this persona"
            elif key not in carried:
                yield (f"$.record.referrals[{i}].supporting[{j}]",
                       f"{key!r} is not the key of a record item a referral can carry (not a problem)")


def _document_file(doc: dict, p: str, persona_dir):
    """A shipped document's file exists in the personas folder, is not empty, has its declared size."""
    rel = doc.get("file")
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in Path(rel).parts or persona_dir is None:
        return
    try:
        actual = os.stat(os.path.join(persona_dir, rel)).st_size
    except OSError:
        yield f"{p}.file", f"{rel!r} does not exist in {persona_dir}"
        return
    if actual == 0:
        yield f"{p}.file", f"{rel!r} is empty"
    declared = doc.get("size")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 1 and declared != actual:
        yield f"{p}.size", f"declares {declared} bytes but {rel!r} has {actual}"


def _fhir_record(value: dict):
    entries = value.get("entries")
    if not isinstance(entries, list):
        return
    resources = [e.get("resource") if isinstance(e, dict) else None for e in entries]
    patients = sum(1 for r in resources if isinstance(r, dict) and r.get("resourceType") == "Patient")
    if patients != 1:
        yield "$.fhir_record.entries", f"holds exactly one Patient, not {patients}"
    refs = {f"{r.get('resourceType')}/{r['id']}" for r in resources if isinstance(r, dict) and isinstance(r.get("id"), str)}
    attachments = value.get("attachments")
    for n, att in enumerate(attachments if isinstance(attachments, list) else []):
        if not isinstance(att, dict):
            continue
        entry, content = att.get("entry"), att.get("content")
        if not isinstance(entry, int) or isinstance(entry, bool) or not isinstance(content, int) \
                or isinstance(content, bool) or entry < 0 or content < 0:
            continue
        p = f"$.fhir_record.attachments[{n}]"
        if entry >= len(entries):
            yield f"{p}.entry", f"there is no entry {entry}"
            continue
        resource = resources[entry]
        contents = resource.get("content") if isinstance(resource, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "DocumentReference" \
                or not isinstance(contents, list) or content >= len(contents) \
                or not isinstance(contents[content], dict) or not isinstance(contents[content].get("attachment"), dict):
            yield p, "does not name a DocumentReference attachment"
    confidential = value.get("confidential")
    for n, ref in enumerate(confidential if isinstance(confidential, list) else []):
        if isinstance(ref, str) and ref and ref not in refs:
            yield f"$.fhir_record.confidential[{n}]", f"{ref!r} is not a resource of the record"


# --- the loader's fast pass runs the same rules (first mistake only) -------------------------------
def _loader_check(c: Checker, data: dict, persona_dir=None, tags=None) -> None:
    for path, reason in cross_field(data, persona_dir, tags):
        c.fail(path, reason)


PERSONA_CHECKS.append(_loader_check)


# --- helpers ---------------------------------------------------------------------------------------
def _date(value):
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _overlaps(path: str, other: str) -> bool:
    """One path is the other, or lies inside it."""
    return path == other or path.startswith(other + ".") or path.startswith(other + "[") \
        or other.startswith(path + ".") or other.startswith(path + "[")


_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _document_order(data, path: str) -> tuple:
    """Where a path falls in the persona as written: each step's position among its siblings (a
    field the persona lacks, e.g. a missing required one, after those it has, by name)."""
    out, node = [], data
    for m in _SEGMENT.finditer(path):
        name, index = m.group(1), m.group(2)
        if index is not None:
            out.append((int(index), ""))
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        elif isinstance(node, dict) and name in node:
            out.append((list(node).index(name), ""))
            node = node[name]
        else:
            out.append((len(node) if isinstance(node, dict) else 0, name))
            node = None
    return tuple(out)
