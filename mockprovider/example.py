"""``mockprovider example INTERACTION [NHS_NUMBER|BINARY_ID]``: a ready request for every interaction.

A consumer's first request needs four ``Ssp-*`` headers and an unsigned JWT with ten claims whose
lifetime is exactly 300 s (../shared/spec/jwt.md). This module builds that request from the same
tables the gate checks against: the interaction table (:data:`mockprovider.http.routes.INTERACTIONS`:
path, verb, ``Ssp-InteractionID``, accepted reasons and scopes, service roots) and
:mod:`mockprovider.spec` (JWT claims and lifetime, identifier systems), with the provider's ODS
code and ASID from the settings. :data:`EXAMPLES` says only what the interaction table cannot:
what the argument names and the path and body after the service root; another interaction is one
entry (tests/cli/test_example.py fails while an interaction of the table has none).

No Flask: the CLI prints the request as a curl command (or makes it with ``--run``), and the docs
show the same requests (``tools/docs_generate.py``).
"""
from __future__ import annotations

import base64
import json
import shlex
import time
import uuid
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from . import spec
from .config import Settings
from .http import routes
from .personas import ids

# The consumer the examples speak as: the NHS provider assurance suite's consumer ASID and ODS code.
CONSUMER_ASID = "200000000359"
CONSUMER_ODS = "GPCA0001"
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_PERSONA = "9690937286"     # the suite's main data patient: every area, documents
# The docs' examples carry a token issued at 2100-01-01T00:00:00Z: the mock tolerates a future iat
# (as the spec asks: jwt.md, Lifetime rules), so a copied example keeps working. A real request
# makes a fresh token; `mockprovider example` does.
DOCS_IAT = 4102444800
DOCS_TRACE_ID = "7d9f3a52-4c1e-4d8b-9a6f-2b1e0c5d8e47"


class ExampleError(ValueError):
    """The example cannot be built as asked (unknown interaction, persona or document)."""


@dataclass(frozen=True)
class Subject:
    """What a request is about: a patient and, for the Binary interactions, one of their documents."""
    nhs_number: str | None = None
    binary_id: str | None = None
    registered_ods: str | None = None      # the persona's registered practice on PDS, if it names one


@dataclass(frozen=True)
class Example:
    interaction: str                                  # a name of routes.INTERACTIONS
    argument: str | None                              # "nhs" | "document" | None: what the argument names
    relative: Callable[[Subject], str]                # path and query after the service root
    body: Callable[[Subject, bool], dict] | None = None   # (subject, sensitive) -> the request body
    aliases: tuple[str, ...] = ()
    confidentiality: str | None = None                # "choice": --sensitive picks conf/R or conf/N;
                                                      # "R": conf/R unless --no-sensitive; None: none
    summary: str = ""


def _migrate_parameters(subject: Subject, sensitive: bool) -> dict:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber",
         "valueIdentifier": {"system": spec.NHS_NUMBER_SYSTEM, "value": subject.nhs_number}},
        {"name": "includeFullRecord",
         "part": [{"name": "includeSensitiveInformation", "valueBoolean": sensitive}]},
    ]}


def _retrieve_parameters(subject: Subject, sensitive: bool) -> dict:
    """A typical direct-care query: allergies (resolved ones too), medication and problems."""
    return {"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber",
         "valueIdentifier": {"system": spec.NHS_NUMBER_SYSTEM, "value": subject.nhs_number}},
        {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}]},
        {"name": "includeMedication"},
        {"name": "includeProblems"},
    ]}


def _search_documents(subject: Subject) -> str:
    from .interactions.search_documents import INCLUDES, REVINCLUDE
    query = "&".join([f"_include={value}" for value in INCLUDES] + [f"{REVINCLUDE[0]}={REVINCLUDE[1]}"])
    return f"/Patient/{ids.patient_id(subject.nhs_number)}/DocumentReference?{query}"


