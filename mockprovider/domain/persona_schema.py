"""The persona JSON Schema (``personas/schema.json``) and every mistake of a file at once.

``mockprovider personas validate`` checks each file against the schema with the ``jsonschema``
library and reports every mistake, each with its JSON path (``$.record.medications[0].drug``), then
the rules a schema cannot express (links between items, document files, check digits) through the
persona loader's own checks. Start-up keeps using only the loader's fast checks (first mistake),
so ``jsonschema`` is never imported on the serving path.

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
from .persona_format import PersonaError

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


def _message(error) -> tuple[str, str]:
    path = json_path(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return json_path([*error.absolute_path, missing]), "is required"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        names = ", ".join(re.findall(r"'([^']*)'", error.message.split("(", 1)[-1])) or error.message
        return path, f"has fields that are not part of the format: {names}"
    if error.validator == "pattern" and error.schema.get("description"):
        return path, f"{error.instance!r} has the wrong format ({error.schema['description']})"
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
            path, reason = _message(leaf)
            if leaf.validator == "unevaluatedProperties":
                unknown_fields.append((path, reason))
            else:
                found.setdefault((path, reason), PersonaError(file, path, reason))
    # An item whose fields failed is not "evaluated": report its unknown fields only when nothing
    # else is wrong at or below it (else the real mistake would be named twice, once wrongly).
    for path, reason in unknown_fields:
        if not any(p == path or p.startswith(path + ".") or p.startswith(path + "[") for p, _ in found):
            found.setdefault((path, reason), PersonaError(file, path, reason))
    return sorted(found.values(), key=lambda e: _sort_key(e.path))


def _sort_key(path: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p]
