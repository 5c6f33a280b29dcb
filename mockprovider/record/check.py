"""The persona ``record`` section's checks: each area's item checks (in its own module), then the
links across areas (``problem`` keys, consultation structure).

Registered in :data:`mockprovider.domain.persona_format.SECTION_VALIDATORS` when
:mod:`mockprovider.record` is imported (``mockprovider/__init__.py`` does, so every entry point
validates a record the same way). The format is documented in docs/personas/format.md.
"""
from __future__ import annotations

from ..domain.persona_admin import validate_usual_gp
from ..domain.persona_format import DATE_RE, PERSONA_CHECKS, SECTION_VALIDATORS, Checker
from . import (allergies, consultations, diary, immunisations, investigations, medications, problems,
               referrals, uncategorised)
from .common import USUAL_GP, check_date, check_item
from .styles import SUPPLIER_STYLES

# Areas in the order their items are checked (problems first: links are checked once every key is known).
CHECK_ORDER = (problems, allergies, medications, immunisations, uncategorised, investigations, referrals, diary,
               consultations)
# Areas with a primary List (awaiting_filing names them).
PRIMARY_AREAS = tuple(area.FIELD for area in CHECK_ORDER)
# Areas whose items a consultation topic or heading may list.
RECORDABLE = tuple(area.FIELD for area in CHECK_ORDER if area is not consultations)


def _check_area(c: Checker, area, items, path, keys):
    for i, item in enumerate(c.array(items, path)):
        p = f"{path}[{i}]"
        check_item(c, area, item, p, keys)
        area.check(c, item, p, keys)


def validate_record(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, (), ("date", "in_transit", "awaiting_filing", "clinicians", "style")
          + tuple(area.FIELD for area in CHECK_ORDER))
    if "style" in value:
        c.string(value["style"], f"{path}.style", choices=SUPPLIER_STYLES)
    clinicians = {USUAL_GP}
    for i, who in enumerate(c.array(value.get("clinicians", []), f"{path}.clinicians")):
        validate_usual_gp(c, who, f"{path}.clinicians[{i}]")
        if who["sds_user_id"] in clinicians:
            c.fail(f"{path}.clinicians[{i}].sds_user_id", f"{who['sds_user_id']!r} is already used")
        clinicians.add(who["sds_user_id"])
    if "date" in value:
        check_date(c, value["date"], f"{path}.date")
    if "in_transit" in value:
        transit = c.obj(value["in_transit"], f"{path}.in_transit", ("date",))
        c.string(transit["date"], f"{path}.in_transit.date", DATE_RE)
    if "awaiting_filing" in value:
        filing = c.obj(value["awaiting_filing"], f"{path}.awaiting_filing", ("date", "areas"))
        c.string(filing["date"], f"{path}.awaiting_filing.date", DATE_RE)
        areas = c.array(filing["areas"], f"{path}.awaiting_filing.areas")
        if not areas:
            c.fail(f"{path}.awaiting_filing.areas", "must name at least one clinical area")
        for i, name in enumerate(areas):
            c.string(name, f"{path}.awaiting_filing.areas[{i}]", choices=PRIMARY_AREAS)
    keys: dict = {}
    area_of: dict = {}
    for area in CHECK_ORDER:
        if area.FIELD in value:
            _check_area(c, area, value[area.FIELD], f"{path}.{area.FIELD}", keys)
            for item in value[area.FIELD]:
                area_of[item["key"]] = area.FIELD
    problems_seen = {item["key"] for item in value.get("problems", [])}
    # Links to problems.
    for area in CHECK_ORDER:
        for i, item in enumerate(value.get(area.FIELD, [])):
            if "problem" in item:
                target = c.string(item["problem"], f"{path}.{area.FIELD}[{i}].problem")
                if target not in problems_seen:
                    c.fail(f"{path}.{area.FIELD}[{i}].problem", f"{target!r} is not the key of a problem")

    # Problems: the item a problem was raised from, and links between problems.
    for i, item in enumerate(value.get("problems", [])):
        p = f"{path}.problems[{i}]"
        if "actual" in item and area_of.get(item["actual"]) not in problems.ACTUAL_AREAS:
            c.fail(f"{p}.actual", f"{item['actual']!r} is not the key of an item a problem can be raised from "
                                  f"({', '.join(problems.ACTUAL_AREAS)})")
        for j, link in enumerate(item.get("related", [])):
            if link["problem"] not in problems_seen or link["problem"] == item["key"]:
                c.fail(f"{p}.related[{j}].problem", f"{link['problem']!r} is not the key of another problem")
    # Who took part in consultations.
    for i, cons in enumerate(value.get("consultations", [])):
        for j, who in enumerate(cons.get("clinicians", [])):
            if who["sds_user_id"] not in clinicians:
                c.fail(f"{path}.consultations[{i}].clinicians[{j}].sds_user_id",
                       f"{who['sds_user_id']!r} is not in record.clinicians (or \"usual_gp\")")
    for area in CHECK_ORDER:       # who recorded or performed an item (record format: clinician)
        for i, item in enumerate(value.get(area.FIELD, [])):
            if "clinician" in item and item["clinician"] not in clinicians:
                c.fail(f"{path}.{area.FIELD}[{i}].clinician",
                       f"{item['clinician']!r} is not in record.clinicians (or \"usual_gp\")")
    for i, item in enumerate(value.get("immunisations", [])):
        if item.get("administered_by") and item["administered_by"] not in clinicians:
            c.fail(f"{path}.immunisations[{i}].administered_by",
                   f"{item['administered_by']!r} is not in record.clinicians (or \"usual_gp\")")
    for i, item in enumerate(value.get("observations", [])):
        for j, key in enumerate(item.get("members", [])):
            if area_of.get(key) != "observations" or key == item["key"]:
                c.fail(f"{path}.observations[{i}].members[{j}]", f"{key!r} is not the key of another observation")
    # Re-authorisations name an earlier medication.
    for i, item in enumerate(value.get("medications", [])):
        if "prior" in item and (area_of.get(item["prior"]) != "medications" or item["prior"] == item["key"]):
            c.fail(f"{path}.medications[{i}].prior", f"{item['prior']!r} is not the key of another medication")
    consultations.check_structure(c, value, path, problems_seen, area_of, RECORDABLE, lambda key: False)


