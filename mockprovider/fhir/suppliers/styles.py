"""How each GP system supplier writes the same record: ids, identifiers, codings, dates, wording.

Learnt from the specification's example payloads and the public consumer fixtures (the NHS GP2GP
adaptor keeps EMIS- and SystmOne-shaped Bundles); nothing is copied from them.

=============  ============================================  ==============================================
               EMIS Web                                      TPP SystmOne
=============  ============================================  ==============================================
ids            upper-case GUIDs; a problem's Condition is    lower-case GUIDs
               ``<GUID>-PROB``, a statement ``<GUID>-MS``
identifier     ``https://EMISWeb/<ODS>``: patient GUID +     ``https://fhir.nhs.uk/Id/cross-care-setting-
               resource GUID, hex, no dashes                 identifier``: the GUID
clinical code  Read v2 (user-selected) + SNOMED CT with      SNOMED CT with the description id, + CTV3
               description id and description display        (user-selected)
drug code      EMIS drug code (user-selected) + dm+d         dm+d + Multilex (user-selected) when known
times          milliseconds, ``+00:00``                      whole seconds, UK offset (``+01:00`` in summer)
consultation   ``type.text`` "GP Surgery", "Telephone call"  "Surgery Consultation", "Telephone Consultation"
allergy note   qualifiers as ``Name : value`` lines          free text
=============  ============================================  ==============================================
"""
from __future__ import annotations

import datetime
import uuid

from ... import spec

SCTDESCID = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-coding-sctdescid"
EMIS_DRUG_SYSTEM = "https://fhir.hl7.org.uk/Id/emis-drug-codes"
MULTILEX_DRUG_SYSTEM = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
CROSS_CARE = "https://fhir.nhs.uk/Id/cross-care-setting-identifier"
NAMESPACE = uuid.UUID("6b1c1f4e-6f1a-5c55-9a43-2f6d3c9e7a10")


def _last_sunday(year: int, month: int) -> datetime.date:
    day = datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)
    return day - datetime.timedelta(days=(day.weekday() + 1) % 7)


def uk_offset(moment: datetime.datetime) -> str:
    """+01:00 in British Summer Time (last Sunday of March to last Sunday of October), else +00:00."""
    day = moment.date()
    return "+01:00" if _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10) else "+00:00"


class Style:
    name = ""
    label = ""

    def __init__(self, nhs: str, ods: str, seed: str):
        self.nhs, self.ods, self.seed = nhs, ods, seed
        self.patient_guid = self.guid("patient")

    # --- ids --------------------------------------------------------------------------------------------
    def guid(self, key: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.name}/{self.seed}/{self.nhs}/{key}"))

    def rid(self, kind: str, key: str) -> str:
        return self.guid(f"{kind}/{key}")

    def identifier(self, rid: str) -> list:
        raise NotImplementedError

    def problem_id(self, key: str) -> str:
        return self.rid("Condition", key)

    def statement_id(self, plan_id: str, key: str) -> str:
        return self.rid("MedicationStatement", key)

    # --- codes ------------------------------------------------------------------------------------------
    @staticmethod
    def snomed(term, selected: bool = False) -> dict:
        coding: dict = {}
        if term.description_id:
            parts = [{"url": "descriptionId", "valueId": term.description_id}]
            if term.description_term and term.description_term != term.display:
                parts.append({"url": "descriptionDisplay", "valueString": term.description_term})
            coding["extension"] = [{"url": SCTDESCID, "extension": parts}]
        coding.update(system=spec.SNOMED, code=term.concept, display=term.display)
        if selected:
            coding["userSelected"] = True
        return coding

    def concept(self, term, legacy: bool = False, text: str | None = None) -> dict:
        """A CodeableConcept of a clinical term; ``legacy``: recorded in the Read era (the original
        term, when it differs from the SNOMED display, goes to ``text``)."""
        raise NotImplementedError

    def drug(self, drug) -> dict:
        raise NotImplementedError

    # --- dates ------------------------------------------------------------------------------------------
    def instant(self, moment: datetime.datetime) -> str:
        raise NotImplementedError

    encounter_types: tuple = ()
    headings: dict = {}

    def allergy_note(self, significance: str, episodicity: str, text: str) -> str:
        raise NotImplementedError


