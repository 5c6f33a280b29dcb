"""Referrals: ``record.referrals`` -> ReferralRequest (CareConnect-GPC-ReferralRequest-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_referralrequest.md
(and accessrecord_structured_development_referralrequest_guidance.md).

Persona item fields: ``code``, ``priority`` (``routine``/``urgent``/``asap``/``stat``),
``service``, ``description``, ``problem``.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import Ctx, concept, note, put

FIELD = "referrals"
REQUIRED = ("code",)
OPTIONAL = ("priority", "service", "description", "problem")
CODE_FIELDS = ("code",)


def check(c: Checker, item, p, keys):
    c.string(item.get("priority", "routine"), f"{p}.priority", choices=("routine", "urgent", "asap", "stat"))
    for name in ("service", "description"):
        if name in item:
            c.string(item[name], f"{p}.{name}")


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ReferralRequest", key, spec.PROFILE_REFERRAL_REQUEST, item)
    r["identifier"] = ctx.identifier("ReferralRequest", key)
    r["status"] = "unknown"     # profile fixed value; the page: unknown for open or complete referrals
    r["intent"] = "order"
    r["priority"] = item.get("priority", "routine")
    if item.get("service"):
        r["serviceRequested"] = [{"text": item["service"]}]
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    r["authoredOn"] = item["date"]
    put(r, "requester", ctx.requester())
    r["reasonCode"] = [concept(item["code"])]      # the page: the referral code goes here; type not sent
    put(r, "description", item.get("description"))
    put(r, "note", note(item))
    return r, [r]
