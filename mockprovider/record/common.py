"""What every clinical area shares: the build context (ids, references), coding, dates, and the
checks common to every persona record item.

Kept small and general on purpose: an area's own codes, extensions and rules live in its module.

- ids: every resource id is ``uuid5`` of (NHS number, resource type, item key)
  (:func:`mockprovider.personas.ids.resource_id`), through :meth:`Ctx.id`;
- coding: persona codes are written ``"<SNOMED code>|<display>"``; :func:`concept` turns one into a
  CodeableConcept, :func:`coding` into one Coding;
- dates: persona dates are ``YYYY-MM-DD`` or a full date-time; :func:`instant` makes a FHIR instant.

Builders write dicts in a fixed key order: same persona, same bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .. import spec
from ..personas import ids
from ..personas.format import CODE_RE, DATE_OR_DATETIME_RE, ODS_RE, Checker

CROSS_CARE_ID_SYSTEM = "https://fhir.nhs.uk/Id/cross-care-setting-identifier"
UCUM = "http://unitsofmeasure.org"
HL7UK_SD = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
# The encounter an item was recorded in, as CareConnect-GPC-AllergyIntolerance-1 slices it
# (extension:encounter); no StructureDefinition defines an "Extension-CareConnect-GPC-Encounter-1".
EXT_ENCOUNTER = "http://hl7.org/fhir/StructureDefinition/encounter-associatedEncounter"
COMMENT_NOTE = ("37331000000100", "Comment note")
USUAL_GP = "usual_gp"       # how a record item names the persona's usual GP among its clinicians


# --- coding and dates ----------------------------------------------------------------------------------
def coding(code_text: str, system: str = spec.SNOMED) -> dict:
    """``"<code>|<display>"`` -> Coding."""
    code, _, display_ = code_text.partition("|")
    return {"system": system, "code": code, "display": display_}


def concept(code_text: str) -> dict:
    """``"<SNOMED>|<display>"`` -> CodeableConcept."""
    return {"coding": [coding(code_text)]}


def display(code_text: str) -> str:
    return code_text.partition("|")[2]


def instant(value: str) -> str:
    """A persona date as a FHIR instant (date-only values at midnight UTC)."""
    return value if "T" in value else f"{value}T00:00:00+00:00"


PRECISIONS = {"year": 4, "month": 7}


def clinical_date(item: dict) -> str:
    """When it happened, to the precision the record knows it (``precision``: ``year`` or ``month``
    cut the date to ``YYYY`` / ``YYYY-MM``; a FHIR dateTime may be that coarse)."""
    cut = PRECISIONS.get(item.get("precision"))
    return item["date"][:cut] if cut else item["date"]


def quantity(value, unit) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def note(item) -> list | None:
    """An item's ``note`` as an Annotation list (None without one)."""
    return [{"text": item["note"]}] if item.get("note") else None


def put(resource: dict, name: str, value):
    """Set ``resource[name]`` unless the value is None or empty."""
    if value is not None and value != []:
        resource[name] = value


# --- the build context ---------------------------------------------------------------------------------
def _everything(item) -> bool:
    return True


