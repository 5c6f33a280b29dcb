"""The cast a request sees: the personas folder with the run-time layer on top.

Three sources, as ``GET /_control/personas`` names them:

- ``built-in``: a persona of the built-in folder (the package's own cast);
- ``folder``: a persona of a folder given with ``--personas`` / ``MOCKPROVIDER_PERSONAS``;
- ``run-time``: put over the control API (``PUT /_control/personas/{nhs_number}``); it wins over
  a folder persona with the same NHS number until it is deleted or the server is reset.

The layer itself lives in the shared control store (:class:`mockprovider.state.control.ControlStore`)
as JSON text, so every worker sees a change at once. Each process keeps its own merged
:class:`~mockprovider.personas.store.PersonaStore` and rebuilds it only when the store's
``personas_version`` moves: the hot path compares one integer. A layer entry is parsed and
validated once per process and text (the Persona object is kept while its text is unchanged, so
caches keyed by persona stay warm for the personas that did not change).

``POST /_control/personas/reload`` makes every worker re-read the folder (a bad folder keeps the
cast it had); ``POST /_control/reset`` puts back the cast loaded at start-up.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading

from ..process import offload
from .store import LOAD_HOOKS, Persona, PersonaError, PersonaStore, validate

log = logging.getLogger("mockprovider")

BUILT_IN, FOLDER, RUN_TIME = "built-in", "folder", "run-time"


def runtime_label(nhs_number: str) -> str:
    """What a run-time persona's errors name as their 'file'."""
    return f"/_control/personas/{nhs_number}"


def persona_from_text(nhs_number: str, text, directory: str) -> Persona:
    """A layer entry (JSON text, as str or UTF-8 bytes) -> Persona (raises PersonaError; the control
    API checked it before storing). Like a folder persona it keeps its bytes, not its parsed dict:
    the very bytes the store gave when it gave bytes (the Redis store keeps its last layer for
    outages: one copy, not two). A large one is parsed and checked in a forked child
    (mockprovider.process.offload) and never parsed here."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    del text
    if len(raw) >= offload.OFFLOAD_FROM_BYTES:
        return Persona.from_parts(raw, offload.in_child(len(raw), _checked_parts, nhs_number, raw, directory))
    persona = validate(json.loads(raw), runtime_label(nhs_number), directory, raw)
    persona.forget(raw)
    return persona


def _checked_parts(nhs_number: str, raw: bytes, directory: str) -> tuple:
    persona = validate(json.loads(raw), runtime_label(nhs_number), directory, raw)
    persona.forget(raw)
    return persona.parts()


def _digest(text) -> bytes:
    """What tells a layer entry's text from another's, without keeping the text."""
    return hashlib.blake2b(text if isinstance(text, bytes) else text.encode("utf-8"), digest_size=16).digest()


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
        self._parsed: dict = {}              # nhs -> (digest of its text, Persona): parse a layer entry once
        self._lock = threading.Lock()

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
            digest = _digest(text)
            kept = self._parsed.get(number)
            if kept is not None and kept[0] == digest:
                persona = kept[1]
            else:
                try:
                    persona = persona_from_text(number, text, self.directory)
                except (PersonaError, ValueError) as exc:
                    log.error("run-time persona %s cannot be served: %s", number, exc)
                    continue
            parsed[number] = (digest, persona)
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
                "description": persona.description,
                "source": RUN_TIME if run_time else self.folder_source,
                "file": None if run_time else os.path.basename(persona.file),
            })
        return out
