"""The persona file format's shared parts: patterns, errors, the checker, the tag vocabulary.

The lowest module of the persona code: it imports nothing else of mockprovider. The loader
(:mod:`.persona`), the store (:mod:`.store`), the section validators (:mod:`.admin`,
:mod:`.documents`, :mod:`mockprovider.record`) and the generator (:mod:`.generate`) all build on it,
so no persona module imports another in a circle.

Tags are **derived from the data** (:func:`derive_tags`), so they cannot lie. A file may also
declare ``tags``; every declared tag must be in :data:`TAGS` and must agree with the data, otherwise
loading fails. Declared tags are documentation; the derived set is what ``personas list`` shows.
"""
from __future__ import annotations

import datetime
import json
import os
import re

# Patterns shared by every persona section (record, documents): one definition each.
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
DATE_OR_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?\Z")
ODS_RE = re.compile(r"^[A-Z0-9]{3,10}\Z")
SDS_RE = re.compile(r"^[A-Za-z0-9]{1,20}\Z")
CODE_RE = re.compile(r"^\d{6,18}\|\S.*\Z")      # "<SNOMED code>|<display>"
GENDERS = ("male", "female", "other", "unknown")
NHS_NUMBER_STATUSES = ("01", "02", "03", "04", "05", "06", "07", "08")

MIB = 1024 * 1024
# Thresholds behind the size tags: the default retrieve limit (5 MiB) of mockprovider.config, what
# counts as a large document, "many" documents, a "large" record.
RETRIEVE_LIMIT_BYTES = 5 * MIB
LARGE_DOCUMENT_BYTES = 4 * MIB
MANY_DOCUMENTS = 100
LARGE_RECORD_BYTES = 1 * MIB

# The fixed tag vocabulary (a public contract: `personas list --json` prints these) and what makes
# the data carry each tag.
TAGS = {
    "full-record": "every clinical area of the record has at least one item",
    "no-documents": "no documents",
    "sensitive": "PDS sensitive flag set (pds.sensitive)",
    "dissent": "patient dissented from sharing (pds.dissent)",
    "deceased": "has a date of death (deceased)",
    "unverified-nhs-number": "nhs_number_status is not 01 (Number present and verified)",
    "registered-elsewhere": "PDS names a registered practice (pds.registered_practice_ods): only a "
                            "request from that practice passes the relationship check",
    "confidential-items": "at least one record item or document is marked confidential",
    "large-document": "a document of 4 MiB up to the retrieve limit (5 MiB): large, still retrievable",
    "oversized-document": "a document over the retrieve limit (5 MiB): retrieve answers 404, migrate serves it",
    "many-documents": f"at least {MANY_DOCUMENTS} documents",
    "large-record": f"generated_record (made from a seed at first use), a heavy supplier_record, or a "
                    f"record section over {LARGE_RECORD_BYTES // MIB} MiB of JSON",
    "gp2gp-edge-case": "an edge case the NHS GP2GP adaptor cannot map (a test result whose value is a document: "
                       "valueAttachment): not GP2GP-safe, for testing a consumer's own handling",
}


class PersonaError(ValueError):
    """A persona file is wrong: names the file, the JSON path and the reason."""

    def __init__(self, file, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")

    def __reduce__(self):           # pickles (a forked child sends it back: mockprovider.process.offload)
        return type(self), (self.file, self.path, self.reason)


_ALLOWED: dict = {}


class Checker:
    """Small helpers that raise PersonaError with the JSON path of the bad value."""

    def __init__(self, file):
        self.file = file

    def fail(self, path, reason):
        raise PersonaError(self.file, path, reason)

    def obj(self, value, path, required=(), optional=()):
        if type(value) is not dict:
            self.fail(path, f"must be a JSON object, not {kind_of(value)}")
        for key in required:
            if key not in value:
                self.fail(f"{path}.{key}", "is required")
        allowed = _ALLOWED.get((required, optional))
        if allowed is None:                       # hot path at start-up: one frozenset per shape
            allowed = _ALLOWED[(required, optional)] = frozenset((*required, *optional))
        if not value.keys() <= allowed:
            unknown = sorted(set(value) - allowed)
            self.fail(f"{path}.{unknown[0]}", f"is not a known field (known: {', '.join(sorted(allowed))})")
        return value

    def string(self, value, path, pattern=None, choices=None, nullable=False):
        if type(value) is not str or not value:
            if value is None and nullable:
                return value
            if isinstance(value, str):
                self.fail(path, "must not be empty")
            self.fail(path, f"must be a non-empty string, not {kind_of(value)}")
        if pattern is not None and not pattern.match(value):
            self.fail(path, f"{value!r} has the wrong format")
        if choices is not None and value not in choices:
            self.fail(path, f"{value!r} must be one of {', '.join(choices)}")
        return value

    def date(self, value, path, nullable=False):
        if value is None and nullable:
            return value
        self.string(value, path)
        try:
            if not DATE_RE.match(value):
                raise ValueError
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.fail(path, f"{value!r} is not a date (YYYY-MM-DD)")

    def boolean(self, value, path):
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {kind_of(value)}")
        return value

    def integer(self, value, path, minimum=0):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"must be a whole number >= {minimum}")
        return value

    def array(self, value, path):
        if type(value) is not list:
            self.fail(path, f"must be a JSON array, not {kind_of(value)}")
        return value

    def strings(self, value, path):
        for i, item in enumerate(self.array(value, path)):
            self.string(item, f"{path}[{i}]")
        return value


