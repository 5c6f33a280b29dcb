"""Every FHIR interaction the mock serves, in one table, and how a URL is resolved to them.

A URL is ``[/<scheme>://<host>]/{ODS}/STU3/1/<root>/<relative path>``:
- the optional leading ``/https://host`` is the Spine Secure Proxy prefix, served as if absent;
- ``<root>`` is one of the service roots below (structured, documents, or the single root).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .. import spec

# Service roots after /{ODS}/STU3/1/, longest first. Kind: which interactions live there.
ROOTS = (
    ("gpconnect/structured/fhir", "structured"),
    ("gpconnect/documents/fhir", "documents"),
    ("gpconnect/structured", "structured"),
    ("gpconnect/documents", "documents"),
    ("gpconnect-documents", "documents"),   # the form in the spec's example attachment URL
    ("gpconnect/fhir", "all"),
)
_ROOT_RE = re.compile(
    r"^/(?P<ods>[^/]+)/STU3/1/(?P<root>" + "|".join(re.escape(r) for r, _ in ROOTS) + r")(?P<rest>/.*)?\Z",
    re.DOTALL,   # \Z, not $: '$' also matches before a final newline, so '/metadata%0A' was served
)
_ROOT_KIND = dict(ROOTS)
_PROXY_PREFIX = re.compile(r"^/https?:/+[^/]+(?=/)")
_ID = r"[A-Za-z0-9\-\.]{1,64}"   # FHIR id


@dataclass(frozen=True)
class Interaction:
    name: str                       # the public short name (fault rules, journal)
    method: str
    path: re.Pattern                # matches the path after the service root
    ids: tuple                      # accepted Ssp-InteractionID values
    roots: frozenset                # root kinds it is served under
    scopes: tuple                   # accepted resource scopes in requested_scope
    reasons: tuple                  # accepted reason_for_request values
    practitioner_required: bool = True


def _i(name, method, path, ids, roots, scopes=("patient/*.read", "patient/*.write"),
       reasons=("directcare",), practitioner_required=True):
    return Interaction(name, method, re.compile("^" + path + r"\Z"), tuple(ids),
                       frozenset(roots) | {"all"}, scopes, reasons, practitioner_required)


INTERACTIONS = (
    _i("migrate_structured", "POST", r"/Patient/\$gpc\.migratestructuredrecord", [spec.MIGRATE_STRUCTURED],
       ["structured"], reasons=("migration",), practitioner_required=False),
    # Retrieve a structured record: direct care, read scope (the JWT page's scope table).
    _i("retrieve_structured", "POST", r"/Patient/\$gpc\.getstructuredrecord", [spec.RETRIEVE_STRUCTURED],
       ["structured"], scopes=("patient/*.read",)),
    # Migrate a document: the spec says reason "migration"; the assurance suite sends "directcare".
    _i("migrate_document", "GET", rf"/Binary/(?P<document_id>{_ID})", [spec.MIGRATE_DOCUMENT],
       ["documents"], reasons=("migration", "directcare")),
    _i("retrieve_document", "GET", rf"/Binary/(?P<document_id>{_ID})",
       [spec.RETRIEVE_DOCUMENT, spec.RETRIEVE_DOCUMENT_ALT], ["documents"]),
    _i("find_patient", "GET", r"/Patient", [spec.FIND_PATIENT], ["documents"]),
    _i("read_patient", "GET", rf"/Patient/(?P<patient_id>{_ID})", [spec.READ_PATIENT, spec.READ_PATIENT_ALT],
       ["documents"]),
    _i("search_documents", "GET", rf"/Patient/(?P<patient_id>{_ID})/DocumentReference",
       [spec.SEARCH_DOCUMENTS], ["documents"]),
    _i("metadata_structured", "GET", r"/metadata", [spec.METADATA_STRUCTURED], ["structured"],
       scopes=("organization/*.read",)),
    _i("metadata_documents", "GET", r"/metadata", [spec.METADATA_DOCUMENTS], ["documents"],
       scopes=("organization/*.read",)),
    _i("metadata", "GET", r"/metadata", [spec.METADATA_FOUNDATIONS], [], scopes=("organization/*.read",)),
)
BY_NAME = {i.name: i for i in INTERACTIONS}


@dataclass(frozen=True)
class Target:
    """Where a URL points: the practice, the root, the path inside it and its base URL path."""
    ods: str
    root: str            # the root segment as written, e.g. gpconnect/documents/fhir
    kind: str            # structured | documents | all
    rest: str            # path after the root, '' for the root itself
    proxy_prefix: str    # '/https://host' when sent through the SSP, else ''


def resolve(path: str) -> Target | None:
    prefix = ""
    m = _PROXY_PREFIX.match(path)
    if m:
        prefix, path = m.group(0), path[m.end():]
    m = _ROOT_RE.match(path)
    if not m:
        return None
    return Target(m.group("ods"), m.group("root"), _ROOT_KIND[m.group("root")], m.group("rest") or "", prefix)


def candidates(target: Target) -> list[tuple[Interaction, dict]]:
    """Interactions whose path matches under this root, with their path parameters."""
    found = []
    for interaction in INTERACTIONS:
        if target.kind not in interaction.roots:
            continue
        m = interaction.path.match(target.rest)
        if m:
            found.append((interaction, m.groupdict()))
    return found


def check_registry(registry) -> None:
    """Every root the practices registry publishes is a root this table serves, of a kind that holds
    the interaction (a documents interaction on a structured root cannot be reached); raises the
    registry's one-line error naming the file and the key."""
    from ..registry.practices import SERVICES, RegistryError
    for i, practice in enumerate(registry.practices):
        for name, root in practice.roots.items():
            kind = _ROOT_KIND.get(root)
            if kind is None:
                raise RegistryError(registry.file, f"practice[{i}].roots.{name}",
                                    f"{root!r} is not a service root this mock serves "
                                    f"(known: {', '.join(r for r, _ in ROOTS)})")
            if kind != "all" and kind != SERVICES[name][1]:
                raise RegistryError(registry.file, f"practice[{i}].roots.{name}",
                                    f"{root!r} is a {kind} root; {name} is a {SERVICES[name][1]} interaction")