class Emis(Style):
    name = "emis"
    label = "EMIS Web"
    encounter_types = ("GP Surgery", "Telephone call", "Home Visit", "Clinic", "Scanned document")
    headings = {"history": "History", "examination": "Examination", "comment": "Comment", "plan": "Plan",
                "medication": "Medication", "test": "Test Request", "problem": "Problems"}

    def rid(self, kind: str, key: str) -> str:
        return super().rid(kind, key).upper()

    def problem_id(self, key: str) -> str:
        return self.rid("Observation", key) + "-PROB"     # the problem header of a coded entry

    def statement_id(self, plan_id: str, key: str) -> str:
        return plan_id + "-MS"                           # the statement of an authorisation

    def identifier(self, rid: str) -> list:
        value = (self.patient_guid + rid).replace("-", "").upper()
        return [{"system": f"https://EMISWeb/{self.ods}", "value": value}]

    def concept(self, term, legacy: bool = False, text: str | None = None) -> dict:
        codings = []
        if term.read_v2:
            codings.append({"system": spec.READ_V2, "code": term.read_v2, "display": term.read_term,
                            "userSelected": True})
        codings.append(self.snomed(term, selected=not term.read_v2))
        out: dict = {"coding": codings}
        original = text or (term.read_term if legacy and term.read_term else term.description_term)
        if original and original != term.display:
            out["text"] = original
        return out

    def drug(self, drug) -> dict:
        codings = []
        if drug.emis:
            codings.append({"system": EMIS_DRUG_SYSTEM, "code": drug.emis, "display": drug.name,
                            "userSelected": True})
        codings.append({"system": spec.SNOMED, "code": drug.dmd, "display": drug.name})
        out: dict = {"coding": codings}
        if drug.legacy_name:
            out["text"] = drug.legacy_name
        return out

    def instant(self, moment: datetime.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"

    def allergy_note(self, significance: str, episodicity: str, text: str) -> str:
        return f"Significance : {significance}\nEpisodicity : {episodicity}\n{text}"


class Tpp(Style):
    name = "tpp"
    label = "TPP SystmOne"
    encounter_types = ("Surgery Consultation", "Telephone Consultation", "Home Visit", "Nurse Clinic",
                       "Administration")
    headings = {"history": "History", "examination": "Examination", "comment": "Comment", "plan": "Plan",
                "medication": "Medication", "test": "Investigations", "problem": "Problem"}

    def identifier(self, rid: str) -> list:
        return [{"system": CROSS_CARE, "value": rid}]

    def concept(self, term, legacy: bool = False, text: str | None = None) -> dict:
        codings = [self.snomed(term, selected=not term.read_v2)]
        if term.read_v2:
            codings.append({"system": spec.CTV3, "code": term.read_v2[:5], "display": term.read_term,
                            "userSelected": True})
        out: dict = {"coding": codings}
        original = text or (term.read_term if legacy and term.read_term else term.description_term)
        if original and original != term.display:
            out["text"] = original
        return out

    def drug(self, drug) -> dict:
        codings = [{"system": spec.SNOMED, "code": drug.dmd, "display": drug.name}]
        if drug.multilex:
            codings.append({"system": MULTILEX_DRUG_SYSTEM, "code": drug.multilex, "display": drug.name,
                            "userSelected": True})
        out: dict = {"coding": codings}
        if drug.legacy_name:
            out["text"] = drug.legacy_name
        return out

    def instant(self, moment: datetime.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + uk_offset(moment)

    def allergy_note(self, significance: str, episodicity: str, text: str) -> str:
        return f"{text} ({significance.lower()} significance, {episodicity.lower()} episode)"


STYLES = {"emis": Emis, "tpp": Tpp}