def check_document_links(c: Checker, data: dict):
    """Record items that name persona documents (a test result's ``document``, a referral's
    ``supporting`` "document:<key>") name documents the persona has."""
    record = data.get("record")
    if not isinstance(record, dict):
        return
    docs = {d.get("key") for d in data.get("documents") or [] if isinstance(d, dict)}
    for i, inv in enumerate(record.get("investigations", [])):
        for where, results in [("results", inv.get("results", []))] + [
                (f"groups[{g}].results", group.get("results", [])) for g, group in enumerate(inv.get("groups", []))]:
            for j, res in enumerate(results):
                if "document" in res and res["document"] not in docs:
                    c.fail(f"$.record.investigations[{i}].{where}[{j}].document",
                           f"{res['document']!r} is not the key of a document of this persona")
    for i, ref in enumerate(record.get("referrals", [])):
        for j, key in enumerate(ref.get("supporting", [])):
            if key.startswith("document:"):
                if key[len("document:"):] not in docs:
                    c.fail(f"$.record.referrals[{i}].supporting[{j}]", f"{key!r} is not a document of this persona")
            elif key not in supporting_keys(record):
                c.fail(f"$.record.referrals[{i}].supporting[{j}]",
                       f"{key!r} is not the key of a record item a referral can carry (not a problem)")


def supporting_keys(record: dict) -> set:
    return {item["key"] for area in CHECK_ORDER if area not in (problems, consultations)
            for item in record.get(area.FIELD, [])}


SECTION_VALIDATORS["record"] = validate_record
PERSONA_CHECKS.append(check_document_links)
