"""Validators for the persona sections of the structured record.

Sections: ``address``, ``telecom``, ``usual_gp``, ``registration`` and ``record`` (every clinical
area). The format is documented in personas/README.md, "## Persona format". Each validator is
registered in :data:`mockprovider.domain.personas.SECTION_VALIDATORS` and fails through the
:class:`~mockprovider.domain.personas.Checker`, so an error names the file, the JSON path and the
reason.

Codes are written compactly as ``"<SNOMED code>|<display>"``; dates as ``YYYY-MM-DD`` or a full
``YYYY-MM-DDThh:mm:ss+hh:mm``. Every clinical item has a ``key`` (unique within the persona's
record) from which every resource id derives (mockprovider.domain.ids).
"""
from __future__ import annotations

import re

from .personas import CODE_RE, DATE_OR_DATETIME_RE, DATE_RE, SDS_RE, SECTION_VALIDATORS, Checker

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}\Z")
POSTCODE_RE = re.compile(r"^[A-Z0-9 ]{2,10}\Z")

TELECOM_SYSTEMS = ("phone", "email", "fax", "url", "sms", "other")
TELECOM_USES = ("home", "work", "temp", "old", "mobile")
REGISTRATION_TYPES = {
    # CareConnect-RegistrationType-1
    "R": "Regular", "T": "Temporary", "E": "Emergency", "IN": "Immediately necessary", "P": "Private",
    "O": "Other",
}

# Clinical areas of `record`: the persona field name -> fields an item may have (besides COMMON).
COMMON_REQUIRED = ("key", "date")
COMMON_OPTIONAL = ("confidential", "nopat", "note")
AREAS = {
    "problems": (("code",), ("status", "significance", "end")),
    "allergies": (("code",), ("category", "reaction", "severity", "end", "problem")),
    "medications": (("drug", "dosage"), ("type", "status", "end", "quantity", "issues", "repeats_allowed",
                                          "problem")),
    "immunisations": (("code",), ("vaccine", "dose", "site", "route", "problem")),
    "observations": (("code",), ("value", "unit", "text", "bp", "range", "problem")),
    "investigations": (("code",), ("specimen", "request", "filing_comment", "groups", "results", "problem")),
    "referrals": (("code",), ("priority", "service", "description", "problem")),
    "diary": (("code",), ("problem",)),
    "consultations": (("type",), ("title", "topics")),
}
RESULT_FIELDS = (("key", "code"), ("value", "unit", "text", "range", "note", "confidential", "nopat"))


def _code(c: Checker, value, path):
    return c.string(value, path, CODE_RE)


def _date(c: Checker, value, path):
    return c.string(value, path, DATE_OR_DATETIME_RE)


def _bool(c: Checker, item, name, path):
    if name in item:
        c.boolean(item[name], f"{path}.{name}")


def validate_address(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("line", "postcode"), ("city", "district", "use"))
    for i, line in enumerate(c.array(value["line"], f"{path}.line")):
        c.string(line, f"{path}.line[{i}]")
    for name in ("city", "district"):
        if name in value:
            c.string(value[name], f"{path}.{name}")
    c.string(value["postcode"], f"{path}.postcode", POSTCODE_RE)
    if "use" in value:
        c.string(value["use"], f"{path}.use", choices=("home", "work", "temp", "old"))


def validate_telecom(c: Checker, value, path, persona_dir=None):
    for i, item in enumerate(c.array(value, path)):
        p = f"{path}[{i}]"
        c.obj(item, p, ("system", "value"), ("use",))
        c.string(item["system"], f"{p}.system", choices=TELECOM_SYSTEMS)
        c.string(item["value"], f"{p}.value")
        if "use" in item:
            c.string(item["use"], f"{p}.use", choices=TELECOM_USES)


def validate_usual_gp(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("sds_user_id", "name"), ("gender", "gmc", "gmp", "role"))
    c.string(value["sds_user_id"], f"{path}.sds_user_id", SDS_RE)
    name = c.obj(value["name"], f"{path}.name", ("family",), ("given", "prefix"))
    c.string(name["family"], f"{path}.name.family")
    for part in ("given", "prefix"):
        if part in name:
            for i, word in enumerate(c.array(name[part], f"{path}.name.{part}")):
                c.string(word, f"{path}.name.{part}[{i}]")
    if "gender" in value:
        c.string(value["gender"], f"{path}.gender", choices=("male", "female", "other", "unknown"))
    for ident in ("gmc", "gmp"):
        if ident in value:
            c.string(value[ident], f"{path}.{ident}", SDS_RE)
    if "role" in value:
        c.string(value["role"], f"{path}.role", re.compile(r"^[A-Z0-9]{2,10}\|\S.*\Z"))