EXAMPLES: tuple[Example, ...] = (
    Example("migrate_structured", "nhs", lambda s: "/Patient/$gpc.migratestructuredrecord", _migrate_parameters,
            aliases=("migrate",), confidentiality="choice", summary="a patient's whole structured record"),
    Example("retrieve_structured", "nhs", lambda s: "/Patient/$gpc.getstructuredrecord", _retrieve_parameters,
            aliases=("retrieve",), summary="a patient's allergies, medication and problems (a direct-care query)"),
    Example("migrate_document", "document", lambda s: f"/Binary/{s.binary_id}", confidentiality="R",
            summary="one document, for record transfer"),
    Example("retrieve_document", "document", lambda s: f"/Binary/{s.binary_id}",
            summary="one document, for direct care"),
    Example("find_patient", "nhs",
            lambda s: f"/Patient?identifier={quote(spec.NHS_NUMBER_SYSTEM + '|' + s.nhs_number, safe=':/')}",
            summary="a patient by NHS number (documents)"),
    Example("read_patient", "nhs", lambda s: f"/Patient/{ids.patient_id(s.nhs_number)}",
            summary="a patient by logical id (documents)"),
    Example("search_documents", "nhs", _search_documents, summary="a patient's documents"),
    Example("metadata_structured", None, lambda s: "/metadata", summary="the structured CapabilityStatement"),
    Example("metadata_documents", None, lambda s: "/metadata", summary="the documents CapabilityStatement"),
    Example("metadata", None, lambda s: "/metadata", summary="the CapabilityStatement of the single root"),
)
BY_NAME = {e.interaction: e for e in EXAMPLES}


def command_name(interaction: str) -> str:
    return interaction.replace("_", "-")


def names() -> dict[str, str]:
    """Every name the CLI accepts (``migrate-structured``, ``migrate_structured``, ``migrate``, …)
    -> the interaction's name."""
    out = {}
    for example in EXAMPLES:
        for name in (example.interaction, *example.aliases):
            out[name] = out[command_name(name)] = example.interaction
    return out


def find(name: str) -> Example:
    found = names().get(name.strip().lower())
    if found is None:
        raise ExampleError(f"no interaction {name!r}; use one of {', '.join(command_name(e.interaction) for e in EXAMPLES)}")
    return BY_NAME[found]


# --- the subject ------------------------------------------------------------------------------------------
def _is_nhs_number(text: str) -> bool:
    return len(text) == 10 and text.isdigit()


def subject_for(example: Example, argument: str | None, store=None, settings: Settings | None = None,
                document_key: str | None = None) -> Subject:
    """The patient (and document) a request is about. ``store`` (a PersonaStore, optional) tells
    each persona's registered practice and documents; a Binary id may also be given directly."""
    settings = settings or Settings()
    if example.argument is None:
        if argument:
            raise ExampleError(f"{command_name(example.interaction)} takes no argument")
        return Subject()
    argument = argument or DEFAULT_PERSONA
    persona = store.get(argument) if store is not None else None
    registered = persona.registered_practice_ods if persona is not None else None
    if example.argument == "nhs":
        if not _is_nhs_number(argument):
            raise ExampleError(f"{argument!r} is not an NHS number (10 digits)")
        return Subject(argument, registered_ods=registered)
    # a document: a Binary id, or an NHS number whose document is chosen
    if not _is_nhs_number(argument):
        return Subject(binary_id=argument)
    if persona is None:
        raise ExampleError(f"no persona with NHS number {argument} in {getattr(store, 'directory', 'the personas')};"
                           " give a Binary id instead")
    from .personas.documents import index
    documents = index(store).of(persona)
    if document_key is not None:
        chosen = [d for d in documents if d.key == document_key or d.binary_id == document_key]
        if not chosen:
            raise ExampleError(f"persona {argument} has no document {document_key!r} "
                               f"(keys: {', '.join(d.key for d in documents) or 'none'})")
    elif example.interaction == "retrieve_document":
        limit = settings.retrieve_document_limit_bytes
        chosen = [d for d in documents if not d.confidential and d.size <= limit]
    else:
        limit = settings.migrate_document_limit_bytes
        chosen = [d for d in documents if limit == 0 or d.size <= limit]
    if not chosen:
        raise ExampleError(f"persona {argument} has no document that {command_name(example.interaction)} serves")
    return Subject(argument, chosen[0].binary_id, registered)


