"""SDS FHIR API decisions: ``GET /Device`` and ``GET /Endpoint`` over the practices registry.

Parameter rules as the SDS service applies them (NHSDigital/spine-directory-service-api: the
specification and the service's request handlers), checked in this order:

1. only ``organization``, ``identifier`` (repeatable) and, on Device only, ``manufacturing-organization``
   may be given; anything else                                          -> 400 ("illegal parameter");
2. every value carries its identifier system: ``organization`` and ``manufacturing-organization``
   ``https://fhir.nhs.uk/Id/ods-organization-code|<code>``, ``identifier``
   ``https://fhir.nhs.uk/Id/nhsServiceInteractionId|<id>`` or ``…/nhsMhsPartyKey|<key>``  -> 400;
3. Device needs ``organization`` and an interaction ``identifier`` (a party key and the manufacturing
   organisation narrow it); Endpoint needs one of organisation + interaction (+ party key),
   organisation + party key, or interaction + party key                 -> 400.

A repeated parameter counts by its last value, as the service reads it. Nothing found is a 200
searchset with ``total`` 0, never a 404. The registry (mockprovider.registry.practices) is the data.
"""
from __future__ import annotations

from .. import spec
from ..fhir import sds as sds_fhir
from ..lookup_errors import sds as sds_error
from ..registry.practices import BY_INTERACTION_ID

ORGANIZATION, IDENTIFIER, MANUFACTURER = "organization", "identifier", "manufacturing-organization"
ALLOWED = {"Device": (ORGANIZATION, IDENTIFIER, MANUFACTURER), "Endpoint": (ORGANIZATION, IDENTIFIER)}
SYSTEMS = {ORGANIZATION: (spec.ODS_ORG_SYSTEM,), MANUFACTURER: (spec.ODS_ORG_SYSTEM,),
           IDENTIFIER: (spec.SDS_INTERACTION_SYSTEM, spec.SDS_PARTY_KEY_SYSTEM)}
COMBINATIONS = ("organization + interaction identifier (+ party key identifier)",
                "organization + party key identifier", "interaction identifier + party key identifier")


def _value(query, name, system):
    """The last value of ``name`` with this system (None when absent or empty), as the service reads it."""
    values = [v.partition("|")[2].strip() for n, v in query if n == name and v.partition("|")[0] == system]
    values = [v for v in values if v]
    return values[-1] if values else None


def organization(query: list) -> str | None:
    """The ODS code a search names (for fault rules matching ``ods``), None when it names none."""
    return _value(query, ORGANIZATION, spec.ODS_ORG_SYSTEM)


def parse(resource: str, query: list) -> dict:
    """The search criteria of a Device or Endpoint search; raises the SDS 400 otherwise."""
    allowed = ALLOWED[resource]
    for name, value in query:
        if name not in allowed:
            raise sds_error(400, f"Illegal query parameter '{name}' (allowed on /{resource}: {', '.join(allowed)})")
        systems = SYSTEMS[name]
        if not any(value.startswith(system + "|") for system in systems):
            raise sds_error(400, f"Missing or invalid '{name}' query parameter: write it as "
                                 + " or ".join(f"'{name}={system}|value'" for system in systems))
    criteria = {"ods": _value(query, ORGANIZATION, spec.ODS_ORG_SYSTEM),
                "interaction_id": _value(query, IDENTIFIER, spec.SDS_INTERACTION_SYSTEM),
                "party_key": _value(query, IDENTIFIER, spec.SDS_PARTY_KEY_SYSTEM),
                "manufacturer": _value(query, MANUFACTURER, spec.ODS_ORG_SYSTEM)}
    if resource == "Device":
        if criteria["ods"] is None:
            raise sds_error(400, f"Missing or invalid 'organization' query parameter: "
                                 f"'organization={spec.ODS_ORG_SYSTEM}|value' is required")
        if criteria["interaction_id"] is None:
            raise sds_error(400, f"Missing or invalid 'identifier' query parameter: "
                                 f"'identifier={spec.SDS_INTERACTION_SYSTEM}|value' is required")
    else:
        ods, service, party = criteria["ods"], criteria["interaction_id"], criteria["party_key"]
        if (ods and not service and not party) or (not ods and (not service or not party)):
            raise sds_error(400, "Missing or invalid query parameters: use one of these combinations: "
                                 + "; ".join(COMBINATIONS))
    return criteria


def search(resource: str, query: list, *, registry, consumer_origin: str, self_url: str, resource_base: str,
           quirks=frozenset()) -> tuple[dict, dict]:
    """(the searchset Bundle, the journal's facts). ``quirks``: extra registry quirks a fault rule
    adds to this answer (mockprovider.registry.practices.SDS_QUIRKS), for every practice in it."""
    criteria = parse(resource, query)
    extra = {p.ods: frozenset(quirks) for p in registry.practices} if quirks else None
    if resource == "Device":
        records = registry.devices(criteria["ods"], criteria["interaction_id"], criteria["party_key"],
                                   criteria["manufacturer"], extra_quirks=extra)
        resources = [sds_fhir.device(r) for r in records]
    else:
        records = registry.endpoints(criteria["ods"], criteria["interaction_id"], criteria["party_key"],
                                     extra_quirks=extra)
        resources = [sds_fhir.endpoint(r, consumer_origin, r.practice.quirks | frozenset(quirks)) for r in records]
    facts = {"ods": criteria["ods"], "sds_interaction": BY_INTERACTION_ID.get(criteria["interaction_id"] or "",
                                                                          criteria["interaction_id"]),
             "party_key": criteria["party_key"], "manufacturer": criteria["manufacturer"], "entries": len(resources)}
    return sds_fhir.bundle(resources, self_url, resource_base), facts
