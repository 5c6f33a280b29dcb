"""One persona file: parse, validate, and the :class:`Persona` it becomes.

The format is documented in docs/personas/format.md. :func:`validate` checks the top-level fields and
runs every registered section validator (:data:`.format.SECTION_VALIDATORS`); the first
mistake raises :class:`PersonaError` naming the file, the JSON path and the reason.

Start-up stays fast and small with many personas: each file is parsed and validated once, then only
a small summary (NHS number, name, flags, tags) and the file's raw bytes are kept. The full dict is
parsed again on first use of :attr:`Persona.data` (and kept); FHIR records are built lazily by the
FHIR layer, which caches them.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict

from .generate import large_record
from .supplier_records import record as supplier_record
from .format import (DATE_RE, GENDERS, NHS_NUMBER_STATUSES, ODS_RE, PERSONA_CHECKS, SECTION_VALIDATORS,  # noqa: F401
                     TAGS, Checker, PersonaError, derive_tags, kind_of)

TOP_REQUIRED = ("nhs_number", "name", "gender", "birth_date")
TOP_OPTIONAL = ("$schema", "description", "tags", "nhs_number_status", "pds", "deceased", "active", "address",
                "telecom", "usual_gp", "registration", "record", "generated_record", "documents",
                "fhir_record", "supplier_record", "practice")
# PDS-only facts a persona may carry (docs/lookups.md "PDS"): what PDS answers, not the provider.
PDS_FIELDS = ("sensitive", "dissent", "registered_practice_ods", "on_pds", "invalidated", "superseded_by",
              "no_current_gp")
# A persona's record comes from one of these sections (fhir_record / supplier_record: FHIR as a
# supplier sends it, mockprovider.personas.fhir_record).
RECORD_SECTIONS = ("record", "generated_record", "fhir_record", "supplier_record")
GENERATED_RECORD_MAX_VISITS = 20_000
NHS_NUMBER_RE = re.compile(r"^\d{10}\Z")


# --- validation ---------------------------------------------------------------------------------------

def validate(data, file, persona_dir, raw: bytes | None = None) -> "Persona":
    """Check one persona's dict; return the Persona or raise PersonaError (file, JSON path, reason)
    at the first mistake: the loader's fast pass over the persona contract. Every surface that
    reports mistakes goes through :func:`mockprovider.personas.contract.check`, which
    lists every one in the contract's words; the rules across fields run here from
    :data:`PERSONA_CHECKS` (registered by the contract).

    Section validators (:data:`SECTION_VALIDATORS`) must not change the data: a loaded persona keeps
    only its file's bytes and parses them again when its data is first needed.
    """
    c = Checker(file)
    c.obj(data, "$", TOP_REQUIRED, TOP_OPTIONAL)
    number = data["nhs_number"]
    if not isinstance(number, str):
        c.fail("$.nhs_number", f"must be a string of 10 digits, not {kind_of(number)}")
    if not NHS_NUMBER_RE.match(number):
        c.fail("$.nhs_number", f"{number!r} is not a valid NHS number (10 digits, Mod-11 check digit)")
    if "$schema" in data:
        c.string(data["$schema"], "$.$schema")
    if "description" in data:
        c.string(data["description"], "$.description")
    name = c.obj(data["name"], "$.name", ("family",), ("given", "prefix", "suffix", "text"))
    c.string(name["family"], "$.name.family")
    for part in ("given", "prefix", "suffix"):
        if part in name:
            c.strings(name[part], f"$.name.{part}")
    if "text" in name:
        c.string(name["text"], "$.name.text")
    c.string(data["gender"], "$.gender", choices=GENDERS)
    c.date(data["birth_date"], "$.birth_date")
    if data.get("deceased") is not None:
        c.date(data["deceased"], "$.deceased")
    if "active" in data:
        c.boolean(data["active"], "$.active")
    if "nhs_number_status" in data:
        c.string(data["nhs_number_status"], "$.nhs_number_status", choices=NHS_NUMBER_STATUSES)
    if "practice" in data:
        c.string(data["practice"], "$.practice", ODS_RE)
    if "pds" in data:
        pds = c.obj(data["pds"], "$.pds", (), PDS_FIELDS)
        for flag in ("sensitive", "dissent", "on_pds", "invalidated", "no_current_gp"):
            if flag in pds:
                c.boolean(pds[flag], f"$.pds.{flag}")
        if "registered_practice_ods" in pds:
            c.string(pds["registered_practice_ods"], "$.pds.registered_practice_ods", ODS_RE, nullable=True)
        if "superseded_by" in pds:
            c.string(pds["superseded_by"], "$.pds.superseded_by")
    if "generated_record" in data:
        spec = c.obj(data["generated_record"], "$.generated_record", ("seed", "visits"))
        seed = spec["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (str, int)) or seed == "":
            c.fail("$.generated_record.seed", "must be a non-empty string or a whole number")
        c.integer(spec["visits"], "$.generated_record.visits", minimum=1)
        if spec["visits"] > GENERATED_RECORD_MAX_VISITS:
            c.fail("$.generated_record.visits", f"must be at most {GENERATED_RECORD_MAX_VISITS}")
    if "tags" in data:
        for i, tag in enumerate(c.array(data["tags"], "$.tags")):
            c.string(tag, f"$.tags[{i}]", choices=tuple(TAGS))
    for section, validator in SECTION_VALIDATORS.items():
        if section in data:
            try:
                validator(c, data[section], f"$.{section}", persona_dir)
            except PersonaError:
                raise
            except Exception as exc:   # a validator tripped over an unexpected shape: still say where
                c.fail(f"$.{section}", f"could not be read ({type(exc).__name__}: {exc})")
    tags = derive_tags(data, persona_dir, raw)
    for check in PERSONA_CHECKS:        # the rules across fields (mockprovider.personas.contract)
        check(c, data, persona_dir, tags)
    return Persona(str(file), data, tags=tags)


def _no_duplicate_keys(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in one object")
            seen.add(key)
    return result


def parse(raw: bytes, file) -> dict:
    """Raw file bytes -> dict, or PersonaError at "$" saying why it is not JSON."""
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise PersonaError(file, "$", f"is not valid JSON: {exc.msg} (line {exc.lineno}, "
                                      f"column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise PersonaError(file, "$", f"is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        raise PersonaError(file, "$", f"is not valid JSON: {exc}") from None


def load_file(path, persona_dir=None) -> "Persona":
    """Read, parse and validate one persona file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise PersonaError(path, "$", f"cannot be read: {exc.strerror}") from None
    persona = validate(parse(raw, path), path, persona_dir if persona_dir is not None else os.path.dirname(path),
                       raw)
    persona.forget(raw)
    return persona


