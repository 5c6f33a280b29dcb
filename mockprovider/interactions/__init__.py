"""One module per interaction: decide the answer from a :class:`Call`; no Flask.

Each module exposes ``handle(call: Call) -> Reply``. The HTTP layer builds the Call after the gate
passed, and turns the Reply into a response.

Imports: ``fhir``, ``record``, ``personas``, ``registry``, ``process``, ``spec``, ``errors``,
``config``; never ``state`` (the live flags reach an interaction in its :class:`Call`), ``http``,
``app``, ``cli`` or ``server``, and never Flask.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class Call:
    interaction: str            # short name, e.g. "migrate_structured"
    params: dict                # path parameters, e.g. {"document_id": "..."}
    query: list                 # [(name, value), ...] in request order, _format removed
    body: bytes
    claims: Any                 # mockprovider.http.bearer.Claims
    trace_id: str
    from_asid: str | None
    flags: Any                  # mockprovider.state.control.Flags (live run-time flags)
    runtime: Any                # mockprovider.app.Runtime: settings, personas, caches
    root_kind: str              # structured | documents | all (which service root was used)
    service_base: str           # absolute URL of the service root the request used
    documents_base: str         # absolute URL of the documents root (for attachment URLs)
    format: str = "json"        # the answer's format: json | xml (the gate negotiated it)
    body_format: str = "json"   # the request body's format: json | xml (its Content-Type)
    practice: Any = None        # the registry's Practice the path names (None: the default practice)

    @property
    def ods(self) -> str:
        """The practice the request is for (its ODS code)."""
        return self.practice.ods if self.practice is not None else self.runtime.settings.ods_code

    def at_practice(self, persona) -> bool:
        """Whether ``persona`` is a patient of the practice the request is for (its ``practice``, or the
        default practice when it names none)."""
        return persona is not None and (persona.practice or self.runtime.settings.ods_code) == self.ods


@dataclass
class Reply:
    body: bytes | Iterable[bytes]
    status: int = 200
    content_length: int | None = None      # required when body is an iterable
    headers: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)   # for the journal, e.g. {"nhs_number": ...}
