"""Referrals: ``record.referrals`` -> ReferralRequest (CareConnect-GPC-ReferralRequest-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_referralrequest.md
(and accessrecord_structured_development_referralrequest_guidance.md).

Persona item fields: ``code``, ``priority`` (``routine``/``urgent``/``asap``/``stat``),
``service``, ``description``, ``problem``, and:

- ``recipient: {"ods", "name"}``: who the patient is referred to (ReferralRequest.recipient, with
  its Organization in the Bundle);
- ``ubrn``: the e-Referral Service Unique Booking Reference Number, a second identifier
  (``https://fhir.nhs.uk/Id/UBRN``);
- ``supporting``: keys of record items (observations, investigations...) or ``"document:<key>"``
  of persona documents sent with the referral (supportingInfo; never a problem: the page).
"""
from __future__ import annotations

from .. import spec
from ..personas.format import Checker
import re

from .common import Ctx, check_organization, note, put

UBRN_RE = re.compile(r"^\d{12}\Z")

FIELD = "referrals"
REQUIRED = ("code",)
OPTIONAL = ("priority", "service", "description", "problem", "recipient", "ubrn", "supporting")
UBRN_SYSTEM = "https://fhir.nhs.uk/Id/UBRN"
CODE_FIELDS = ("code",)


def check(c: Checker, item, p, keys):
    c.string(item.get("priority", "routine"), f"{p}.priority", choices=("routine", "urgent", "asap", "stat"))
    for name in ("service", "description"):
        if name in item:
            c.string(item[name], f"{p}.{name}")
    if "recipient" in item:
        check_organization(c, item["recipient"], f"{p}.recipient")
    if "ubrn" in item:
        c.string(item["ubrn"], f"{p}.ubrn", UBRN_RE)
    for i, key in enumerate(c.array(item.get("supporting", []), f"{p}.supporting")):
        c.string(key, f"{p}.supporting[{i}]")


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ReferralRequest", key, spec.PROFILE_REFERRAL_REQUEST, item)
    r["identifier"] = ctx.identifier("ReferralRequest", key)
    if item.get("ubrn"):
        r["identifier"].append({"system": UBRN_SYSTEM, "value": item["ubrn"]})
    r["status"] = "unknown"     # profile fixed value; the page: unknown for open or complete referrals
    r["intent"] = "order"
    r["priority"] = item.get("priority", "routine")
    if item.get("service"):
        r["serviceRequested"] = [{"text": item["service"]}]
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    r["authoredOn"] = item["date"]
    put(r, "requester", ctx.requester_of(item))
    if item.get("recipient"):
        r["recipient"] = [ctx.organization(item["recipient"])]
    r["reasonCode"] = [ctx.concept(item["code"], item["date"])]      # the page: the referral code goes here; type not sent
    put(r, "description", item.get("description"))
    put(r, "supportingInfo", [ctx.link[k] for k in item.get("supporting", []) if k in ctx.link])
    put(r, "note", note(item))
    return r, [r]