def kind_of(value) -> str:
    """What a JSON value is, in the words every persona mistake uses ("a string", "an array", …)."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


# Sections validated by other modules register here: name -> function(checker, value, path, persona_dir).
SECTION_VALIDATORS: dict = {}
# Checks across sections, run after every section validator: function(checker, data).
PERSONA_CHECKS: list = []
# Called with the PersonaStore once every persona is loaded (e.g. to build an index): function(store).
LOAD_HOOKS: list = []

# --- derived tags -----------------------------------------------------------------------------------

def _has_confidential(value) -> bool:
    """True when any object inside ``value`` says ``"confidential": true``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("confidential") is True:
                return True
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return False


def _document_size(doc, persona_dir) -> int:
    """A document's size in bytes without reading it: ``generate.size``, or the shipped file's size
    (the documents section's format: mockprovider.personas.documents); 0 when unknown."""
    if not isinstance(doc, dict):
        return 0
    generated = doc.get("generate")
    if isinstance(generated, dict):
        size = generated.get("size")
        return size if isinstance(size, int) and not isinstance(size, bool) else 0
    name = doc.get("file")
    if isinstance(name, str) and persona_dir is not None:
        try:
            return os.stat(os.path.join(persona_dir, name)).st_size
        except OSError:
            return 0
    return 0


# The clinical areas of the record section (its format and checks belong to mockprovider.record, one module an area).
CLINICAL_AREAS = ("problems", "allergies", "medications", "immunisations", "observations", "investigations",
                  "referrals", "diary", "consultations")


_CONFIDENTIAL_RE = re.compile(rb'"confidential"\s*:\s*true')
_DOCUMENT_VALUE_RE = re.compile(rb'"document"\s*:')


def _has_document_value(record) -> bool:
    """A test result whose value is a persona document (mockprovider.record.investigations)."""
    if not isinstance(record, dict) or not isinstance(record.get("investigations"), list):
        return False
    return any(isinstance(res, dict) and "document" in res
               for inv in record["investigations"] if isinstance(inv, dict)
               for part in [inv, *(g for g in inv.get("groups") or [] if isinstance(g, dict))]
               for res in (part.get("results") or [] if isinstance(part.get("results"), list) else []))


def derive_tags(data: dict, persona_dir=None, raw: bytes | None = None) -> list:
    """The persona's tags, from its data, in vocabulary order (``raw``: the file's bytes, a shortcut)."""
    pds = data.get("pds") or {}
    record = data.get("record")
    documents = data.get("documents") or []
    found = set()
    if isinstance(record, dict) and all(record.get(area) for area in CLINICAL_AREAS):
        found.add("full-record")
    if not documents:
        found.add("no-documents")
    if pds.get("sensitive") is True:
        found.add("sensitive")
    if pds.get("dissent") is True:
        found.add("dissent")
    if data.get("deceased"):
        found.add("deceased")
    if data.get("nhs_number_status", "01") != "01":
        found.add("unverified-nhs-number")
    if pds.get("registered_practice_ods"):
        found.add("registered-elsewhere")
    if raw is not None:
        # Fast path: an object key "confidential" set to true can only be that text in the file
        # (inside a JSON string the quotes would be escaped).
        confidential = _CONFIDENTIAL_RE.search(raw) is not None and (
            _has_confidential(record) or _has_confidential(documents))
    else:
        confidential = _has_confidential(record) or _has_confidential(documents)
    fhir_record = data.get("fhir_record")
    if isinstance(fhir_record, dict) and fhir_record.get("confidential"):
        confidential = True           # resources the imported Bundle marks confidential
    supplier = data.get("supplier_record")
    if isinstance(supplier, dict):
        # mockprovider.fhir.suppliers fills every clinical area and marks some items confidential
        found.add("full-record")
        confidential = True
        if supplier.get("volume") == "heavy":
            found.add("large-record")
    if confidential:
        found.add("confidential-items")
    if isinstance(documents, list):
        sizes = [_document_size(doc, persona_dir) for doc in documents]
        if any(LARGE_DOCUMENT_BYTES <= size <= RETRIEVE_LIMIT_BYTES for size in sizes):
            found.add("large-document")
        if any(size > RETRIEVE_LIMIT_BYTES for size in sizes):
            found.add("oversized-document")
        if len(documents) >= MANY_DOCUMENTS:
            found.add("many-documents")
    if isinstance(data.get("generated_record"), dict):
        # mockprovider.personas.generate.large_record fills every clinical area
        found.update(("full-record", "large-record"))
    if isinstance(record, dict) and (raw is None or len(raw) > LARGE_RECORD_BYTES) \
            and _json_size(record) > LARGE_RECORD_BYTES:
        found.add("large-record")
    if (raw is None or _DOCUMENT_VALUE_RE.search(raw)) and _has_document_value(record):
        found.add("gp2gp-edge-case")
    return [tag for tag in TAGS if tag in found]


def _json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")))
