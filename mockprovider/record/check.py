"""The persona ``record`` section's checks: each area's item checks (in its own module), then the
links across areas (``problem`` keys, consultation structure).

Registered in :data:`mockprovider.domain.persona_format.SECTION_VALIDATORS` when
:mod:`mockprovider.record` is imported (``mockprovider/__init__.py`` does, so every entry point
validates a record the same way). The format is documented in personas/README.md.
"""
from __future__ import annotations

from ..domain.persona_format import SECTION_VALIDATORS, Checker
from . import (allergies, consultations, diary, immunisations, investigations, medications, problems,
               referrals, uncategorised)
from .common import check_date, check_item

# Areas in the order their items are checked (problems first: links are checked once every key is known).
CHECK_ORDER = (problems, allergies, medications, immunisations, uncategorised, investigations, referrals, diary,
               consultations)
# Areas whose items a consultation topic or heading may list.
RECORDABLE = tuple(area.FIELD for area in CHECK_ORDER if area is not consultations)


def _check_area(c: Checker, area, items, path, keys):
    for i, item in enumerate(c.array(items, path)):
        p = f"{path}[{i}]"
        check_item(c, area, item, p, keys)
        area.check(c, item, p, keys)


def validate_record(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, (), ("date",) + tuple(area.FIELD for area in CHECK_ORDER))
    if "date" in value:
        check_date(c, value["date"], f"{path}.date")
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

    def is_ended_allergy(key):
        return area_of.get(key) == "allergies" and any(
            a.get("key") == key and "end" in a for a in value.get("allergies", []))

    consultations.check_structure(c, value, path, problems_seen, area_of, RECORDABLE, is_ended_allergy)


SECTION_VALIDATORS["record"] = validate_record