def validate_registration(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("date",), ("type",))
    c.string(value["date"], f"{path}.date", DATE_RE)
    if "type" in value:
        c.string(value["type"], f"{path}.type", choices=tuple(REGISTRATION_TYPES))


def _values(c: Checker, item, p):
    """value/unit/text/range/bp of an observation or a test result."""
    if "value" in item:
        v = item["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            c.fail(f"{p}.value", "must be a number")
        if "unit" not in item:
            c.fail(f"{p}.unit", "is required with value")
    if "unit" in item:
        c.string(item["unit"], f"{p}.unit")
    if "text" in item:
        c.string(item["text"], f"{p}.text")
    if "range" in item:
        rng = c.array(item["range"], f"{p}.range")
        if len(rng) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in rng):
            c.fail(f"{p}.range", "must be [low, high] numbers")
    if "bp" in item:
        bp = c.array(item["bp"], f"{p}.bp")
        if len(bp) != 2 or any(isinstance(x, bool) or not isinstance(x, int) for x in bp):
            c.fail(f"{p}.bp", "must be [systolic, diastolic] whole numbers")
        if "value" in item:
            c.fail(f"{p}.bp", "cannot be combined with value")


def _item(c: Checker, area, item, p, keys: dict):
    required, optional = AREAS[area]
    c.obj(item, p, COMMON_REQUIRED + required, COMMON_OPTIONAL + optional)
    key = c.string(item["key"], f"{p}.key", KEY_RE)
    if key in keys:
        c.fail(f"{p}.key", f"{key!r} is already used at {keys[key]}")
    keys[key] = p
    _date(c, item["date"], f"{p}.date")
    _bool(c, item, "confidential", p)
    _bool(c, item, "nopat", p)
    if "note" in item:
        c.string(item["note"], f"{p}.note")
    for name in ("code", "drug", "type", "reaction", "vaccine", "site", "route"):
        if name in item and not (name == "type" and area == "medications"):
            _code(c, item[name], f"{p}.{name}")
    if "end" in item and area != "allergies":
        _date(c, item["end"], f"{p}.end")


def _check_area(c: Checker, area, items, path, keys, problems_seen):
    for i, item in enumerate(c.array(items, path)):
        p = f"{path}[{i}]"
        _item(c, area, item, p, keys)
        if area == "problems":
            c.string(item.get("status", "active"), f"{p}.status", choices=("active", "inactive"))
            c.string(item.get("significance", "major"), f"{p}.significance", choices=("major", "minor"))
            problems_seen[item["key"]] = p
        elif area == "allergies":
            c.string(item.get("category", "medication"), f"{p}.category",
                     choices=("food", "medication", "environment", "biologic"))
            if "severity" in item:
                c.string(item["severity"], f"{p}.severity", choices=("mild", "moderate", "severe"))
            if "end" in item:
                end = c.obj(item["end"], f"{p}.end", ("date",), ("reason",))
                _date(c, end["date"], f"{p}.end.date")
                if "reason" in end:
                    c.string(end["reason"], f"{p}.end.reason")
                if "problem" in item:
                    # an ended allergy is contained in the "Ended allergies" List: nothing outside
                    # that List can reference it
                    c.fail(f"{p}.problem", "an ended allergy cannot be linked to a problem")
        elif area == "medications":
            c.string(item["dosage"], f"{p}.dosage")
            kind = c.string(item.get("type", "acute"), f"{p}.type",
                            choices=("acute", "repeat", "repeat-dispensed"))
            c.string(item.get("status", "active"), f"{p}.status", choices=("active", "completed", "stopped"))
            if "quantity" in item:
                c.string(item["quantity"], f"{p}.quantity")
            if "repeats_allowed" in item:
                c.integer(item["repeats_allowed"], f"{p}.repeats_allowed", minimum=1)
            if "issues" in item:
                issues = c.array(item["issues"], f"{p}.issues")
                for j, d in enumerate(issues):
                    _date(c, d, f"{p}.issues[{j}]")
                if kind == "acute" and len(issues) != 1:
                    c.fail(f"{p}.issues", "an acute medication has exactly one issue")
        elif area == "immunisations":
            if "dose" in item:
                c.integer(item["dose"], f"{p}.dose", minimum=1)
        elif area == "observations":
            _values(c, item, p)
        elif area == "investigations":
            _check_investigation(c, item, p, keys)
        elif area == "referrals":
            c.string(item.get("priority", "routine"), f"{p}.priority", choices=("routine", "urgent", "asap", "stat"))
            for name in ("service", "description"):
                if name in item:
                    c.string(item[name], f"{p}.{name}")
        elif area == "consultations":
            if "title" in item:
                c.string(item["title"], f"{p}.title")


