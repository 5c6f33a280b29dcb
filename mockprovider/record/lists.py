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

# Secondary Lists (GPConnect-SecondaryListValues-1): area -> title, in Bundle order. "ended_allergies"
# are the allergies contained in the Ended allergies List; "problems" under PROBLEM_SECONDARY are
# problems linked to problems (relatedProblemHeader): in a migrate every problem is in the primary
# List, so that List is only sent, empty with the warning, when a linked problem was left out.
PROBLEM_SECONDARY = {
    "allergies": "Problems - allergies related to problems",
    "ended_allergies": "Problems - allergies that have been ended related to problems",
    "consultations": "Problems - consultations related to problems",
    "diary": "Problems - diary entries related to problems",
    "documents": "Problems - documents related to problems",
    "immunisations": "Problems - immunisations related to problems",
    "investigations": "Problems - investigations related to problems",
    "problems": "Problems - linked problems not relating to the primary query",
    "medications": "Problems - medications related to problems",
    "referrals": "Problems - outbound referrals related to problems",
    "observations": "Problems - uncategorised data related to problems",
}
CONSULTATION_SECONDARY = {
    "allergies": "Consultations - allergies contained in consultations",
    "ended_allergies": "Consultations - allergies that have been ended contained in consultations",
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


# List.orderedBy of consultation-structure Lists: "system" from http://hl7.org/fhir/list-order.
LIST_ORDER_SYSTEM = {"system": "http://hl7.org/fhir/list-order", "code": "system", "display": "Sorted by System"}


def snomed(code: str, display: str) -> dict:
    return {"system": spec.SNOMED, "code": code, "display": display}


def secondary_coding(title: str) -> dict:
    return {"system": spec.SECONDARY_LIST_SYSTEM, "code": secondary_code(title), "display": title}


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def note_date(date: str) -> str:
    """``YYYY-MM-DD...`` -> ``dd-Mmm-yyyy`` (the warning texts' date form, e.g. 23-Jun-2010)."""
    return f"{date[8:10]}-{MONTHS[int(date[5:7]) - 1]}-{date[:4]}"


def record_warnings(record: dict) -> dict:
    """The record-wide warnings a persona declares: code -> (note text, areas or None for every List).

    ``record.in_transit: {"date"}``: the record from the previous practice has not all arrived:
    data-in-transit on every primary and secondary List (the page: "all the lists returned").
    ``record.awaiting_filing: {"date", "areas"}``: items in the practice's workflow not yet filed:
    data-awaiting-filing on the primary Lists of those areas.
    """
    out = {}
    if record.get("in_transit"):
        out["data-in-transit"] = (spec.LIST_WARNINGS["data-in-transit"].format(
            date=note_date(record["in_transit"]["date"])), None)
    if record.get("awaiting_filing"):
        filing = record["awaiting_filing"]
        out["data-awaiting-filing"] = (spec.LIST_WARNINGS["data-awaiting-filing"].format(
            date=note_date(filing["date"])), tuple(filing["areas"]))
    return out


class ListMaker:
    """Makes Lists for one Bundle: every List has the patient as subject and the record's date.

    ``warnings`` (:func:`record_warnings`) are added to the primary and secondary Lists they
    apply to (``area``: the primary List's area, None for a secondary List); never to the
    consultation structure Lists. All warning texts go in one note, in code order, followed by
    "Information not available" when the List is empty (the List page: note 0..1, several warnings
    concatenated).
    """

    def __init__(self, patient_ref: dict, date: str, warnings: dict | None = None):
        self.patient_ref, self.date = patient_ref, date
        self.warnings = warnings or {}

    def record_list(self, title: str, coding: dict, refs: list, warned: bool, *, area=None, contained=None,
                    list_id=None) -> dict:
        """A primary (``area`` given) or secondary List, with the record-wide warnings that apply.

        ``list_id``: only the Ended allergies List has one, and only when something outside it
        references an allergy it contains (``List/<id>#<allergy id>``, the allergies guidance).
        """
        codes = ["confidential-items"] if warned else []
        for code, (_, areas) in self.warnings.items():
            if areas is None or (area is not None and area in areas):
                codes.append(code)
        return self.make(title, coding, refs, codes, contained=contained, list_id=list_id)

    def structure(self, title: str | None, coding: dict, refs: list, *, list_id: str, encounter: dict, date: str,
                  extensions=()) -> dict:
        """A consultation, topic or heading List (accessrecord_structured_development_list_consutation.md):
        an id and the encounter, ``orderedBy`` system, ``date`` = when the consultation was last edited,
        and only what that page lists: the relatedProblemHeader extension on a topic, no clinical-setting
        or warning extension, no note, never empty (the caller leaves out a List with nothing in it)."""
        r = {"resourceType": "List", "id": list_id, "meta": {"profile": [spec.PROFILE_LIST]}}
        if extensions:
            r["extension"] = list(extensions)
        r.update({"status": "current", "mode": "snapshot"})
        if title:
            r["title"] = title
        r.update({"code": {"coding": [coding]}, "subject": self.patient_ref, "encounter": encounter,
                  "date": date, "orderedBy": {"coding": [dict(LIST_ORDER_SYSTEM)]},
                  "entry": [{"item": ref} for ref in refs]})
        return r

    def make(self, title: str | None, coding: dict, refs: list, warned, *, list_id=None, encounter=None,
             contained=None, extensions=()) -> dict:
        """A List; ``warned``: True (confidential-items), False, or a list of warning codes."""
        codes = (["confidential-items"] if warned else []) if isinstance(warned, bool) else list(warned)
        r = {"resourceType": "List"}
        if list_id:
            r["id"] = list_id     # consultation-structure Lists (and a referenced Ended allergies List)
        r["meta"] = {"profile": [spec.PROFILE_LIST]}
        ext = [{"url": spec.CLINICAL_SETTING_EXTENSION, "valueCodeableConcept": {"coding": [
            {"system": spec.SNOMED, "code": spec.CLINICAL_SETTING[0], "display": spec.CLINICAL_SETTING[1]}]}}]
        for code in codes:
            ext.append({"url": spec.LIST_WARNING_EXTENSION, "valueCode": code})
        ext += extensions
        r["extension"] = ext
        if contained:
            r["contained"] = contained
        r["status"] = "current"
        r["mode"] = "snapshot"
        if title:
            r["title"] = title
        r["code"] = {"coding": [coding]}
        r["subject"] = self.patient_ref
        if encounter:
            r["encounter"] = encounter
        r["date"] = self.date
        texts = [self.warnings[code][0] if code in self.warnings else spec.LIST_WARNINGS[code] for code in codes]
        if refs:
            r["entry"] = [{"item": ref} for ref in refs]
        else:
            texts.append(spec.LIST_EMPTY_NOTE)
            r["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
        if texts:
            r["note"] = [{"text": " ".join(texts)}]
        return r
