"""Import a GP Connect structured Bundle (a supplier's or a consumer's fixture) as a persona.

Public surface (``mockprovider personas import`` and ``PUT /_control/personas/{nhs}`` call it)::

    import_bundle(bundle, *, nhs_number=None, documents_dir=None, source="<bundle>") -> dict
    BundleImportError(PersonaError)      .problems: [(JSON path, message), ...], every problem found
    write_imported(persona, out_dir, *, documents_dir=None, force=False) -> Path

The persona returned is plain JSON data that the persona loader accepts: the patient's
demographics at the top level (so the business rules see them) and a ``fhir_record`` section that
holds the Bundle's entries **as they came**. The mock serves those entries back with only the
documented rewrites (docs/personas/import.md):

1. ``Bundle.id`` is the request's Ssp-TraceID (every migrate response);
2. each ``DocumentReference.content[].attachment.url`` points at this mock's ``…/Binary/{id}``;
   the bytes come from ``documents_dir`` (a file named after the DocumentReference id or the
   attachment title, with or without an extension) or are generated deterministically to the
   declared ``attachment.size`` (with the declared contentType);
3. with ``nhs_number`` the Patient's NHS number identifier carries that number;
4. with ``includeSensitiveInformation=false`` the items the Bundle marks confidential are left out,
   and every List that listed one carries the ``confidential-items`` warning and note.

Confidential items are recognised by the markers a Bundle carries (the spec has no single one):
- ``meta.security`` (or, on a DocumentReference, ``securityLabel``) with a code of the HL7
  Confidentiality code system ``http://hl7.org/fhir/v3/Confidentiality``: ``R`` (restricted) or
  ``V`` (very restricted). ``NOPAT`` is not a confidentiality marker (the item is sent; the label
  travels with it).
- A Bundle made without sensitive items says so on its Lists (the ``confidential-items`` warning):
  such a Bundle is served as it came either way (the items are not in it).

No Flask and no file writes in :func:`import_bundle`; :func:`write_imported` writes atomically.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path

from . import ids, nhs_number as nhs
from .documents import GENERATED_CONTENT_TYPE, generated_sha256
from .store import DATE_OR_DATETIME_RE, DATE_RE, ODS_RE, PersonaError

STRUCTURED_BUNDLE_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CONFIDENTIALITY_SYSTEM = "http://hl7.org/fhir/v3/Confidentiality"
CONFIDENTIAL_CODES = ("R", "V")
LIST_WARNING_EXTENSION = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1"

# What a structured record holds (migrate-structured.md: clinical profiles and admin resources),
# plus OperationOutcome (a warning entry, as in the spec's forward-compatibility example).
RESOURCE_TYPES = frozenset((
    "Patient", "Organization", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Device",
    "List", "AllergyIntolerance", "Medication", "MedicationStatement", "MedicationRequest", "Immunization",
    "Observation", "Encounter", "Condition", "DiagnosticReport", "Specimen", "ProcedureRequest",
    "ReferralRequest", "DocumentReference", "QuestionnaireResponse", "OperationOutcome"))
# FHIR ids are [A-Za-z0-9-.]{1,64}; real suppliers' fixtures also use "_" and longer ids, which are
# served as they came. What cannot work is an id that breaks a "Type/id" reference.
FHIR_ID_RE = re.compile(r"^[^\s/|#]{1,200}\Z")
DOC_KEY_RE = re.compile(r"[^A-Za-z0-9._-]")
INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
CONTENT_TYPE_RE = re.compile(r"^[a-z]+/[A-Za-z0-9.+-]+")
# A document type for the documents search when the DocumentReference has no SNOMED type coding:
# "Record artifact" is the top of the record-artefact hierarchy (the served DocumentReference keeps
# whatever type it came with).
FALLBACK_DOCUMENT_TYPE = "419891008|Record artifact"
FALLBACK_AUTHOR_ODS = "B82617"
GENDERS = ("male", "female", "other", "unknown")


class BundleImportError(PersonaError):
    """A Bundle cannot be imported. ``problems`` lists every (JSON path, message) found;
    ``path``/``reason`` (as for any PersonaError) are the first one's."""

    def __init__(self, source, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        path, reason = self.problems[0]
        super().__init__(source, path, reason)
        more = len(self.problems) - 1
        if more:
            self.args = (f"{source}: {path}: {reason} (and {more} more problem{'s' if more > 1 else ''})",)

    def lines(self) -> list[str]:
        return [f"{self.file}: {path}: {reason}" for path, reason in self.problems]

    def __reduce__(self):
        return type(self), (self.file, self.problems)


def _is_confidential_coding(coding) -> bool:
    return isinstance(coding, dict) and coding.get("system") == CONFIDENTIALITY_SYSTEM \
        and coding.get("code") in CONFIDENTIAL_CODES


def is_confidential(resource: dict) -> bool:
    """Whether a resource carries a confidentiality marker (R or V) in meta.security or, for a
    DocumentReference, in securityLabel."""
    meta = resource.get("meta")
    security = meta.get("security") if isinstance(meta, dict) else None
    if isinstance(security, list) and any(_is_confidential_coding(c) for c in security):
        return True
    labels = resource.get("securityLabel")
    if isinstance(labels, list):
        for label in labels:
            if isinstance(label, dict) and any(_is_confidential_coding(c) for c in label.get("coding") or []):
                return True
    return False


def _document_key(doc_id: str, used: set) -> str:
    key = DOC_KEY_RE.sub("-", doc_id).lstrip("._-")[:56] or "document"
    if not key[0].isalnum():
        key = "d" + key
    base, n = key, 2
    while key in used:
        key = f"{base}-{n}"
        n += 1
    used.add(key)
    return key


def _match_file(documents_dir: Path | None, names: list[str]) -> Path | None:
    """A file of ``documents_dir`` named like one of ``names`` (exactly, or with an extension)."""
    if documents_dir is None:
        return None
    try:
        files = sorted(p for p in Path(documents_dir).iterdir() if p.is_file())
    except OSError:
        return None
    for name in names:
        if not name:
            continue
        for p in files:
            if p.name == name:
                return p
        for p in files:
            if p.stem == name or p.name.split(".", 1)[0] == name:
                return p
    return None


def _patient_fields(patient: dict, path: str, problems: list) -> dict:
    out: dict = {}
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), None) \
        or next((n for n in names if isinstance(n, dict)), None)
    name: dict = {}
    if official:
        family = official.get("family")
        if isinstance(family, str) and family.strip():
            name["family"] = family
        for part in ("given", "prefix", "suffix"):
            words = official.get(part)
            if isinstance(words, list) and words and all(isinstance(w, str) and w for w in words):
                name[part] = list(words)
        if isinstance(official.get("text"), str) and official["text"].strip():
            name["text"] = official["text"]
    if "family" not in name:
        name["family"] = name.get("text") or "Unknown"
    out["name"] = name
    gender = patient.get("gender")
    out["gender"] = gender if gender in GENDERS else "unknown"
    born = patient.get("birthDate")
    if not isinstance(born, str) or not DATE_RE.match(born):
        problems.append((f"{path}.birthDate", f"{born!r} is not a full date (YYYY-MM-DD): the mock needs the "
                                              "patient's date of birth"))
    else:
        out["birth_date"] = born
    died = patient.get("deceasedDateTime")
    if isinstance(died, str) and len(died) >= 10 and DATE_RE.match(died[:10]):
        out["deceased"] = died[:10]
    elif patient.get("deceasedBoolean") is True:
        problems.append((f"{path}.deceasedBoolean", "a deceased patient needs deceasedDateTime (the mock keeps "
                                                    "the date of death)"))
    if patient.get("active") is False:
        out["active"] = False
    return out