@dataclass
class Ctx:
    """What every builder needs: the persona, who recorded items, where items were recorded."""
    nhs: str
    patient_ref: dict
    organization_ref: dict
    practitioner_ref: dict | None
    encounter_of: dict = field(default_factory=dict)   # item key -> Encounter reference
    related: dict = field(default_factory=dict)        # problem key -> [references of linked items]
    actual: dict = field(default_factory=dict)         # problem key -> reference of the item it was raised from
    problem_links: dict = field(default_factory=dict)  # problem key -> [(parent|child|sibling, reference)]
    clinicians: dict = field(default_factory=dict)     # sds_user_id -> Practitioner reference
    location_ref: dict | None = None                   # the practice's Location (when sent)
    attachments: dict = field(default_factory=dict)    # document key -> Attachment (when the document is sent)
    organizations: dict = field(default_factory=dict)  # ODS code -> name: other organisations items name
    items: dict = field(default_factory=dict)          # item key -> persona item (every area)
    link: dict = field(default_factory=dict)           # item key -> reference of what was sent (built so far)
    parents: dict = field(default_factory=dict)        # observation key -> keys of observations listing it in members
    include: Callable = _everything                    # include(item): is a (confidential) item sent?
    style: object = None                               # the record's style (mockprovider.record.styles)

    def __post_init__(self):
        if self.style is None:
            from .styles import Plain
            self.style = Plain(self.nhs, "")

    def id(self, kind: str, key: str) -> str:
        return self.style.rid(kind, key)

    # --- what the record's style decides (mockprovider.record.styles) -------------------------------------
    def concept(self, code_text: str, date: str | None = None, text: str | None = None,
                description: bool = True) -> dict:
        """A CodeableConcept of a persona code, in the record's style (``date``: when the item was
        recorded, for a Read-era original term; ``description``: with the SNOMED description id, where
        the profile slices it)."""
        return self.style.concept(code_text, date, text, description)

    def drug(self, code_text: str, text: str | None = None) -> dict:
        return self.style.drug(code_text, text)

    def instant(self, value: str) -> str:
        return self.style.instant(value)

    def agent(self, item: dict) -> dict | None:
        """Who recorded or performed an item: its ``clinician`` (an sds_user_id of record.clinicians), else
        the usual GP."""
        return self.clinician(item.get("clinician"))

    def requester_of(self, item: dict) -> dict | None:
        agent = self.agent(item)
        return {"agent": agent, "onBehalfOf": self.organization_ref} if agent else None

    def ref(self, kind: str, key: str) -> dict:
        return {"reference": f"{kind}/{self.id(kind, key)}"}

    def head(self, kind: str, key: str, profile: str, item: dict | None = None) -> dict:
        """resourceType, id, meta (profile + NOPAT when the item says so)."""
        meta = {"profile": [profile]}
        if item is not None and item.get("nopat"):
            meta["security"] = [dict(spec.NOPAT_SECURITY)]
        return {"resourceType": kind, "id": self.id(kind, key), "meta": meta}

    def identifier(self, kind: str, key: str) -> list:
        return self.style.identifier(self.id(kind, key))

    def requester(self) -> dict | None:
        """Who asked for a request resource: the usual GP on behalf of the practice (None without a GP)."""
        if self.practitioner_ref is None:
            return None
        return {"agent": self.practitioner_ref, "onBehalfOf": self.organization_ref}

    def encounter(self, item_key: str) -> dict | None:
        return self.encounter_of.get(item_key)

    def organization(self, org: dict) -> dict:
        """A reference to another organisation (``{"ods", "name"}``: a lab, a referral recipient); the
        Bundle gets its Organization resource."""
        self.organizations.setdefault(org["ods"], org.get("name"))
        return {"reference": f"Organization/{ids.organization_id(org['ods'])}"}

    def clinician(self, sds_user_id: str | None) -> dict | None:
        """The Practitioner reference of a ``record.clinicians`` entry; None or "usual_gp": the usual GP."""
        if sds_user_id in (None, USUAL_GP):
            return self.practitioner_ref
        return self.clinicians[sds_user_id]


# --- checks common to every record item ----------------------------------------------------------------
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}\Z")
COMMON_REQUIRED = ("key", "date")
COMMON_OPTIONAL = ("confidential", "nopat", "note", "clinician", "precision")


def check_code(c: Checker, value, path):
    return c.string(value, path, CODE_RE)


def check_date(c: Checker, value, path):
    return c.string(value, path, DATE_OR_DATETIME_RE)


def check_bool(c: Checker, item, name, path):
    if name in item:
        c.boolean(item[name], f"{path}.{name}")


def check_key(c: Checker, value, path, keys: dict):
    """A key: the right form and unique in the record (``keys``: key -> JSON path of its first use)."""
    key = c.string(value, path, KEY_RE)
    if key in keys:
        c.fail(path, f"{key!r} is already used at {keys[key]}")
    keys[key] = path.rsplit(".", 1)[0]
    return key


def check_item(c: Checker, area, item, p, keys: dict):
    """The fields every item of ``area`` (a record module) shares: key, date, flags, note, codes, end."""
    c.obj(item, p, COMMON_REQUIRED + area.REQUIRED, COMMON_OPTIONAL + area.OPTIONAL)
    check_key(c, item["key"], f"{p}.key", keys)
    check_date(c, item["date"], f"{p}.date")
    check_bool(c, item, "confidential", p)
    check_bool(c, item, "nopat", p)
    if "note" in item:
        c.string(item["note"], f"{p}.note")
    if "clinician" in item:
        c.string(item["clinician"], f"{p}.clinician")
    if "precision" in item:
        c.string(item["precision"], f"{p}.precision", choices=tuple(PRECISIONS))
    for name in area.CODE_FIELDS:
        if name in item:
            check_code(c, item[name], f"{p}.{name}")
    if "end" in item and getattr(area, "END_IS_DATE", False):
        check_date(c, item["end"], f"{p}.end")


def check_organization(c: Checker, value, path):
    """``{"ods": "<ODS code>", "name": "..."}``: another organisation."""
    org = c.obj(value, path, ("ods",), ("name",))
    c.string(org["ods"], f"{path}.ods", ODS_RE)
    if "name" in org:
        c.string(org["name"], f"{path}.name")
    return org