# --- the request ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    claims: dict

    def curl(self) -> str:
        """The request as one curl command (continued over lines with backslashes), every argument
        quoted for a POSIX shell."""
        lines = ["curl -sS" + (f" -X {self.method}" if self.method != "GET" else "") + f" {shlex.quote(self.url)}"]
        lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in self.headers]
        if self.body is not None:
            lines.append(f"--data {shlex.quote(self.body.decode())}")
        return " \\\n  ".join(lines)


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def claims(interaction: routes.Interaction, *, audience: str, requesting_ods: str, confidentiality: str | None,
           now: int | None = None) -> dict:
    """The ten claims (spec.JWT_CLAIMS) for this interaction: its first accepted reason and resource
    scope (plus ``conf/N`` or ``conf/R``), issued now for exactly spec.JWT_LIFETIME_SECONDS."""
    iat = int(time.time() if now is None else now)
    scope = interaction.scopes[0] + (f" conf/{confidentiality}" if confidentiality else "")
    payload = {
        "iss": "https://consumer.example/", "sub": "1", "aud": audience,
        "exp": iat + spec.JWT_LIFETIME_SECONDS, "iat": iat,
        "reason_for_request": interaction.reasons[0], "requested_scope": scope,
        "requesting_device": {"resourceType": "Device",
                              "identifier": [{"system": "https://consumer.example/Id/device", "value": "example"}],
                              "model": "mockprovider example", "version": "1"},
        "requesting_organization": {"resourceType": "Organization", "name": "Example consumer practice",
                                    "identifier": [{"system": spec.ODS_ORG_SYSTEM, "value": requesting_ods}]},
        "requesting_practitioner": {"resourceType": "Practitioner", "id": "1",
                                    "name": [{"family": "Example", "given": ["Erin"], "prefix": ["Dr"]}],
                                    "identifier": [{"system": spec.SDS_USER_SYSTEM, "value": "G13579135"},
                                                   {"system": spec.SDS_ROLE_PROFILE_SYSTEM, "value": "UNK"}]},
    }
    return payload


def root_kind(interaction: routes.Interaction, single_root: bool = False) -> str:
    """Where the interaction is served: its own root, or the single root (``all``)."""
    if single_root:
        return "all"
    return next((kind for kind in ("structured", "documents") if kind in interaction.roots), "all")


def root_path(kind: str) -> str:
    """The canonical root of a kind (the first of routes.ROOTS: ``gpconnect/structured/fhir``, …)."""
    return next(root for root, root_kind_ in routes.ROOTS if root_kind_ == kind)


def build(example: Example, subject: Subject, *, settings: Settings | None = None, url: str = DEFAULT_URL,
          sensitive: bool | None = None, xml: bool = False, single_root: bool = False,
          trace_id: str | None = None, now: int | None = None) -> Request:
    settings = settings or Settings()
    interaction = routes.BY_NAME[example.interaction]
    practice = f"{url.rstrip('/')}/{settings.ods_code}/STU3/1"
    target = f"{practice}/{root_path(root_kind(interaction, single_root))}{example.relative(subject)}"
    if example.confidentiality == "choice":
        sensitive = bool(sensitive)
        confidentiality = "R" if sensitive else "N"
    elif example.confidentiality == "R":
        confidentiality = None if sensitive is False else "R"
    else:
        confidentiality = None
    requesting_ods = subject.registered_ods or settings.consumer_ods or CONSUMER_ODS
    payload = claims(interaction, audience=practice, requesting_ods=requesting_ods,
                     confidentiality=confidentiality, now=now)
    token = f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(payload)}."
    headers = [("Ssp-TraceID", trace_id or str(uuid.uuid4())), ("Ssp-From", CONSUMER_ASID),
               ("Ssp-To", settings.provider_asid), ("Ssp-InteractionID", interaction.ids[0]),
               ("Authorization", f"Bearer {token}"), ("Accept", spec.FHIR_XML if xml else spec.FHIR_JSON)]
    body = None
    if example.body is not None:
        body = json.dumps(example.body(subject, bool(sensitive)), separators=(",", ":")).encode()
        headers.append(("Content-Type", spec.FHIR_JSON))
    return Request(interaction.method, target, tuple(headers), body, payload)


def send(request: Request, timeout: float = 60):
    """Make the request (http.client): (status, reason, headers, body)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(request.method, path, body=request.body, headers=dict(request.headers))
        answer = connection.getresponse()
        return answer.status, answer.reason, answer.getheaders(), answer.read()
    finally:
        connection.close()
