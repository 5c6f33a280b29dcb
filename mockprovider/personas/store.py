"""Personas: one JSON file a patient, loaded and validated at start-up, indexed by NHS number.

The format is documented in docs/personas/format.md. Loading checks every file and fails loudly:
:class:`PersonaError` names the file, the JSON path and the reason; no partial cast is ever served
(the first bad file stops the load; ``mockprovider personas validate`` lists every bad file).

The persona modules import one way (no cycles):
``store`` (this module) -> ``pool`` -> ``persona`` -> ``generate`` -> ``documents`` -> ``format``.
The names below re-export the format's and the loader's public surface, so callers import them
from here.
"""
from __future__ import annotations

import gc
import os

from .persona import Persona, load_file, name_text, parse, validate  # noqa: F401
from .format import (CLINICAL_AREAS, CODE_RE, DATE_OR_DATETIME_RE, DATE_RE, LOAD_HOOKS,  # noqa: F401
                     ODS_RE, SDS_RE, SECTION_VALIDATORS, TAGS, Checker, PersonaError, derive_tags)
from .pool import load_files

SCHEMA_FILE = "schema.json"     # the persona JSON Schema beside the personas (mockprovider.personas.schema)

def persona_files(directory) -> list[str]:
    """The persona files of a folder: every ``*.json`` regular file at its top level, sorted by name."""
    if not os.path.isdir(directory):
        raise PersonaError(directory, "$", "personas folder does not exist")
    return [e.path for e in sorted(os.scandir(directory), key=lambda e: e.name)
            if e.name.endswith(".json") and e.name != SCHEMA_FILE and e.is_file()]


class PersonaStore:
    """Every persona of one folder, validated, indexed by NHS number."""

    def __init__(self, personas: dict[str, Persona], directory: str):
        self.by_nhs_number = personas
        self.directory = directory

    @classmethod
    def load(cls, directory) -> "PersonaStore":
        """Load every persona file or raise the first PersonaError (never a partial cast)."""
        directory = os.fspath(directory)
        personas: dict[str, Persona] = {}
        was_enabled = gc.isenabled()
        gc.disable()        # many short-lived dicts: the cyclic collector only costs time here
        try:
            for persona in load_files(persona_files(directory), directory):
                if persona.nhs_number in personas:
                    raise PersonaError(persona.file, "$.nhs_number", f"{persona.nhs_number} is already used by "
                                       f"{personas[persona.nhs_number].file}")
                personas[persona.nhs_number] = persona
        finally:
            if was_enabled:
                gc.enable()
        store = cls(personas, str(directory))
        for hook in LOAD_HOOKS:
            hook(store)
        return store

    @classmethod
    def check(cls, directory) -> tuple["PersonaStore", list[PersonaError]]:
        """A store of every good persona and every error of a folder (for ``personas validate``)."""
        good: list[Persona] = []
        errors: list[PersonaError] = []
        seen: dict[str, str] = {}
        try:
            files = persona_files(directory)
        except PersonaError as exc:
            return cls({}, str(directory)), [exc]
        for path in files:
            try:
                persona = load_file(path, directory)
            except PersonaError as exc:
                errors += file_mistakes(path, directory, exc)
                continue
            if persona.nhs_number in seen:
                errors.append(PersonaError(path, "$.nhs_number", f"{persona.nhs_number} is already "
                                           f"used by {seen[persona.nhs_number]}"))
                continue
            seen[persona.nhs_number] = persona.file
            good.append(persona)
        store = cls({p.nhs_number: p for p in good}, str(directory))
        for hook in LOAD_HOOKS:
            try:
                hook(store)
            except PersonaError as exc:
                errors.append(exc)
        return store, errors

    def get(self, number: str) -> Persona | None:
        return self.by_nhs_number.get(number)

    def __len__(self):
        return len(self.by_nhs_number)

    def __iter__(self):
        return iter(self.by_nhs_number.values())


def file_mistakes(path, directory, first: PersonaError) -> list[PersonaError]:
    """Every mistake of a file the loader rejected (it stops at ``first``), as the persona
    contract lists them (mockprovider.personas.contract: the same list, in the same words,
    as every other surface)."""
    from .contract import mistakes
    try:
        with open(path, "rb") as fh:
            data = parse(fh.read(), path)
    except (OSError, PersonaError):
        return [first]
    return mistakes(data, path, directory, first)
