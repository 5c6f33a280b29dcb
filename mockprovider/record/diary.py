"""Diary entries: ``record.diary`` -> ProcedureRequest with intent ``plan``
(CareConnect-GPC-ProcedureRequest-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_diaryentry.md
(and accessrecord_structured_development_diaryentry_guidance.md).

Persona item fields: ``code`` (what is due), ``date`` (when it is due), ``problem``.
"""
from __future__ import annotations

from .. import spec
from ..domain.persona_format import Checker
from .common import Ctx, concept, note, put

FIELD = "diary"
REQUIRED = ("code",)
OPTIONAL = ("problem",)
CODE_FIELDS = ("code",)


def check(c: Checker, item, p, keys):
    pass


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ProcedureRequest", key, spec.PROFILE_PROCEDURE_REQUEST, item)
    r["identifier"] = ctx.identifier("ProcedureRequest", key)
    r["status"] = "active"
    r["intent"] = "plan"
    r["code"] = concept(item["code"])
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    r["occurrenceDateTime"] = item["date"]
    r["authoredOn"] = item["date"]
    if ctx.practitioner_ref:        # the diary entry page: requester.onBehalfOf is not in use
        r["requester"] = {"agent": ctx.practitioner_ref}
    put(r, "note", note(item))
    return r, [r]