def _nhs_identifier(patient: dict):
    for i, ident in enumerate(patient.get("identifier") or []):
        if isinstance(ident, dict) and ident.get("system") == NHS_NUMBER_SYSTEM:
            return i, ident
    return None, None


def import_bundle(bundle: dict, *, nhs_number: str | None = None, documents_dir: Path | None = None,
                  source: str = "<bundle>", copy: bool = True) -> dict:
    """A GP Connect structured Bundle -> a persona (plain JSON data the persona loader accepts).

    Raises :class:`BundleImportError` with every problem found, each as (JSON path, message); the
    paths name the Bundle's own elements (``$.entry[3].resource.birthDate``). ``copy=False`` takes
    the Bundle's entries as they are (and may rewrite them) instead of a deep copy: a 50 MB Bundle
    parses to ~500 MB of objects, and the control API drops the Bundle right after.
    """
    problems: list[tuple[str, str]] = []

    def fail():
        raise BundleImportError(source, problems)

    if not isinstance(bundle, dict):
        problems.append(("$", "is not a JSON object (a FHIR Bundle)"))
        fail()
    if bundle.get("resourceType") != "Bundle":
        problems.append(("$.resourceType", f"{bundle.get('resourceType')!r} is not a Bundle: a GP Connect structured "
                                           "record is a Bundle of type collection"))
        fail()
    if bundle.get("type") != "collection":
        problems.append(("$.type", f"{bundle.get('type')!r}: a structured record Bundle has type 'collection' "
                                   "(GPConnect-StructuredRecord-Bundle-1)"))
    meta = bundle.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(profiles, list) and profiles and STRUCTURED_BUNDLE_PROFILE not in profiles:
        problems.append(("$.meta.profile", f"names {profiles!r}, not {STRUCTURED_BUNDLE_PROFILE}"))
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        problems.append(("$.entry", "a structured record has entries (at least the Patient)"))
        fail()

    patients: list[int] = []
    seen: dict[str, tuple] = {}
    for n, entry in enumerate(entries):
        p = f"$.entry[{n}]"
        if not isinstance(entry, dict):
            problems.append((p, "is not a JSON object"))
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            problems.append((f"{p}.resource", "is required: every entry of a structured record holds a resource"))
            continue
        kind = resource.get("resourceType")
        if kind not in RESOURCE_TYPES:
            problems.append((f"{p}.resource.resourceType", f"{kind!r} is not a resource of a GP Connect structured "
                                                          "record"))
            continue
        rid = resource.get("id")
        if rid is None:
            if kind not in ("List", "OperationOutcome"):   # query Lists have no id (List page)
                problems.append((f"{p}.resource.id", f"is required: a {kind} is referenced as {kind}/id"))
        elif not isinstance(rid, str) or not FHIR_ID_RE.match(rid):
            problems.append((f"{p}.resource.id", f"{rid!r} cannot be referenced as {kind}/id"))
        # Two entries with the same Type/id (real fixtures have them) are served as they came.
        if kind == "Patient":
            patients.append(n)
    if len(patients) != 1:
        problems.append(("$.entry", f"a structured record holds exactly one Patient, not {len(patients)}"))
    if problems:
        fail()

    if copy:        # the caller's Bundle is never changed (copy=False: a caller that drops it anyway)
        entries = json.loads(json.dumps(entries))
    pn = patients[0]
    ppath = f"$.entry[{pn}].resource"
    patient = entries[pn]["resource"]
    persona: dict = {"description": f"Imported from {os.path.basename(str(source)) or source}"}
    idx, ident = _nhs_identifier(patient)
    if nhs_number is not None:
        if not nhs.is_valid(str(nhs_number)):
            problems.append(("--nhs-number", f"{nhs_number!r} is not a valid NHS number (10 digits, Mod-11 check "
                                             "digit)"))
        elif ident is not None:
            ident["value"] = str(nhs_number)
        else:
            patient.setdefault("identifier", []).insert(0, {"system": NHS_NUMBER_SYSTEM, "value": str(nhs_number)})
        number = str(nhs_number)
    elif ident is None:
        number = None
        problems.append((f"{ppath}.identifier", f"has no NHS number ({NHS_NUMBER_SYSTEM}); give one with "
                                                "--nhs-number"))
    else:
        number = ident.get("value")
        if not isinstance(number, str) or not nhs.is_valid(number):
            problems.append((f"{ppath}.identifier[{idx}].value", f"{number!r} is not a valid NHS number; give one "
                                                                 "with --nhs-number"))
    persona["nhs_number"] = number
    persona.update(_patient_fields(patient, ppath, problems))

    # The practice's ODS code (documents' author in the documents search).
    by_ref = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
              for e in entries if isinstance(e["resource"].get("id"), str)}
    author_ods = FALLBACK_AUTHOR_ODS
    managing = patient.get("managingOrganization")
    candidates = [managing] if isinstance(managing, dict) else []
    candidates += [g for g in patient.get("generalPractitioner") or [] if isinstance(g, dict)]
    for ref in candidates:
        org = by_ref.get(ref.get("reference", ""))
        if org and org["resourceType"] == "Organization":
            for oid in org.get("identifier") or []:
                if isinstance(oid, dict) and oid.get("system") == ODS_SYSTEM and ODS_RE.match(str(oid.get("value"))):
                    author_ods = oid["value"]
                    break
            break

    confidential: list[str] = []
    attachments: list[dict] = []
    documents: list[dict] = []
    used_keys: set = set()
    for n, entry in enumerate(entries):
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind not in ("List", "Patient") and isinstance(resource.get("id"), str) and is_confidential(resource):
            confidential.append(f"{kind}/{resource['id']}")
        if kind != "DocumentReference":
            continue
        p = f"$.entry[{n}].resource"
        for c, content in enumerate(resource.get("content") or []):
            att = content.get("attachment") if isinstance(content, dict) else None
            ap = f"{p}.content[{c}].attachment"
            if not isinstance(att, dict):
                problems.append((ap, "is required (DocumentReference.content.attachment)"))
                continue
            if not att.get("url"):
                continue                    # a placeholder (the file is unavailable): served as it came
            ctype = att.get("contentType")
            if not isinstance(ctype, str) or not CONTENT_TYPE_RE.match(ctype):
                problems.append((f"{ap}.contentType", f"{ctype!r}: a document needs its MIME type"))
                continue
            doc_id = resource["id"]
            title = att.get("title") if isinstance(att.get("title"), str) else None
            last = str(att["url"]).rstrip("/").rsplit("/", 1)[-1]
            found = _match_file(documents_dir, [doc_id, title, last])
            size = att.get("size")
            if found is None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
                problems.append((f"{ap}.size", f"{size!r}: without the file (--documents) the mock generates the "
                                               "document to its declared size, which must be a whole number >= 1"))
                continue
            key = _document_key(doc_id if c == 0 else f"{doc_id}-{c + 1}", used_keys)
            type_code = FALLBACK_DOCUMENT_TYPE
            for coding in (resource.get("type") or {}).get("coding") or []:
                if isinstance(coding, dict) and coding.get("system") == "http://snomed.info/sct" \
                        and str(coding.get("code", "")).isdigit() and coding.get("display"):
                    type_code = f"{coding['code']}|{coding['display']}"
                    break
            # The documents search lists the document with these (the served DocumentReference keeps
            # whatever it came with): an instant for indexed, a date or date-time for created.
            created = resource.get("created") if isinstance(resource.get("created"), str) else None
            indexed = resource.get("indexed") if isinstance(resource.get("indexed"), str) else None
            if not indexed or not INSTANT_RE.match(indexed):
                indexed = created if created and INSTANT_RE.match(created) else "2000-01-01T00:00:00+00:00"
            if not created or not DATE_OR_DATETIME_RE.match(created):
                created = indexed
            description = resource.get("description") or (resource.get("type") or {}).get("text") or title \
                or "Imported document"
            doc: dict = {"key": key, "description": str(description), "type": type_code, "created": created,
                         "indexed": indexed, "author": {"organization": author_ods}, "contentType": ctype}
            if title:
                doc["title"] = title
            if is_confidential(resource):
                doc["confidential"] = True
            if found is not None:
                doc["file"] = f"files/imported-{number}/{found.name}"
                actual = found.stat().st_size
                if actual == 0:
                    problems.append((f"{ap}.url", f"the matching file {found} is empty"))
                    continue
                doc["size"] = actual
                if att.get("size") != actual:
                    att["size"] = actual       # a rewrite (docs/personas/import.md): the size of the bytes served
            else:
                seed = f"imported/{number}/{key}"
                doc["generate"] = {"size": size, "seed": seed}
                doc["sha256"] = generated_sha256(size, seed)
                if ctype != GENERATED_CONTENT_TYPE:
                    doc["stand_in"] = True     # generated bytes under the declared (non-text) type
            documents.append(doc)
            attachments.append({"entry": n, "content": c, "document": key})
    if problems:
        fail()

    record: dict = {"source": str(source)}
    if isinstance(meta, dict):
        record["bundle_meta"] = meta
    record["entries"] = entries
    if attachments:
        record["attachments"] = attachments
    if confidential:
        record["confidential"] = confidential
    persona["fhir_record"] = record
    if documents:
        persona["documents"] = documents
    return persona


