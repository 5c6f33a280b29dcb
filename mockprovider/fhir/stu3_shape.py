"""Is this FHIR STU3? A quick structural check of resources against the STU3 element table.

``personas import`` and ``PUT /_control/personas/{nhs}`` (application/fhir+json) serve a Bundle's
entries as they came, so content written to another FHIR version would be served as if it were
STU3 and only fail later (``personas validate``, or the consumer). R4 is the usual case: R4 made
``AllergyIntolerance.clinicalStatus`` and ``Condition.clinicalStatus`` CodeableConcepts (STU3:
codes), renamed ``Condition.assertedDate`` to ``recordedDate``, gave ``Immunization``
``occurrenceDateTime``, made ``DocumentReference.context.encounter`` repeat, and so on.

:func:`not_stu3` walks every resource with the vendored STU3 table (``stu3_elements.json``, the
same one the XML serialiser uses: every element of every resource, data type and backbone
element, its kind and whether it repeats) and names each element that STU3 does not have or
that has another shape: an object where STU3 has a primitive (or the reverse), a list where it
has one value (or the reverse), a JSON value of the wrong kind for a primitive. Profiles and
terminology are not judged here (``personas validate`` does that).
"""
from __future__ import annotations

from .xml import PRIMITIVES, TABLE

MAX_PROBLEMS = 50
_KIND_WORDS = {"str": "a string (a primitive)", "bool": "true or false", "int": "a whole number",
               "dec": "a number", "xhtml": "XHTML text"}


def refusal(problems: list) -> str:
    """The headline of a refusal: ``is not FHIR STU3 (N elements ...)``."""
    count = len(problems)
    more = "+" if count >= MAX_PROBLEMS else ""
    return (f"is not FHIR STU3 ({count}{more} element{'s' if count != 1 else ''} STU3 does not have or "
            "shapes otherwise, e.g. FHIR R4 content)")


def _json_kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def _primitive_ok(kind: str, value) -> bool:
    if kind in ("str", "xhtml"):
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "dec":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def not_stu3(bundle, limit: int = MAX_PROBLEMS) -> list[tuple[str, str]]:
    """(JSON path, reason) for each element of the Bundle's resources that is not STU3-shaped,
    at most ``limit`` (an empty list: nothing gave another version away)."""
    problems: list[tuple[str, str]] = []
    if not isinstance(bundle, dict):
        return problems
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return problems
    for n, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            _resource(resource, f"$.entry[{n}].resource", problems, limit)
        if len(problems) >= limit:
            break
    return problems[:limit]


def _resource(resource: dict, path: str, problems: list, limit: int) -> None:
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or kind not in TABLE:
        problems.append((f"{path}.resourceType", f"{kind!r} is not an STU3 resource type"))
        return
    _element(resource, kind, kind, path, problems, limit)


def _element(value: dict, type_name: str, label: str, path: str, problems: list, limit: int) -> None:
    elements = TABLE[type_name]
    for key, item in value.items():
        if len(problems) >= limit:
            return
        if key == "resourceType" or key == "fhir_comments":
            continue
        where = f"{path}.{key}"
        if key.startswith("_"):          # a primitive's id and extensions: its element must be a primitive
            twin = elements.get(key[1:])
            if twin is None or twin[0] not in PRIMITIVES:
                problems.append((where, f"is not an element of STU3 {type_name}"))
            continue
        known = elements.get(key)
        if known is None:
            problems.append((where, f"is not an element of STU3 {type_name}"))
            continue
        kind, many = known
        name = f"{label}.{key}"
        if many and not isinstance(item, list):
            problems.append((where, f"is {_json_kind(item)}, where STU3 {name} is a list"))
            continue
        if not many and isinstance(item, list):
            problems.append((where, f"is a list, where STU3 {name} is a single value"))
            continue
        for i, one in enumerate(item if many else (item,)):
            at = f"{where}[{i}]" if many else where
            if kind in _KIND_WORDS:
                if not _primitive_ok(kind, one):
                    problems.append((at, f"is {_json_kind(one)}, where STU3 {name} is {_KIND_WORDS[kind]}"))
            elif not isinstance(one, dict):
                problems.append((at, f"is {_json_kind(one)}, where STU3 {name} is a {kind}"))
            elif kind == "Resource":
                _resource(one, at, problems, limit)
            else:
                _element(one, kind, name, at, problems, limit)
            if len(problems) >= limit:
                return
