"""The cast a request sees: the personas folder with the run-time layer on top.

Three sources, as ``GET /_control/personas`` names them:

- ``built-in``: a persona of the built-in folder (the package's own cast);
- ``folder``: a persona of a folder given with ``--personas`` / ``MOCKPROVIDER_PERSONAS``;
- ``run-time``: put over the control API (``PUT /_control/personas/{nhs_number}``); it wins over
  a folder persona with the same NHS number until it is deleted or the server is reset.

The layer itself lives in the shared control store (:class:`mockprovider.domain.control.ControlStore`)
as JSON text, so every worker sees a change at once. Each process keeps its own merged
:class:`~mockprovider.domain.personas.PersonaStore` and rebuilds it only when the store's
``personas_version`` moves: the hot path compares one integer. A layer entry is parsed and
validated once per process and text (the Persona object is kept while its text is unchanged, so
caches keyed by persona stay warm for the personas that did not change).

``POST /_control/personas/reload`` makes every worker re-read the folder (a bad folder keeps the
cast it had); ``POST /_control/reset`` puts back the cast loaded at start-up.
"""
from __future__ import annotations

import json
import logging
import os
import threading

from .personas import LOAD_HOOKS, Persona, PersonaError, PersonaStore, validate

log = logging.getLogger("mockprovider")

BUILT_IN, FOLDER, RUN_TIME = "built-in", "folder", "run-time"


def runtime_label(nhs_number: str) -> str:
    """What a run-time persona's errors name as their 'file'."""
    return f"/_control/personas/{nhs_number}"


def persona_from_text(nhs_number: str, text: str, directory: str) -> Persona:
    """A layer entry -> Persona (raises PersonaError; the control API checked it before storing)."""
    raw = text.encode("utf-8")
    data = json.loads(raw)
    return validate(data, runtime_label(nhs_number), directory, raw)


class LayeredCast:
    """One process's view of the cast; :meth:`sync` brings it up to a layer version."""

    def __init__(self, startup: PersonaStore, control, builtin: bool):
        self.startup = startup
        self.directory = startup.directory
        self.control = control
        self.folder_source = BUILT_IN if builtin else FOLDER
        self.version = 0                     # the layer version this process has applied
        self.folder = startup                # the folder as last (re)loaded
        self.folder_generation = 0
        self.store = startup                 # folder + layer: what requests see
        self.runtime_numbers: frozenset = frozenset()
        self._parsed: dict = {}              # nhs -> (text, Persona): parse a layer entry once
        self._lock = threading.Lock()
        self._descriptions: dict = {}        # id(persona) -> (persona, description), read once

    def source(self, nhs_number: str) -> str:
        return RUN_TIME if nhs_number in self.runtime_numbers else self.folder_source

    def sync(self, version: int) -> bool:
        """Apply the store's layer if its version is not the one applied; True when the cast changed."""
        if version == self.version:
            return False
        with self._lock:
            if version == self.version:
                return False
            layer = self.control.persona_layer()
            if layer.version == self.version:
                return False
            self._apply(layer)
            return True

    def _apply(self, layer) -> None:
        previous = self.store
        folder_changed = layer.folder_generation != self.folder_generation
        if folder_changed:
            if layer.folder_generation == 0:
                self.folder = self.startup
            else:
                try:
                    self.folder = PersonaStore.load(self.directory)
                except PersonaError as exc:   # the reload call checked it; it changed since
                    log.error("personas reload: keeping the cast this worker had: %s", exc)
            self.folder_generation = layer.folder_generation
        personas = dict(self.folder.by_nhs_number)
        parsed = {}
        for number, text in sorted(layer.entries.items()):
            if text is None:
                personas.pop(number, None)
                continue
            kept = self._parsed.get(number)
            if kept is not None and kept[0] == text:
                persona = kept[1]
            else:
                try:
                    persona = persona_from_text(number, text, self.directory)
                except (PersonaError, ValueError) as exc:
                    log.error("run-time persona %s cannot be served: %s", number, exc)
                    continue
            parsed[number] = (text, persona)
            personas[number] = persona
        store = PersonaStore(personas, self.directory)
        changed = [n for n in previous.by_nhs_number.keys() | personas.keys()
                   if previous.by_nhs_number.get(n) is not personas.get(n)]
        for hook in LOAD_HOOKS:
            # A hook with an ``update(old_store, store, changed)`` form (the document index) redoes
            # only the changed personas; a reloaded folder is indexed again in full.
            update = getattr(hook, "update", None)
            if update is not None and not folder_changed:
                update(previous, store, changed)
            else:
                hook(store)
        self._parsed = parsed
        self.runtime_numbers = frozenset(parsed)
        self.store = store
        self.version = layer.version

    def rows(self) -> list[dict]:
        """``GET /_control/personas``: every persona of the cast, by NHS number."""
        return self.rows_for(sorted(self.store.by_nhs_number))

    def rows_for(self, numbers) -> list[dict]:
        out = []
        for number in numbers:
            persona = self.store.get(number)
            if persona is None:
                continue
            run_time = number in self.runtime_numbers
            out.append({
                "nhs_number": number,
                "name": persona.name,
                "tags": list(persona.tags),
                "description": self._description(persona),
                "source": RUN_TIME if run_time else self.folder_source,
                "file": None if run_time else os.path.basename(persona.file),
            })
        return out

    def _description(self, persona: Persona) -> str | None:
        key = id(persona)
        kept = self._descriptions.get(key)
        if kept is None or kept[0] is not persona:
            kept = self._descriptions[key] = (persona, description(persona))
        return kept[1]


def description(persona: Persona, data: dict | None = None) -> str | None:
    """The persona's ``description``, read without keeping a large dropped persona parsed."""
    if data is None:
        data = persona._data
    if data is None and persona._raw is not None:
        data = json.loads(persona._raw)
    if data is None:
        data = persona.data
    value = data.get("description")
    return value if isinstance(value, str) else None