def _check_results(c: Checker, results, path, keys):
    for j, result in enumerate(c.array(results, path)):
        rp = f"{path}[{j}]"
        c.obj(result, rp, RESULT_FIELDS[0], RESULT_FIELDS[1])
        key = c.string(result["key"], f"{rp}.key", KEY_RE)
        if key in keys:
            c.fail(f"{rp}.key", f"{key!r} is already used at {keys[key]}")
        keys[key] = rp
        _code(c, result["code"], f"{rp}.code")
        _values(c, result, rp)
        _bool(c, result, "confidential", rp)
        _bool(c, result, "nopat", rp)
        if "note" in result:
            c.string(result["note"], f"{rp}.note")


def _check_investigation(c: Checker, item, p, keys):
    if "specimen" in item:
        spec_ = c.obj(item["specimen"], f"{p}.specimen", ("type",), ("date",))
        _code(c, spec_["type"], f"{p}.specimen.type")
        if "date" in spec_:
            _date(c, spec_["date"], f"{p}.specimen.date")
    if "request" in item:
        req = c.obj(item["request"], f"{p}.request", (), ("code", "date"))
        if "code" in req:
            _code(c, req["code"], f"{p}.request.code")
        if "date" in req:
            _date(c, req["date"], f"{p}.request.date")
    if "filing_comment" in item:
        c.string(item["filing_comment"], f"{p}.filing_comment")
    for j, group in enumerate(c.array(item.get("groups", []), f"{p}.groups")):
        gp = f"{p}.groups[{j}]"
        c.obj(group, gp, ("key", "code", "results"), ("note",))
        key = c.string(group["key"], f"{gp}.key", KEY_RE)
        if key in keys:
            c.fail(f"{gp}.key", f"{key!r} is already used at {keys[key]}")
        keys[key] = gp
        _code(c, group["code"], f"{gp}.code")
        _check_results(c, group["results"], f"{gp}.results", keys)
    _check_results(c, item.get("results", []), f"{p}.results", keys)
    if not item.get("groups") and not item.get("results"):
        c.fail(f"{p}.results", "an investigation needs at least one result or test group")


# Areas whose items a consultation heading may list (consultations and problems excluded:
# problems may be listed too, see below).
RECORDABLE = ("problems", "allergies", "medications", "immunisations", "observations", "investigations",
              "referrals", "diary")


def validate_record(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, (), ("date",) + tuple(AREAS))
    if "date" in value:
        _date(c, value["date"], f"{path}.date")
    keys: dict = {}
    problems: dict = {}
    area_of: dict = {}
    for area in AREAS:            # problems first: links are checked after every key is known
        if area in value:
            _check_area(c, area, value[area], f"{path}.{area}", keys, problems)
            for item in value[area]:
                area_of[item["key"]] = area
    # Links to problems.
    for area in AREAS:
        for i, item in enumerate(value.get(area, [])):
            if "problem" in item:
                target = c.string(item["problem"], f"{path}.{area}[{i}].problem")
                if target not in problems:
                    c.fail(f"{path}.{area}[{i}].problem", f"{target!r} is not the key of a problem")
    # Consultation structure: topics -> headings -> items (keys of other record items) and notes.
    recorded: dict = {}
    for i, cons in enumerate(value.get("consultations", [])):
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
                _code(c, heading["code"], f"{hp}.code")
                parts.append((hp, heading))
            if "headings" in topic and ("items" in topic or "notes" in topic):
                c.fail(tp, "a topic holds either headings or items/notes, not both")
            for pp, part in parts:
                for n, note in enumerate(c.array(part.get("notes", []), f"{pp}.notes")):
                    c.string(note, f"{pp}.notes[{n}]")
                for n, key in enumerate(c.array(part.get("items", []), f"{pp}.items")):
                    ip = f"{pp}.items[{n}]"
                    c.string(key, ip)
                    if area_of.get(key) not in RECORDABLE:
                        c.fail(ip, f"{key!r} is not the key of a record item")
                    if key in recorded:
                        c.fail(ip, f"{key!r} is already recorded at {recorded[key]}")
                    if area_of[key] == "allergies" and "end" in _find(value, key):
                        c.fail(ip, "an ended allergy cannot be recorded in a consultation "
                                   "(it is contained in the Ended allergies List)")
                    recorded[key] = ip
            if not any(part.get("items") or part.get("notes") for _, part in parts):
                c.fail(tp, "a topic needs at least one item or note")


def _find(record, key):
    for area in AREAS:
        for item in record.get(area, []):
            if item.get("key") == key:
                return item
    return {}


SECTION_VALIDATORS.update({
    "address": validate_address,
    "telecom": validate_telecom,
    "usual_gp": validate_usual_gp,
    "registration": validate_registration,
    "record": validate_record,
})
