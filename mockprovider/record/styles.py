"""Record styles: how a GP system supplier writes the same record, rendered by every area module.

A record's ``style`` (``record.style``: ``"emis"`` or ``"tpp"``; absent: the mock's own plain style)
changes how resources are written, never what they say. Each area module asks the build context
(:class:`mockprovider.record.common.Ctx`) for ids, identifiers, codings and instants, and the context
asks its style. Learnt from the specification's example payloads and the public supplier-shaped
fixtures (the NHS GP2GP adaptor keeps EMIS- and SystmOne-shaped Bundles); nothing is copied from them.

=============  ===========================  ===========================  ====================================
               plain (default)              EMIS Web (``emis``)          TPP SystmOne (``tpp``)
=============  ===========================  ===========================  ====================================
ids            uuid5 of (NHS number, type,  upper-case GUIDs; a          lower-case GUIDs (uuid5 of the style,
               item key), lower case        problem is ``<GUID>-PROB``,  NHS number, type and key)
                                            a statement ``<plan>-MS``
identifier     cross-care-setting id        ``https://EMISWeb/<ODS>``:   cross-care-setting id
                                            patient + resource GUID hex
clinical code  SNOMED CT as written         Read v2 (user-selected) +    SNOMED CT with description id +
                                            SNOMED CT with description   CTV3 (user-selected)
                                            id
drug code      dm+d as written              EMIS drug code (user-        dm+d + Multilex (user-selected)
                                            selected) + dm+d
code text      as written (``code_text``)   the Read term of an entry recorded before the SNOMED switch
                                            (2018-04-01), else the picked description's term, when it
                                            differs from the display
instants       a date at midnight UTC       milliseconds, ``+00:00``     whole seconds, UK offset
=============  ===========================  ===========================  ====================================

Translations come from :mod:`mockprovider.personas.terminology` (a concept without one is sent as
SNOMED CT only, user-selected). Times of day are the record's own: a styled record's items carry
date-times already written the supplier's way; only a bare date is turned into an instant here.
"""
from __future__ import annotations

import datetime
import uuid

from .. import spec
from ..personas import ids
from ..personas import terminology as terms
from ..personas.supplier_records import uk_offset      # the one UK-time rule (a supplier record's times too)

SCTDESCID = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-coding-sctdescid"
EMIS_DRUG_SYSTEM = "https://fhir.hl7.org.uk/Id/emis-drug-codes"
MULTILEX_DRUG_SYSTEM = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
CROSS_CARE_ID_SYSTEM = "https://fhir.nhs.uk/Id/cross-care-setting-identifier"
NAMESPACE = uuid.UUID("6b1c1f4e-6f1a-5c55-9a43-2f6d3c9e7a10")
SNOMED_SWITCH = "2018-04-01"          # GP systems recorded in Read codes before this day


def _split(code_text: str) -> tuple[str, str]:
    code, _, display = code_text.partition("|")
    return code, display


class Plain:
    """The mock's own style: codes and dates as the persona writes them."""
    name = "plain"

    def __init__(self, nhs: str, ods: str):
        self.nhs, self.ods = nhs, ods

    def rid(self, kind: str, key: str) -> str:
        return ids.resource_id(self.nhs, kind, key)

    def identifier(self, rid: str) -> list:
        return [{"system": CROSS_CARE_ID_SYSTEM, "value": rid}]

    def concept(self, code_text: str, date: str | None = None, text: str | None = None,
                description: bool = True) -> dict:
        code, display = _split(code_text)
        out: dict = {"coding": [{"system": spec.SNOMED, "code": code, "display": display}]}
        if text:
            out["text"] = text
        return out

    def drug(self, code_text: str, text: str | None = None) -> dict:
        return self.concept(code_text, text=text)

    def instant(self, value: str) -> str:
        return value if "T" in value else f"{value}T00:00:00+00:00"


