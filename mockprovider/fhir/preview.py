"""Render a persona's migrate structured Bundle without a server (``mockprovider render``), and
validate rendered Bundles with fhir.resources (``mockprovider personas validate``).

The Bundle itself is built by :mod:`mockprovider.fhir.structured`; this module only supplies what a
request would (settings, a trace id) and, for validation, imports fhir.resources (never on the
serving path).
"""
from __future__ import annotations

import json

FIXED_TRACE_ID = "00000000-0000-4000-8000-000000000000"


class RendererUnavailable(RuntimeError):
    pass


def _builder():
    try:
        from . import structured
        structured.structured_bundle  # noqa: B018  (the builder this module calls)
    except (ImportError, AttributeError):
        raise RendererUnavailable("the structured record renderer (mockprovider.fhir.structured) "
                                  "is not installed") from None
    return structured


def migrate_bundle_bytes(store, persona, sensitive: bool, trace_id: str = FIXED_TRACE_ID,
                         settings=None) -> bytes:
    """The migrate Bundle's body for ``persona`` as a server would send it.

    The documents base is the one a server at ``settings`` would use for a request to the
    structured root: ``public_base_url`` or ``http://host:port``, then ``/{ODS}/STU3/1/gpconnect/
    documents/fhir``. Flags take their start-up values.
    """
    from ..config import Settings
    from ..personas.documents import index
    from .render import Spliced, to_json_bytes

    structured = _builder()
    settings = settings or Settings.from_env()
    origin = settings.public_base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    from ..registry import practices
    try:
        practice = practices.for_settings(settings).home_of(persona)
        ods, documents_root = practice.ods, practice.documents_root()
    except practices.RegistryError:      # rendering needs no registry: the default practice's own roots
        ods, documents_root = persona.practice or settings.ods_code, "gpconnect/documents/fhir"
    documents_base = f"{origin}/{ods}/STU3/1/{documents_root}"
    bundle = structured.structured_bundle(
        persona, ods, sensitive, documents_base, settings.nhs_number_status_system,
        documents=index(store).of(persona), migrate_limit_bytes=settings.migrate_document_limit_bytes,
        general_practitioner=settings.patient_general_practitioner)
    return Spliced(to_json_bytes(bundle)).render(trace_id)


def available() -> bool:
    try:
        _builder()
    except RendererUnavailable:
        return False
    return True


def validate_bundles(store, settings=None) -> list[str]:
    """Render every persona with and without sensitive items; validate each Bundle (STU3).

    Returns one line per problem: ``file: $: rendered Bundle (sensitive=...) is invalid: ...``.
    """
    from fhir.resources.STU3 import get_fhir_model_class
    from fhir.resources.STU3.bundle import Bundle

    problems = []
    for persona in store:
        for sensitive in (False, True):
            try:
                body = migrate_bundle_bytes(store, persona, sensitive, settings=settings)
                bundle = json.loads(body)
                Bundle.model_validate(bundle)
                for entry in bundle["entry"]:     # Bundle validation does not descend into entries
                    resource = entry["resource"]
                    for r in [resource, *resource.get("contained", [])]:
                        get_fhir_model_class(r["resourceType"]).model_validate(r)
            except Exception as exc:    # report every persona, never stop at the first
                first = str(exc).strip().splitlines()
                problems.append(f"{persona.file}: $: rendered Bundle (sensitive={str(sensitive).lower()}) "
                                f"is invalid: {type(exc).__name__}: {' / '.join(first[:4])}")
    return problems
