"""Personas: one JSON file a patient, loaded and validated at start-up, indexed by NHS number.

The format is documented in personas/README.md. Loading checks every file and fails loudly:
:class:`PersonaError` names the file, the JSON path and the reason; no partial cast is ever served.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import nhs_number

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ODS_RE = re.compile(r"^[A-Z0-9]{3,10}$")
GENDERS = ("male", "female", "other", "unknown")


class PersonaError(ValueError):
    """A persona file is wrong: names the file, the JSON path and the reason."""

    def __init__(self, file, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")


@dataclass
class Persona:
    file: str
    data: dict

    @property
    def nhs_number(self) -> str:
        return self.data["nhs_number"]

    @property
    def pds(self) -> dict:
        return self.data.get("pds", {})

    @property
    def registered_practice_ods(self):
        return self.pds.get("registered_practice_ods")

    @property
    def tags(self) -> list:
        return self.data.get("tags", [])


class Checker:
    """Small helpers that raise PersonaError with the JSON path of the bad value."""

    def __init__(self, file):
        self.file = file

    def fail(self, path, reason):
        raise PersonaError(self.file, path, reason)

    def obj(self, value, path, required=(), optional=()):
        if not isinstance(value, dict):
            self.fail(path, "must be a JSON object")
        for key in required:
            if key not in value:
                self.fail(f"{path}.{key}", "is required")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            self.fail(f"{path}.{unknown[0]}", "is not a known field")
        return value

    def string(self, value, path, pattern=None, choices=None, nullable=False):
        if value is None and nullable:
            return value
        if not isinstance(value, str) or not value:
            self.fail(path, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            self.fail(path, f"{value!r} has the wrong format")
        if choices is not None and value not in choices:
            self.fail(path, f"{value!r} must be one of {', '.join(choices)}")
        return value

    def boolean(self, value, path):
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
        return value

    def integer(self, value, path, minimum=0):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"must be a whole number >= {minimum}")
        return value

    def array(self, value, path):
        if not isinstance(value, list):
            self.fail(path, "must be a JSON array")
        return value


# Sections validated by other modules register here: name -> function(checker, value, path, persona_dir).
SECTION_VALIDATORS: dict = {}
# Called with the PersonaStore once every persona is loaded (e.g. to build an index): function(store).
LOAD_HOOKS: list = []

TOP_REQUIRED = ("nhs_number", "name", "gender", "birth_date")
TOP_OPTIONAL = ("description", "tags", "nhs_number_status", "pds", "deceased", "active", "address",
                "telecom", "usual_gp", "registration", "record", "documents")


def validate(data, file, persona_dir) -> Persona:
    c = Checker(file)
    c.obj(data, "$", TOP_REQUIRED, TOP_OPTIONAL)
    number = c.string(data["nhs_number"], "$.nhs_number")
    if not nhs_number.is_valid(number):
        c.fail("$.nhs_number", f"{number!r} is not a valid NHS number (10 digits, Mod-11 check digit)")
    name = c.obj(data["name"], "$.name", ("family",), ("given", "prefix", "suffix", "text"))
    c.string(name["family"], "$.name.family")
    c.string(data["gender"], "$.gender", choices=GENDERS)
    c.string(data["birth_date"], "$.birth_date", DATE_RE)
    if "deceased" in data:
        c.string(data["deceased"], "$.deceased", DATE_RE, nullable=True)
    if "active" in data:
        c.boolean(data["active"], "$.active")
    if "nhs_number_status" in data:
        c.string(data["nhs_number_status"], "$.nhs_number_status",
                 choices=("01", "02", "03", "04", "05", "06", "07", "08"))
    if "pds" in data:
        pds = c.obj(data["pds"], "$.pds", (), ("sensitive", "dissent", "registered_practice_ods"))
        for flag in ("sensitive", "dissent"):
            if flag in pds:
                c.boolean(pds[flag], f"$.pds.{flag}")
        if "registered_practice_ods" in pds:
            c.string(pds["registered_practice_ods"], "$.pds.registered_practice_ods", ODS_RE, nullable=True)
    if "tags" in data:
        for i, tag in enumerate(c.array(data["tags"], "$.tags")):
            c.string(tag, f"$.tags[{i}]")
    for section, validator in SECTION_VALIDATORS.items():
        if section in data:
            validator(c, data[section], f"$.{section}", persona_dir)
    return Persona(str(file), data)


class PersonaStore:
    """Every persona of one folder, validated, indexed by NHS number."""

    def __init__(self, personas: dict[str, Persona], directory: str):
        self.by_nhs_number = personas
        self.directory = directory

    @classmethod
    def load(cls, directory) -> "PersonaStore":
        directory = Path(directory)
        if not directory.is_dir():
            raise PersonaError(directory, "$", "personas folder does not exist")
        personas: dict[str, Persona] = {}
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.name.endswith(".json") or not entry.is_file():
                continue
            path = Path(entry.path)
            try:
                with open(path, "rb") as fh:
                    data = json.loads(fh.read())
            except (ValueError, UnicodeDecodeError) as exc:
                raise PersonaError(path, "$", f"is not valid JSON: {exc}") from None
            persona = validate(data, path, directory)
            if persona.nhs_number in personas:
                raise PersonaError(path, "$.nhs_number", f"{persona.nhs_number} is already used by "
                                   f"{personas[persona.nhs_number].file}")
            personas[persona.nhs_number] = persona
        store = cls(personas, str(directory))
        for hook in LOAD_HOOKS:
            hook(store)
        return store

    def get(self, number: str) -> Persona | None:
        return self.by_nhs_number.get(number)

    def __len__(self):
        return len(self.by_nhs_number)

    def __iter__(self):
        return iter(self.by_nhs_number.values())
