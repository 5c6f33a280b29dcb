"""Personas: one JSON file a patient, loaded and validated at start-up, indexed by NHS number.

The format is documented in personas/README.md. Loading checks every file and fails loudly:
:class:`PersonaError` names the file, the JSON path and the reason; no partial cast is ever served
(the first bad file stops the load; ``mockprovider personas validate`` lists every bad file).

Start-up stays fast and small with many personas: each file is parsed and validated once, then only
a small summary (NHS number, name, flags, tags) and the file's raw bytes are kept. The full dict is
parsed again on first use of :attr:`Persona.data` (and kept); FHIR records are built lazily by the
FHIR layer, which caches them.

Tags are **derived from the data** (:func:`derive_tags`), so they cannot lie. A file may also
declare ``tags``; every declared tag must be in :data:`TAGS` and must agree with the data, otherwise
loading fails. Declared tags are documentation; the derived set is what ``personas list`` shows.
"""
from __future__ import annotations

import datetime
import gc
import json
import os
import re
import threading

from . import nhs_number

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
    "large-record": f"generated_record (made from a seed at first use), or a record section over "
                    f"{LARGE_RECORD_BYTES // MIB} MiB of JSON",
}


class PersonaError(ValueError):
    """A persona file is wrong: names the file, the JSON path and the reason."""

    def __init__(self, file, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")


_ALLOWED: dict = {}


class Checker:
    """Small helpers that raise PersonaError with the JSON path of the bad value."""

    def __init__(self, file):
        self.file = file

    def fail(self, path, reason):
        raise PersonaError(self.file, path, reason)

    def obj(self, value, path, required=(), optional=()):
        if type(value) is not dict:
            self.fail(path, f"must be a JSON object, not {_kind(value)}")
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
            self.fail(path, f"must be a non-empty string, not {_kind(value)}")
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
            self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, value, path, minimum=0):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"must be a whole number >= {minimum}")
        return value

    def array(self, value, path):
        if type(value) is not list:
            self.fail(path, f"must be a JSON array, not {_kind(value)}")
        return value

    def strings(self, value, path):
        for i, item in enumerate(self.array(value, path)):
            self.string(item, f"{path}[{i}]")
        return value