class _Supplier(Plain):
    def rid(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.name}/{self.nhs}/{kind}/{key}"))

    @staticmethod
    def snomed(term, code: str, display: str, selected: bool, description: bool) -> dict:
        coding: dict = {}
        if description and term is not None and term.description_id:
            parts = [{"url": "descriptionId", "valueId": term.description_id}]
            if term.description_term and term.description_term != term.display:
                parts.append({"url": "descriptionDisplay", "valueString": term.description_term})
            coding["extension"] = [{"url": SCTDESCID, "extension": parts}]
        coding.update(system=spec.SNOMED, code=code, display=display)
        if selected:
            coding["userSelected"] = True
        return coding

    @staticmethod
    def original(term, date: str | None, text: str | None) -> str | None:
        """CodeableConcept.text: the record's own, else the Read term of an entry recorded in the Read era,
        else the picked description's term, when it differs from the display."""
        if text:
            return text
        if term is None:
            return None
        legacy = date is not None and date[:10] < SNOMED_SWITCH
        found = term.read_term if legacy and term.read_term else term.description_term
        return found if found and found != term.display else None

    def legacy(self, term) -> dict | None:
        raise NotImplementedError

    def concept(self, code_text: str, date: str | None = None, text: str | None = None,
                description: bool = True) -> dict:
        code, display = _split(code_text)
        term = terms.TERMS.get(code)
        legacy = self.legacy(term) if term is not None and term.read_v2 else None
        snomed = self.snomed(term, code, display, selected=legacy is None, description=description)
        out: dict = {"coding": self.order(snomed, legacy)}
        found = self.original(term, date, text)
        if found:
            out["text"] = found
        return out

    def order(self, snomed: dict, legacy: dict | None) -> list:
        raise NotImplementedError

    def supplier_drug(self, drug) -> dict | None:
        raise NotImplementedError

    def drug(self, code_text: str, text: str | None = None) -> dict:
        code, display = _split(code_text)
        drug = terms.DRUGS.get(code)
        local = self.supplier_drug(drug) if drug is not None else None
        dmd = {"system": spec.SNOMED, "code": code, "display": display}
        out: dict = {"coding": self.order(dmd, local)}
        found = text or (drug.legacy_name if drug is not None else None)
        if found:
            out["text"] = found
        return out


class Emis(_Supplier):
    """EMIS Web: upper-case GUIDs, EMISWeb identifiers, Read v2 first, milliseconds in UTC."""
    name = "emis"

    def rid(self, kind: str, key: str) -> str:
        if kind == "Condition":          # the problem header of a coded entry
            return super().rid("Observation", f"{key}/problem").upper() + "-PROB"
        if kind == "MedicationStatement":  # the statement of an authorisation
            return self.rid("MedicationRequest", f"{key}/plan") + "-MS"
        return super().rid(kind, key).upper()

    def identifier(self, rid: str) -> list:
        patient = super().rid("Patient", "patient")
        return [{"system": f"https://EMISWeb/{self.ods}", "value": (patient + rid).replace("-", "").upper()}]

    def legacy(self, term) -> dict:
        return {"system": spec.READ_V2, "code": term.read_v2, "display": term.read_term, "userSelected": True}

    def order(self, standard: dict, local: dict | None) -> list:
        return [local, standard] if local else [standard]

    def supplier_drug(self, drug) -> dict | None:
        if not drug.emis:
            return None
        return {"system": EMIS_DRUG_SYSTEM, "code": drug.emis, "display": drug.name, "userSelected": True}

    def instant(self, value: str) -> str:
        return value if "T" in value else f"{value}T00:00:00.000+00:00"


class Tpp(_Supplier):
    """TPP SystmOne: lower-case GUIDs, SNOMED CT first with CTV3 beside it, UK local time."""
    name = "tpp"

    def legacy(self, term) -> dict:
        return {"system": spec.CTV3, "code": term.read_v2[:5], "display": term.read_term, "userSelected": True}

    def order(self, standard: dict, local: dict | None) -> list:
        return [standard, local] if local else [standard]

    def supplier_drug(self, drug) -> dict | None:
        if not drug.multilex:
            return None
        return {"system": MULTILEX_DRUG_SYSTEM, "code": drug.multilex, "display": drug.name, "userSelected": True}

    def instant(self, value: str) -> str:
        if "T" in value:
            return value
        return f"{value}T00:00:00{uk_offset(datetime.date.fromisoformat(value[:10]))}"


STYLES = {"plain": Plain, "emis": Emis, "tpp": Tpp}
SUPPLIER_STYLES = ("emis", "tpp")


def style(name: str | None, nhs: str, ods: str) -> Plain:
    """The style a record names (None or "plain": the mock's own)."""
    return STYLES[name or "plain"](nhs, ods)
