"""The persona ``record`` section's checks: each area's item checks (in its own module). The links
across areas (``problem`` keys, clinicians, consultation structure, documents) are rules of the
persona contract (:mod:`mockprovider.personas.contract`), which this module tells what only
the areas know (:data:`~mockprovider.personas.contract.RECORD_RULES`).

Registered in :data:`mockprovider.personas.format.SECTION_VALIDATORS` when
:mod:`mockprovider.record` is imported (``mockprovider/__init__.py`` does, so every entry point
validates a record the same way). The format is documented in docs/personas/format.md.
"""
from __future__ import annotations

from ..personas import contract
from ..personas.admin import validate_usual_gp
from ..personas.format import DATE_RE, SECTION_VALIDATORS, Checker, PersonaError
from . import (allergies, consultations, diary, immunisations, investigations, medications, problems,
               referrals, uncategorised)
from .common import check_date, check_item
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
    for i, who in enumerate(c.array(value.get("clinicians", []), f"{path}.clinicians")):
        validate_usual_gp(c, who, f"{path}.clinicians[{i}]")
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
    for area in CHECK_ORDER:
        if area.FIELD in value:
            _check_area(c, area, value[area.FIELD], f"{path}.{area.FIELD}", keys)
    for area in CHECK_ORDER:        # the link's shape; what it names: the persona contract
        for i, item in enumerate(value.get(area.FIELD, [])):
            if "problem" in item:
                c.string(item["problem"], f"{path}.{area.FIELD}[{i}].problem")


def item_mistakes(value, path, file, persona_dir=None):
    """The record's own checks item by item, as (path, reason): each item's first mistake (an
    area module's field rules, a key used twice), for the persona contract's complete list."""
    c = Checker(file)
    try:
        c.obj(value, path, (), ("date", "in_transit", "awaiting_filing", "clinicians", "style")
              + tuple(area.FIELD for area in CHECK_ORDER))
    except PersonaError as error:
        yield error.path, error.reason
        if not isinstance(value, dict):
            return
    keys: dict = {}
    for area in CHECK_ORDER:
        items = value.get(area.FIELD)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            p = f"{path}.{area.FIELD}[{i}]"
            try:
                check_item(c, area, item, p, keys)
                area.check(c, item, p, keys)
                if "problem" in item:
                    c.string(item["problem"], f"{p}.problem")
            except PersonaError as error:
                yield error.path, error.reason
            except Exception:       # a shape the schema names
                continue
    for i, who in enumerate(value.get("clinicians") or [] if isinstance(value.get("clinicians"), list) else []):
        try:
            validate_usual_gp(c, who, f"{path}.clinicians[{i}]")
        except PersonaError as error:
            yield error.path, error.reason
        except Exception:
            continue
    try:
        rest = {k: v for k, v in value.items() if k not in tuple(area.FIELD for area in CHECK_ORDER) + ("clinicians",)}
        validate_record(c, rest, path)
    except PersonaError as error:
        yield error.path, error.reason
    except Exception:
        pass


def _consultation_structure(c: Checker, record, path, problem_keys, area_of):
    consultations.check_structure(c, record, path, problem_keys, area_of, RECORDABLE, lambda key: False)


SECTION_VALIDATORS["record"] = validate_record
# What only the clinical areas know, for the rules across fields (mockprovider.personas.contract).
contract.RECORD_RULES.update({
    "actual_areas": problems.ACTUAL_AREAS,
    "consultation_structure": _consultation_structure,
    "supporting_areas": tuple(area.FIELD for area in CHECK_ORDER if area not in (problems, consultations)),
})
contract.SECTION_ITEMS["record"] = item_mistakes
