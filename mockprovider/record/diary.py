"""Diary entries: ``record.diary`` -> ProcedureRequest with intent ``plan``
(CareConnect-GPC-ProcedureRequest-1).

Page (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_diaryentry.md
(and accessrecord_structured_development_diaryentry_guidance.md).

Persona item fields: ``code`` (what is due), ``date`` (when the entry was recorded: ``authoredOn``),
``due`` (when it is due: ``occurrenceDateTime``; a date, a date-time, or ``YYYY-MM`` when only the month
is planned), ``problem``. The page: authoredOn is "the date the diary entry was entered into the
original source system"; occurrence "the date or date range when the diary entry is planned to occur".
"""
from __future__ import annotations

import re

from .. import spec
from ..personas.format import Checker
from .common import Ctx, note, put

FIELD = "diary"
REQUIRED = ("code",)
OPTIONAL = ("problem", "due")
CODE_FIELDS = ("code",)
DUE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?\Z")


def check(c: Checker, item, p, keys):
    if "due" in item:
        due = c.string(item["due"], f"{p}.due", DUE_RE)[:10]
        if item["date"][:len(due)] >= due:
            c.fail(f"{p}.due", f"{item['due']} is not after the entry was recorded ({item['date']}): a diary "
                               f"entry is recorded before it falls due")


def build(ctx: Ctx, item: dict):
    key = item["key"]
    r = ctx.head("ProcedureRequest", key, spec.PROFILE_PROCEDURE_REQUEST, item)
    r["identifier"] = ctx.identifier("ProcedureRequest", key)
    r["status"] = "active"
    r["intent"] = "plan"
    r["code"] = ctx.concept(item["code"], item["date"], description=False)   # ProcedureRequest.code slices no description id
    r["subject"] = ctx.patient_ref
    put(r, "context", ctx.encounter(key))
    put(r, "occurrenceDateTime", item.get("due"))
    r["authoredOn"] = item["date"]
    if ctx.agent(item):        # the diary entry page: requester.onBehalfOf is not in use
        r["requester"] = {"agent": ctx.agent(item)}
    put(r, "note", note(item))
    return r, [r]