def write_imported(persona: dict, out_dir, *, documents_dir=None, force: bool = False) -> Path:
    """Write an imported persona into ``out_dir`` (``<nhs>.json``, its documents under
    ``files/imported-<nhs>/``), atomically: every file goes to a temporary name first and is
    renamed into place only when all were written; on any failure nothing new is left behind."""
    out = Path(out_dir)
    number = persona["nhs_number"]
    target = out / f"{number}.json"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; use --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    moves: list[tuple[Path, Path]] = []
    try:
        for doc in persona.get("documents", []):
            if "file" not in doc:
                continue
            if documents_dir is None:
                raise FileNotFoundError(f"{doc['file']}: no documents folder to copy it from")
            src = Path(documents_dir) / Path(doc["file"]).name
            dest = out / doc["file"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _temporary(dest)
            os.close(fd)
            moves.append((tmp, dest))
            shutil.copyfile(src, tmp)
        body = (json.dumps(persona, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        fd, tmp = _temporary(target)
        moves.append((tmp, target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        for tmp_path, _ in moves[:-1]:
            with open(tmp_path, "rb") as fh:
                os.fsync(fh.fileno())
    except BaseException:
        for tmp_path, _ in moves:
            try:
                tmp_path.unlink()
            except OSError:
                pass
        raise
    for tmp_path, dest in moves:        # documents first, the persona file last
        os.replace(tmp_path, dest)
    return target


def _temporary(dest: Path) -> tuple[int, Path]:
    """A new hidden file beside ``dest`` (fd, path), created with mode 0644 less the umask, as
    ``personas generate`` writes: ``tempfile.mkstemp`` would make it 0600, unreadable to the
    container's own user (uid 10001) when the folder is mounted into the image."""
    for _ in range(100):
        tmp = dest.parent / f".{dest.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {dest}")


def binary_id(nhs_number: str, key: str) -> str:
    """The Binary id of an imported document (as for every persona document)."""
    return ids.document_id(nhs_number, key)