def _kind(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


# Sections validated by other modules register here: name -> function(checker, value, path, persona_dir).
SECTION_VALIDATORS: dict = {}
# Called with the PersonaStore once every persona is loaded (e.g. to build an index): function(store).
LOAD_HOOKS: list = []

TOP_REQUIRED = ("nhs_number", "name", "gender", "birth_date")
TOP_OPTIONAL = ("description", "tags", "nhs_number_status", "pds", "deceased", "active", "address",
                "telecom", "usual_gp", "registration", "record", "generated_record", "documents")
GENERATED_RECORD_MAX_VISITS = 20_000


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
    (the documents section's format: mockprovider.domain.documents); 0 when unknown."""
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


# The clinical areas of the record section (its format belongs to mockprovider.domain.persona_record).
CLINICAL_AREAS = ("problems", "allergies", "medications", "immunisations", "observations", "investigations",
                  "referrals", "diary", "consultations")


_CONFIDENTIAL_RE = re.compile(rb'"confidential"\s*:\s*true')


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
        # mockprovider.domain.generate.large_record fills every clinical area
        found.update(("full-record", "large-record"))
    if isinstance(record, dict) and (raw is None or len(raw) > LARGE_RECORD_BYTES) \
            and _json_size(record) > LARGE_RECORD_BYTES:
        found.add("large-record")
    return [tag for tag in TAGS if tag in found]


def _json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")))


# --- validation ---------------------------------------------------------------------------------------

def validate(data, file, persona_dir, raw: bytes | None = None) -> "Persona":
    """Check one persona's dict; return the Persona or raise PersonaError (file, JSON path, reason).

    Section validators (:data:`SECTION_VALIDATORS`) must not change the data: a loaded persona keeps
    only its file's bytes and parses them again when its data is first needed.
    """
    c = Checker(file)
    c.obj(data, "$", TOP_REQUIRED, TOP_OPTIONAL)
    number = data["nhs_number"]
    if not isinstance(number, str):
        c.fail("$.nhs_number", f"must be a string of 10 digits, not {_kind(number)}")
    if not nhs_number.is_valid(number):
        c.fail("$.nhs_number", f"{number!r} is not a valid NHS number (10 digits, Mod-11 check digit)")
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
    born = c.date(data["birth_date"], "$.birth_date")
    if data.get("deceased") is not None:
        died = c.date(data["deceased"], "$.deceased")
        if died < born:
            c.fail("$.deceased", f"{data['deceased']} is before the birth date {data['birth_date']}")
    if "active" in data:
        c.boolean(data["active"], "$.active")
    if "nhs_number_status" in data:
        c.string(data["nhs_number_status"], "$.nhs_number_status", choices=NHS_NUMBER_STATUSES)
    if "pds" in data:
        pds = c.obj(data["pds"], "$.pds", (), ("sensitive", "dissent", "registered_practice_ods"))
        for flag in ("sensitive", "dissent"):
            if flag in pds:
                c.boolean(pds[flag], f"$.pds.{flag}")
        if "registered_practice_ods" in pds:
            c.string(pds["registered_practice_ods"], "$.pds.registered_practice_ods", ODS_RE, nullable=True)
    if "generated_record" in data:
        spec = c.obj(data["generated_record"], "$.generated_record", ("seed", "visits"))
        seed = spec["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (str, int)) or seed == "":
            c.fail("$.generated_record.seed", "must be a non-empty string or a whole number")
        c.integer(spec["visits"], "$.generated_record.visits", minimum=1)
        if spec["visits"] > GENERATED_RECORD_MAX_VISITS:
            c.fail("$.generated_record.visits", f"must be at most {GENERATED_RECORD_MAX_VISITS}")
        if "record" in data:
            c.fail("$.generated_record", "a persona has either record or generated_record, not both")
    for section, validator in SECTION_VALIDATORS.items():
        if section in data:
            try:
                validator(c, data[section], f"$.{section}", persona_dir)
            except PersonaError:
                raise
            except Exception as exc:   # a validator tripped over an unexpected shape: still say where
                c.fail(f"$.{section}", f"could not be read ({type(exc).__name__}: {exc})")
    tags = derive_tags(data, persona_dir, raw)
    if "tags" in data:
        for i, tag in enumerate(c.array(data["tags"], "$.tags")):
            c.string(tag, f"$.tags[{i}]")
            if tag not in TAGS:
                c.fail(f"$.tags[{i}]", f"{tag!r} is not a known tag (known: {', '.join(TAGS)})")
            if tag not in tags:
                c.fail(f"$.tags[{i}]", f"{tag!r} is declared but the data does not show it "
                                       f"({TAGS[tag]}); the data gives: {', '.join(tags) or 'no tags'}")
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


class Persona:
    """One validated patient. ``data`` is the file's dict (parsed again lazily when it was dropped)."""

    __slots__ = ("file", "nhs_number", "tags", "documents", "_data", "_raw", "_summary")

    def __init__(self, file: str, data: dict, tags: list | None = None):
        self.file = file
        self.nhs_number = data["nhs_number"]
        self.tags = list(tags) if tags is not None else derive_tags(data, os.path.dirname(file))
        self._data = data
        self._raw = None
        # Kept even when data is dropped, so a document index built at load parses nothing.
        self.documents = data.get("documents") or []
        pds = data.get("pds") or {}
        self._summary = (name_text(data.get("name") or {}), pds.get("registered_practice_ods"),
                         bool(pds.get("sensitive")), bool(pds.get("dissent")))

    def forget(self, raw: bytes):
        """Keep only the raw bytes; ``data`` parses them again on first use (saves memory at scale)."""
        self._raw, self._data = raw, None

    @property
    def data(self) -> dict:
        data = self._data
        if data is not None and ("record" in data or "generated_record" not in data):
            return data
        with _DATA_LOCK:      # first use: parse (and expand) once, even with threaded workers
            data = self._data
            if data is None:
                data = json.loads(self._raw)
            if "generated_record" in data and "record" not in data:
                # A large record is made from its seed on first use, never at start-up (the tests
                # check that what the generator makes passes the record validator).
                from .generate import large_record
                spec = data["generated_record"]
                data["record"] = large_record(spec["seed"], spec["visits"])
            self._data, self._raw = data, None
        return data

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
    def pds(self) -> dict:
        return self.data.get("pds", {})

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


def persona_files(directory) -> list[str]:
    """The persona files of a folder: every ``*.json`` regular file at its top level, sorted by name."""
    if not os.path.isdir(directory):
        raise PersonaError(directory, "$", "personas folder does not exist")
    return [e.path for e in sorted(os.scandir(directory), key=lambda e: e.name)
            if e.name.endswith(".json") and e.is_file()]


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
        from .persona_pool import load_files   # a large folder is validated on every CPU
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
                errors.append(exc)
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
