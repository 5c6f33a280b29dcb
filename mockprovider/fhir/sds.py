"""SDS FHIR API answers (FHIR R4): Device (an Accredited System record) and Endpoint (an MHS record),
each in a searchset Bundle.

Shapes learnt from NHSDigital/spine-directory-service-api (specification/components/examples,
the service's request/fhir_json_mapper.py) and the fields the GPC Consumer Adaptor reads
(SdsClient: Device ``identifier`` nhsSpineASID, Endpoint ``address`` and ``identifier`` nhsMHSId):

- Device: ``identifier`` nhsSpineASID then nhsMhsPartyKey; ``extension`` the manufacturing
  organisation then one NhsServiceInteractionId per interaction; ``owner`` the organisation's ODS code;
- Endpoint: ``status`` active, ``connectionType`` hl7-fhir-msg, ``payloadType`` any, ``address`` the
  service root (no trailing slash), ``managingOrganization``, ``identifier`` nhsMhsFQDN, nhsMhsPartyKey,
  nhsMhsCPAId, nhsMHSId; ``extension`` the reliability configuration and the interaction;
- the Bundle: ``type`` searchset, ``total``, ``link`` self (the request URL, decoded), one entry per
  match with ``fullUrl`` (the resource URL) and ``search.mode`` match. No match: ``total`` 0 and an
  empty ``entry`` (200, never 404).

Ids are deterministic (uuid5 of what the record is), upper case as the API writes them; a registry
quirk or a ``quirk`` fault rule changes what is published (mockprovider.registry.practices.QUIRKS).
"""
from __future__ import annotations

import uuid

from .. import spec
from ..personas.ids import NAMESPACE

RELIABILITY = (("nhsMHSSyncReplyMode", "None"), ("nhsMHSDuplicateElimination", "never"),
               ("nhsMHSAckRequested", "never"))


def _id(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, "sds/" + "/".join(parts))).upper()


def _identifier(system: str, value: str) -> dict:
    return {"system": system, "value": value}


def _ods_reference(ods: str) -> dict:
    return {"identifier": _identifier(spec.ODS_ORG_SYSTEM, ods)}


def _interaction_extension(interaction_id: str) -> dict:
    return {"url": spec.SDS_INTERACTION_EXTENSION,
            "valueReference": {"identifier": _identifier(spec.SDS_INTERACTION_SYSTEM, interaction_id)}}


def device(record) -> dict:
    """A Device from an AS record (mockprovider.registry.practices.AsRecord)."""
    identifiers = [_identifier(spec.SDS_ASID_SYSTEM, record.asid)]
    if record.party_key:
        identifiers.append(_identifier(spec.SDS_PARTY_KEY_SYSTEM, record.party_key))
    extensions = [{"url": spec.SDS_MANUFACTURER_EXTENSION, "valueReference": _ods_reference(record.manufacturer)}]
    extensions += [_interaction_extension(i) for i in record.interactions]
    return {"resourceType": "Device", "id": _id("Device", record.ods, record.asid),
            "identifier": identifiers, "extension": extensions, "owner": _ods_reference(record.ods)}


def endpoint(record, consumer_origin: str, quirks=frozenset()) -> dict:
    """An Endpoint from an MHS record (mockprovider.registry.practices.MhsRecord); ``quirks``: the
    practice's plus any fault rule's, for this answer."""
    practice = record.practice
    address = practice.address(record.name, consumer_origin)
    if "trailing-slash" in quirks:
        address += "/"
    if "empty-address" in quirks:
        address = ""                 # as the GPC Consumer Adaptor's own test stub has it: not valid FHIR
    identifiers = [_identifier(spec.SDS_FQDN_SYSTEM, practice.fqdn(consumer_origin))]
    if record.party_key:
        identifiers.append(_identifier(spec.SDS_PARTY_KEY_SYSTEM, record.party_key))
    identifiers.append(_identifier(spec.SDS_CPA_ID_SYSTEM, practice.mhs_id))
    if record.mhs_id:
        identifiers.append(_identifier(spec.SDS_MHS_ID_SYSTEM, record.mhs_id))
    return {
        "resourceType": "Endpoint",
        "id": _id("Endpoint", practice.ods, record.name, "2" if record.second else "1"),
        "status": "active",
        "connectionType": {"system": spec.ENDPOINT_CONNECTION_TYPE_SYSTEM, "code": "hl7-fhir-msg",
                           "display": "HL7 FHIR Messaging"},
        "payloadType": [{"coding": [{"system": spec.ENDPOINT_PAYLOAD_TYPE_SYSTEM, "code": "any",
                                     "display": "Any"}]}],
        "address": address,
        "managingOrganization": _ods_reference(practice.ods),
        "identifier": identifiers,
        "extension": [
            {"url": spec.SDS_RELIABILITY_EXTENSION,
             "extension": [{"url": name, "valueString": value} for name, value in RELIABILITY]},
            _interaction_extension(record.interaction_id),
        ],
    }


def bundle(resources: list[dict], self_url: str, resource_base: str) -> dict:
    """The searchset: ``resource_base`` is the request's URL path (…/Device or …/Endpoint), each
    ``fullUrl`` is ``<resource_base>/<id>``."""
    # "entry": [] when nothing matches, as the SDS service's mapper writes it (and the GPC Consumer
    # Adaptor's no-result fixture shows), though FHIR JSON prefers an absent array.
    return {"resourceType": "Bundle", "id": _id("Bundle", self_url), "type": "searchset",
            "total": len(resources), "link": [{"relation": "self", "url": self_url}],
            "entry": [{"fullUrl": f"{resource_base.rstrip('/')}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}
