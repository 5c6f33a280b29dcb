"""The persona JSON Schema (``personas/schema.json``): the structure part of the persona contract.

:func:`schema_errors` checks a persona against the schema with the ``jsonschema`` library and
gives every mistake, each with its JSON path (``$.record.medications[0].drug``), in the
contract's words (the loader's: "'x' must be one of a, b", "is required", "is not a known field
(known: …)", "has the wrong format (…)"). :mod:`.contract` adds the rules a schema
cannot express. A valid persona never gets here (the loader's fast pass accepts it), so
``jsonschema`` is imported only when there is a mistake to list.

The schema ships beside the built-in personas (``personas/schema.json``; in a wheel
``mockprovider/builtin_personas/schema.json``) and a persona file may name it in ``"$schema"`` so
editors check and complete it as it is typed.
"""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache

from .. import config
from .format import PersonaError, kind_of

FILE_NAME = "schema.json"


def schema_path() -> str:
    return os.path.join(config.BUILT_IN_PERSONAS, FILE_NAME)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema      # only `personas validate` needs it (not the server)

    with open(schema_path(), encoding="utf-8") as fh:
        schema = json.load(fh)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def json_path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaves(error):
    """The most specific errors: a failed anyOf/oneOf/allOf reports its sub-errors' leaves, so a
    mistake is named where it is, not as 'is not valid under any of the given schemas'."""
    if error.context:
        best = {}
        for sub in error.context:
            for leaf in _leaves(sub):
                best.setdefault((tuple(leaf.absolute_path), leaf.message), leaf)
        # a oneOf/anyOf of required-alternatives keeps its own message
        if all(leaf.validator == "required" for leaf in best.values()) and error.validator in ("oneOf", "anyOf"):
            return [error]
        return list(best.values())
    return [error]


_KINDS = {"object": "a JSON object", "array": "a JSON array", "string": "a non-empty string",
          "boolean": "true or false", "integer": "a whole number", "number": "a number", "null": "null"}


def _message(error) -> tuple[str, str]:
    path = json_path(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return json_path([*error.absolute_path, missing]), "is required"
    if error.validator == "enum":
        return path, f"{error.instance!r} must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "const":
        return path, f"{error.instance!r} must be {error.validator_value!r}"
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if wanted == ["boolean"]:
            return path, f"must be true or false, not {kind_of(error.instance)}"
        return path, f"must be {' or '.join(_KINDS.get(w, w) for w in wanted)}, not {kind_of(error.instance)}"
    if error.validator == "minLength" and error.validator_value == 1:
        return path, "must not be empty"
    if error.validator == "minimum":
        return path, f"must be a whole number >= {error.validator_value}"
    if error.validator == "maximum":
        return path, f"must be at most {error.validator_value}"
    if error.validator == "minItems":
        return path, f"must have at least {error.validator_value} item{'s' if error.validator_value != 1 else ''}"
    if error.validator == "maxItems":
        return path, f"must have at most {error.validator_value} item{'s' if error.validator_value != 1 else ''}"
    if error.validator == "pattern":
        hint = f" ({error.schema['description'].rstrip('.')})" if error.schema.get("description") else ""
        return path, f"{error.instance!r} has the wrong format{hint}"
    if error.validator == "oneOf" and error.validator_value and all("required" in s for s in error.validator_value):
        names = " or ".join(s["required"][0] for s in error.validator_value)
        return path, f"needs exactly one of {names}"
    if error.validator == "anyOf" and error.validator_value and all("required" in s for s in error.validator_value):
        names = " or ".join(s["required"][0] for s in error.validator_value)
        return path, f"needs at least one of {names}"
    if error.validator == "not" and isinstance(error.schema, dict) and error.schema.get("description"):
        return path, error.schema["description"]
    if error.validator is False or error.schema is False:
        return path, "is not a field of this kind of item"
    return path, error.message


def schema_errors(data, file) -> list[PersonaError]:
    """Every mistake of one persona's data against the schema, in document order (JSON path)."""
    found = {}
    unknown_fields = []
    for error in _validator().iter_errors(data):
        for leaf in _leaves(error):
            if leaf.validator in ("additionalProperties", "unevaluatedProperties"):
                item = json_path(leaf.absolute_path)
                for path, reason in _unknown_fields(leaf):
                    if leaf.validator == "unevaluatedProperties":
                        unknown_fields.append((item, path, reason))
                    else:
                        found.setdefault((path, reason), PersonaError(file, path, reason))
                continue
            path, reason = _message(leaf)
            found.setdefault((path, reason), PersonaError(file, path, reason))
    # An item whose fields failed is not "evaluated": report its unknown fields only when nothing
    # else is wrong at or below it (else the real mistake would be named twice, once wrongly).
    for item, path, reason in unknown_fields:
        if not any(p == item or p.startswith(item + ".") or p.startswith(item + "[") for p, _ in found):
            found.setdefault((path, reason), PersonaError(file, path, reason))
    return sorted(found.values(), key=lambda e: _sort_key(e.path))


def _unknown_fields(error):
    """One mistake per field the format does not know: its own path, and the fields it knows."""
    names = re.findall(r"'([^']*)'", error.message.split("(", 1)[-1]) or ["?"]
    known = set((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else ())
    if error.validator == "unevaluatedProperties":   # the item's fields come from its allOf / $ref parts
        known |= set(error.instance) - set(names) if isinstance(error.instance, dict) else set()
        known |= _evaluated_names(error.schema)
    hint = f" (known: {', '.join(sorted(known))})" if known else ""
    return [(json_path([*error.absolute_path, name]), f"is not a known field{hint}") for name in names]


def _evaluated_names(schema, depth=0) -> set:
    """The property names a schema (with its allOf / $ref parts) knows."""
    if not isinstance(schema, dict) or depth > 6:
        return set()
    names = set(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        names |= _evaluated_names(part, depth + 1)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        names |= _evaluated_names(_defs().get(ref[len("#/$defs/"):]), depth + 1)
    return names


def _defs() -> dict:
    return _validator().schema.get("$defs") or {}


def _sort_key(path: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p]