# --- the persona and the store ------------------------------------------------------------------------

_DATA_LOCK = threading.Lock()
# Records made from a seed (generated_record, supplier_record) kept at once: a heavy one is a couple of MB of
# dicts; the serialised Bundles are cached apart (mockprovider.interactions.migrate_structured), so 10,000
# seeded personas requested one after the other never hold 10,000 records.
SEEDED_RECORDS_KEPT = 32
_SEEDED: "OrderedDict[int, Persona]" = OrderedDict()


# A persona whose file is larger than this never keeps its parsed dict: ``data`` parses the bytes
# on each use (only the record builders use it; their Bundles are cached), ``head`` serves the rest.
# A parsed dict costs about ten times its JSON, so a 50 MB imported record would otherwise hold
# ~500 MB in every worker for as long as it is served (issue #28).
KEEP_PARSED_BYTES = 1024 * 1024


class Persona:
    """One validated patient.

    - ``data``: the file's dict with its record; a record made from a seed (``generated_record``,
      ``supplier_record``) is made on first use and kept while it is among the
      :data:`SEEDED_RECORDS_KEPT` last made;
    - ``stored()``: the file's dict as it says, without making a seed's record (parsed again lazily
      when it was dropped; never kept for a file over :data:`KEEP_PARSED_BYTES`);
    - ``head``: that dict without its record section (demographics, PDS facts, documents, usual GP:
      small, always kept), what every interaction but the record builders reads."""

    __slots__ = ("file", "nhs_number", "tags", "documents", "_head", "_data", "_raw", "_summary", "_expanded")

    def __init__(self, file: str, data: dict, tags: list | None = None):
        self.file = file
        self.nhs_number = data["nhs_number"]
        self.tags = list(tags) if tags is not None else derive_tags(data, os.path.dirname(file))
        self._data = data
        self._raw = None
        self._head = None
        self._expanded = None
        # Kept even when data is dropped, so a document index built at load parses nothing.
        self.documents = data.get("documents") or []
        pds = data.get("pds") or {}
        description = data.get("description")
        self._summary = (name_text(data.get("name") or {}), pds.get("registered_practice_ods"),
                         bool(pds.get("sensitive")), bool(pds.get("dissent")),
                         description if isinstance(description, str) else None, data.get("practice"),
                         pds.get("superseded_by"))

    @classmethod
    def from_parts(cls, raw: bytes, parts: tuple) -> "Persona":
        """A large persona rebuilt from :meth:`parts` (made where it was parsed: a forked child,
        mockprovider.process.offload) and its bytes, without parsing them here."""
        persona = cls.__new__(cls)
        persona.file, persona.nhs_number, persona.tags, persona.documents, persona._head, persona._summary = parts
        persona._data, persona._raw, persona._expanded = None, raw, None
        return persona

    def parts(self) -> tuple:
        """What :meth:`from_parts` needs: everything but the record and the bytes (small)."""
        head = self._head if self._head is not None else \
            {key: value for key, value in self.stored().items() if key not in RECORD_SECTIONS}
        return (self.file, self.nhs_number, self.tags, self.documents, head, self._summary)

    @property
    def size(self) -> int:
        """The persona's bytes when it keeps them (a dropped file's), else 0."""
        return len(self._raw) if self._raw is not None else 0

    def forget(self, raw: bytes):
        """Keep only the raw bytes; ``data`` parses them again on first use (saves memory at scale).
        A large file keeps its head (everything but the record section) parsed, for the interactions."""
        if len(raw) > KEEP_PARSED_BYTES and self._data is not None:
            self._head = {key: value for key, value in self._data.items() if key not in RECORD_SECTIONS}
        self._raw, self._data = raw, None

    @property
    def head(self) -> dict:
        """The persona without its record section needed: what the interactions read (PDS facts,
        demographics, usual GP). The whole stored dict for a small persona (parsed once and kept)."""
        head = self._head
        return head if head is not None else self.stored()

    @property
    def data(self) -> dict:
        """The persona's dict with its record (see the class docstring)."""
        data = self.stored()
        if "record" in data or not ("generated_record" in data or "supplier_record" in data):
            return data
        expanded = self._expanded
        if expanded is not None:
            return expanded
        with _DATA_LOCK:      # first use: expand once, even with threaded workers
            if self._expanded is None:
                if "generated_record" in data:
                    # A large record is made from its seed on first use, never at start-up (the tests
                    # check that what the generator makes passes the record validator).
                    spec = data["generated_record"]
                    record = large_record(spec["seed"], spec["visits"], data.get("birth_date"),
                                          data.get("gender", "unknown"))
                else:
                    # A supplier-styled record too: an ordinary record (record.style set) that
                    # mockprovider.record renders like any other.
                    record = supplier_record(data)
                self._expanded = {**data, "record": record}
                _SEEDED[id(self)] = self
                while len(_SEEDED) > SEEDED_RECORDS_KEPT:
                    _, oldest = _SEEDED.popitem(last=False)
                    oldest._expanded = None
            return self._expanded

    def stored(self) -> dict:
        """The persona as its file says it, without making a record from a seed (what start-up reads:
        the document index must not make 10,000 records). A file over :data:`KEEP_PARSED_BYTES` is
        parsed for this use only, never kept (a parsed dict costs about ten times its JSON)."""
        data = self._data
        if data is not None:
            return data
        raw = self._raw
        if raw is not None and len(raw) > KEEP_PARSED_BYTES:
            return json.loads(raw)
        with _DATA_LOCK:
            if self._data is None:
                self._data, self._raw = json.loads(self._raw), None
            return self._data

    @property
    def demographics(self) -> dict:
        """The file's data without making a generated record (``data`` makes it on first use): what
        PDS reads (name, gender, dates, address, telecom, pds), cheap for any persona."""
        head = self._head
        if head is not None:
            return head
        with _DATA_LOCK:
            data, raw = self._data, self._raw
        return data if data is not None else json.loads(raw)

    @property
    def name(self) -> str:
        return self._summary[0]

    @property
    def registered_practice_ods(self):
        return self._summary[1]

    @property
    def sensitive(self) -> bool:
        return self._summary[2]

    @property
    def dissent(self) -> bool:
        return self._summary[3]

    @property
    def description(self) -> str | None:
        return self._summary[4]

    @property
    def practice(self):
        """The home practice's ODS code as the file gives it (None: the registry's default practice;
        mockprovider.registry.practices.Registry.home_of)."""
        return self._summary[5]

    @property
    def superseded_by(self):
        """The NHS number of the record PDS retained instead of this one (``pds.superseded_by``)."""
        return self._summary[6]

    @property
    def pds(self) -> dict:
        return self.head.get("pds", {})

    def summary(self) -> dict:
        """What ``personas list --json`` prints for this persona."""
        return {"nhs_number": self.nhs_number, "name": self.name,
                "registered_practice_ods": self.registered_practice_ods, "tags": list(self.tags),
                "file": os.path.basename(self.file)}

    def __repr__(self):
        return f"Persona({self.nhs_number}, {self.name!r}, tags={self.tags})"


def name_text(name: dict) -> str:
    """A display name: "text" when given, else prefix given family."""
    if name.get("text"):
        return name["text"]
    parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
    return " ".join(p for p in parts if p)
