"""Lists: the primary List of each clinical area, the secondary Lists (items related to problems,
items contained in consultations), and the warnings and empty reasons a List carries
(CareConnect-GPC-List-1).

Pages (1.6.2): pages/accessrecord_structured/accessrecord_structured_development_list.md
(and accessrecord_structured_development_lists_for_message_structure.md); facts in
../shared/spec/migrate-structured.md ("Primary lists", "Secondary lists").

Consultation structure Lists (consultation, topic, heading) are made by :mod:`.consultations`
with the same :class:`ListMaker`.
"""
from __future__ import annotations

from .. import spec

# Primary Lists in Bundle order (keys of spec.PRIMARY_LISTS).
PRIMARY_ORDER = ("consultations", "problems", "allergies", "ended_allergies", "medications", "observations",
                 "immunisations", "investigations", "referrals", "diary")

# Secondary Lists (GPConnect-SecondaryListValues-1): area -> title, in Bundle order.
PROBLEM_SECONDARY = {
    "allergies": "Problems - allergies related to problems",
    "consultations": "Problems - consultations related to problems",
    "diary": "Problems - diary entries related to problems",
    "documents": "Problems - documents related to problems",
    "immunisations": "Problems - immunisations related to problems",
    "investigations": "Problems - investigations related to problems",
    "medications": "Problems - medications related to problems",
    "referrals": "Problems - outbound referrals related to problems",
    "observations": "Problems - uncategorised data related to problems",
}
CONSULTATION_SECONDARY = {
    "allergies": "Consultations - allergies contained in consultations",
    "diary": "Consultations - diary entries contained in consultations",
    "documents": "Consultations - documents contained in consultations",
    "immunisations": "Consultations - immunisations contained in consultations",
    "investigations": "Consultations - investigations contained in consultations",
    "medications": "Consultations - medications contained in consultations",
    "observations": "Consultations - uncategorised data contained in consultations",
    "referrals": "Consultations - outbound referrals in consultations",
    "problems": "Consultations - problems contained in consultations",
}


def secondary_code(title: str) -> str:
    """The SecondaryListValues code: the title lower-cased and hyphenated."""
    return title.lower().replace(" - ", "-").replace(" ", "-")


def snomed(code: str, display: str) -> dict:
    return {"system": spec.SNOMED, "code": code, "display": display}


def secondary_coding(title: str) -> dict:
    return {"system": spec.SECONDARY_LIST_SYSTEM, "code": secondary_code(title), "display": title}


class ListMaker:
    """Makes Lists for one Bundle: every List has the patient as subject and the record's date."""

    def __init__(self, patient_ref: dict, date: str):
        self.patient_ref, self.date = patient_ref, date

    def make(self, title: str, coding: dict, refs: list, warned: bool, *, list_id=None, encounter=None,
             contained=None) -> dict:
        r = {"resourceType": "List"}
        if list_id:
            r["id"] = list_id     # only consultation-structure Lists have ids
        r["meta"] = {"profile": [spec.PROFILE_LIST]}
        ext = [{"url": spec.CLINICAL_SETTING_EXTENSION, "valueCodeableConcept": {"coding": [
            {"system": spec.SNOMED, "code": spec.CLINICAL_SETTING[0], "display": spec.CLINICAL_SETTING[1]}]}}]
        if warned:
            ext.append({"url": spec.LIST_WARNING_EXTENSION, "valueCode": "confidential-items"})
        r["extension"] = ext
        if contained:
            r["contained"] = contained
        r["status"] = "current"
        r["mode"] = "snapshot"
        r["title"] = title
        r["code"] = {"coding": [coding]}
        r["subject"] = self.patient_ref
        if encounter:
            r["encounter"] = encounter
        r["date"] = self.date
        notes = []
        if warned:
            notes.append({"text": spec.LIST_WARNINGS["confidential-items"]})
        if refs:
            r["entry"] = [{"item": ref} for ref in refs]
        else:
            notes.append({"text": spec.LIST_EMPTY_NOTE})
            r["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
        if notes:
            r["note"] = notes
        return r
