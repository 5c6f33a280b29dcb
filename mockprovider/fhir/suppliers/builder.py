"""A long, messy, realistic GP record, in the shape one GP system supplier sends it.

``build(persona_data, spec, ods_code) -> {"entries", "attachments", "confidential"}`` (the shape of
a persona's ``fhir_record``, served by :mod:`mockprovider.fhir.served_record`). Deterministic: the
same persona data, ``supplier_record`` spec and ODS code give the same resources, in the same order.

What a record holds, by volume (:data:`VOLUMES`): decades of consultations with multi-paragraph
notes, recorded by several clinicians in different roles; long-term repeat medication, each drug
authorised again and again (a plan per authorisation, ``priorPrescription`` to the one before, an
order per issue — the first authorisation of the oldest drug has 100+ issues in a heavy record);
acute courses; problems linking what was recorded for them; allergies (one ended, one degraded in
an earlier GP2GP transfer); childhood and yearly immunisations; laboratory reports from a hospital
laboratory (test groups, results with ranges, filing comments, specimens); outbound referrals to a
hospital; diary entries; documents (letters) from the hospital. Dates are at every precision
STU3 allows (year, year-month, date, date-time); items recorded before the practice moved to
SNOMED carry their original Read term in ``text``; entries degraded in an earlier transfer carry
the degrade code with their original term; names and notes use non-ASCII characters.
A few items are confidential (mental health): listed in ``confidential`` so the mock leaves them
out without sensitive information; nothing in the resources marks them (the spec has no marker).
"""
from __future__ import annotations

import datetime
import random

from ... import spec
from ...record.allergies import EXT_ALLERGY_END
from ...record.immunisations import EXT_DATE_RECORDED, EXT_VACCINATION_PROCEDURE
from ...record.medications import (EXT_LAST_ISSUE, EXT_PRESCRIBING_AGENCY, EXT_PRESCRIPTION_TYPE, EXT_QUANTITY_TEXT,
                                   EXT_REPEAT_INFO, EXT_STATUS_REASON)
from ...record.problems import CONDITION_CATEGORY, EXT_ACTUAL_PROBLEM
from ...record.problems import EXT_PROBLEM_SIGNIFICANCE as EXT_SIGNIFICANCE
from ...record.problems import EXT_RELATED_CONTENT as EXT_RELATED
from . import terms
from .styles import STYLES

REFERENCE = datetime.datetime(2025, 1, 1, 9, 0, 0)         # "now": when the record is extracted
UCUM = "http://unitsofmeasure.org"
EXT_REGISTRATION = spec.SD + "Extension-CareConnect-GPC-RegistrationDetails-1"
EXT_MAIN_LOCATION = spec.SD + "Extension-CareConnect-GPC-MainLocation-1"
SDS_JOB_ROLE = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
PARTICIPANT_TYPE = "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-ParticipantType-1"
SNOMED_SWITCH = datetime.date(2018, 4, 1)    # before this, GP systems recorded in Read codes

# Per volume: years of record, consultations, repeat drugs, authorisations per drug, issues per
# authorisation (the first authorisation of the first drug has long_issues), laboratory reports,
# acute courses, referrals, letters.
VOLUMES = {
    "small": dict(years=6, consultations=10, repeats=2, auths=2, issues=6, long_issues=12, labs=2, acutes=3,
                  referrals=1, letters=1),
    "typical": dict(years=22, consultations=45, repeats=4, auths=3, issues=12, long_issues=40, labs=8, acutes=10,
                    referrals=3, letters=3),
    "heavy": dict(years=32, consultations=130, repeats=6, auths=5, issues=24, long_issues=110, labs=26, acutes=30,
                  referrals=6, letters=6),
}

# Clinicians of the practice (and two outside it): (key, role, gender, prefix, given, family).
CLINICIANS = (
    ("gp2", "gp", "female", "Dr", "Siobhán", "Ní Bhriain"),
    ("registrar", "registrar", "male", "Dr", "José", "Álvarez-Núñez"),
    ("nurse", "nurse", "female", "Mrs", "Zoë", "Ødegaard"),
    ("staff-nurse", "staff-nurse", "male", "Mr", "Łukasz", "Wiśniewski"),
    ("pharmacist", "pharmacist", "female", "Ms", "Chloé", "Dubois-Bérénger"),
    ("phlebotomist", "phlebotomist", "female", "Ms", "Aoife", "O'Ceallaigh"),
)
HOSPITAL = ("RR8", "Leeds Teaching Hospitals NHS Trust")
LABORATORY = ("RAE", "Bradford Teaching Hospitals NHS Foundation Trust")
CONSULTANT = ("consultant", "consultant", "male", "Mr", "Rhodri", "ap Gruffydd")
SCIENTIST = ("scientist", "scientist", "female", "Dr", "Ngozi", "Adébáyọ̀")

# Words for consultation notes (several paragraphs each, some non-ASCII).
HISTORY = (
    "Attends with {who}. Reports {symptom} for about {n} weeks, worse in the evenings.",
    "Seen for review of {problem}. Says things have been \u201cmuch the same\u201d since last time.",
    "Telephone review. Patient called back as arranged; reports {symptom}, no red-flag symptoms.",
    "Came in with {who} about {symptom}. Sleeping poorly; appetite OK.",
)
EXAMINATION = (
    "Looks well. Temp 37.1\u00b0C, pulse 78 regular, chest clear, heart sounds normal.",
    "BP as recorded. No ankle oedema. Abdomen soft, non-tender.",
    "Alert and orientated. Mild tenderness L4\u2013L5, straight-leg raise 70\u00b0 bilaterally.",
    "Peak flow {n}0 L/min. No wheeze today. Inhaler technique checked \u2013 good.",
)
PLAN = (
    "Continue current medication. Review in {n} weeks, sooner if worse.\n\nSafety-netting advice given; "
    "patient understands and agrees with the plan.",
    "Bloods: FBC, U&E, LFT, lipids. Will ring with results.\n\nDiscussed lifestyle (diet, alcohol, "
    "exercise); leaflet given.",
    "Medication reviewed with patient \u2013 no changes. Repeats re-authorised for 12 months.",
    "Referred as below. Explained waiting times (approx. {n} weeks).",
)
WHO = ("her daughter", "his son", "a carer", "no one", "his wife", "her husband")
SYMPTOMS = ("tiredness", "low back pain", "breathlessness on exertion", "dizziness on standing", "dry eyes",
            "indigestion", "swollen ankles")


def _date(moment) -> str:
    return moment.strftime("%Y-%m-%d")


class Builder:
    def __init__(self, data: dict, supplier: dict, ods: str):
        self.data = data
        self.nhs = data["nhs_number"]
        self.ods = ods
        self.volume = supplier.get("volume", "small")
        self.v = VOLUMES[self.volume]
        self.s = STYLES[supplier["style"]](self.nhs, ods, str(supplier["seed"]))
        self.rnd = random.Random(f"supplier-record/{supplier['style']}/{supplier['seed']}/{self.volume}")
        born = datetime.date.fromisoformat(data["birth_date"])
        start = max(datetime.date(REFERENCE.year - self.v["years"], 1, 15), born + datetime.timedelta(days=365 * 16))
        if start >= REFERENCE.date() - datetime.timedelta(days=200):
            start = born + datetime.timedelta(days=30)
        self.start = start
        self.entries: list = []               # clinical resources, in order
        self.confidential: list = []
        self.patient_ref = {"reference": f"Patient/{self.s.rid('Patient', 'patient')}"}
        self.practice_ref = {"reference": f"Organization/{self.s.rid('Organization', ods)}"}
        self.location_ref = {"reference": f"Location/{self.s.rid('Location', ods)}"}
        self.hospital_ref = {"reference": f"Organization/{self.s.rid('Organization', HOSPITAL[0])}"}
        self.lab_ref = {"reference": f"Organization/{self.s.rid('Organization', LABORATORY[0])}"}
        # Primary List membership (area -> refs) and secondary links.
        self.primary = {k: [] for k in ("consultations", "problems", "allergies", "medications", "observations",
                                        "immunisations", "investigations", "referrals", "diary")}
        self.ended_allergies: list = []
        self.problem_links: dict = {}          # problem key -> {area: [refs]}
        self.in_consultation: dict = {}        # area -> [refs]
        self.problems: dict = {}               # problem key -> (Condition resource, term)
        self.clinicians: dict = {}             # key -> Practitioner ref

    # --- helpers ------------------------------------------------------------------------------------------
    def ref(self, r: dict) -> dict:
        return {"reference": f"{r['resourceType']}/{r['id']}"}

    def head(self, kind: str, rid: str, profile: str, nopat: bool = False) -> dict:
        meta: dict = {"profile": [profile]}
        if nopat:
            meta["security"] = [dict(spec.NOPAT_SECURITY)]
        return {"resourceType": kind, "id": rid, "meta": meta}

    def moment(self, day: datetime.date, hour: int | None = None) -> datetime.datetime:
        h = hour if hour is not None else self.rnd.choice((8, 9, 10, 11, 14, 15, 16, 17))
        return datetime.datetime(day.year, day.month, day.day, h, self.rnd.randrange(0, 60, 5),
                                 self.rnd.randrange(60), self.rnd.randrange(0, 1000) * 1000)

    def when(self, day: datetime.date) -> datetime.datetime:
        return self.moment(day)

    def effective(self, day: datetime.date, precision: str) -> str:
        """A dateTime at the given precision: year, month, day or date-time."""
        if precision == "year":
            return f"{day.year:04d}"
        if precision == "month":
            return f"{day.year:04d}-{day.month:02d}"
        if precision == "day":
            return _date(day)
        return self.s.instant(self.moment(day))

    def day_between(self, a: datetime.date, b: datetime.date) -> datetime.date:
        span = max((b - a).days, 0)
        return a + datetime.timedelta(days=self.rnd.randint(0, span))

    def concept(self, term, day: datetime.date, text: str | None = None) -> dict:
        return self.s.concept(term, legacy=day < SNOMED_SWITCH, text=text)

    def plain_concept(self, term, day: datetime.date) -> dict:
        """A concept without the description-id extension: CareConnect-GPC-ProcedureRequest-1's code
        does not slice it (the conformance check finds it undefined there)."""
        out = self.concept(term, day)
        for coding in out["coding"]:
            coding.pop("extension", None)
        return out

    def link(self, problem_key, area, ref):
        if problem_key:
            self.problem_links.setdefault(problem_key, {}).setdefault(area, []).append(ref)

    def add(self, resource: dict, confidential: bool = False) -> dict:
        self.entries.append(resource)
        if confidential:
            self.confidential.append(f"{resource['resourceType']}/{resource['id']}")
        return resource

    # --- admin --------------------------------------------------------------------------------------------
    def practitioner(self, key, role, gender, prefix, given, family, org_ref, sds=None) -> list:
        pid = self.s.rid("Practitioner", key)
        p = {"resourceType": "Practitioner", "id": pid,
             "meta": {"versionId": "1", "profile": [spec.PROFILE_PRACTITIONER]}}
        if sds:
            p["identifier"] = [{"system": spec.SDS_USER_SYSTEM, "value": sds}]
        p["name"] = [{"use": "usual", "family": family, "given": [given], "prefix": [prefix]}]
        p["gender"] = gender
        code, display = terms.ROLES[role]
        pr = {"resourceType": "PractitionerRole", "id": self.s.rid("PractitionerRole", key),
              "meta": {"versionId": "1", "profile": [spec.PROFILE_PRACTITIONER_ROLE]},
              "practitioner": {"reference": f"Practitioner/{pid}"}, "organization": org_ref,
              "code": [{"coding": [{"system": SDS_JOB_ROLE, "code": code, "display": display}]}]}
        self.clinicians[key] = {"reference": f"Practitioner/{pid}"}
        return [p, pr]

    def organization(self, ods, name, kind_text, main_location=None) -> dict:
        org = {"resourceType": "Organization", "id": self.s.rid("Organization", ods),
               "meta": {"versionId": "1", "profile": [spec.PROFILE_ORGANIZATION]}}
        if main_location:
            org["extension"] = [{"url": EXT_MAIN_LOCATION, "valueReference": main_location}]
        org["identifier"] = [{"system": spec.ODS_ORG_SYSTEM, "value": ods}]
        org["type"] = [{"text": kind_text}]
        org["name"] = name
        return org

    def admin(self) -> list:
        d = self.data
        gp = d.get("usual_gp") or {"sds_user_id": "G8133438", "name": {"family": "Okonkwo-Brennan",
                                                                      "given": ["Máire"], "prefix": ["Dr"]},
                                  "gender": "female"}
        practice_name = f"{'The Dales' if self.s.name == 'emis' else 'Riverside'} Medical Practice"
        out = []
        patient = {"resourceType": "Patient", "id": self.s.rid("Patient", "patient"),
                   "meta": {"versionId": "1", "profile": [spec.PROFILE_PATIENT]}}
        reg = d.get("registration") or {"date": _date(self.start)}
        patient["extension"] = [{"url": EXT_REGISTRATION, "extension": [
            {"url": "registrationPeriod", "valuePeriod": {"start": reg["date"]}},
            {"url": "registrationType", "valueCodeableConcept": {"coding": [{
                "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1",
                "code": reg.get("type", "R"), "display": {"R": "Regular", "T": "Temporary"}.get(reg.get("type", "R"),
                                                                                              "Regular")}]}},
            {"url": "preferredBranchSurgery", "valueReference": self.location_ref}]}]
        status = d.get("nhs_number_status", "01")
        patient["identifier"] = [{"extension": [{"url": spec.NHS_NUMBER_STATUS_EXTENSION, "valueCodeableConcept": {
            "coding": [{"system": spec.NHS_NUMBER_STATUS_SYSTEM_CANONICAL, "code": status,
                        "display": spec.NHS_NUMBER_STATUSES[status]}]}}],
            "system": spec.NHS_NUMBER_SYSTEM, "value": self.nhs}]
        patient["active"] = d.get("active", True)
        name = d["name"]
        official = {"use": "official", "family": name["family"]}
        for part in ("given", "prefix", "suffix"):
            if name.get(part):
                official[part] = list(name[part])
        patient["name"] = [official]
        if d.get("telecom"):
            patient["telecom"] = [dict(t) for t in d["telecom"]]
        patient["gender"] = d["gender"]
        patient["birthDate"] = d["birth_date"]
        if d.get("deceased"):
            patient["deceasedDateTime"] = d["deceased"]
        if d.get("address"):
            a = d["address"]
            addr = {"use": a.get("use", "home"), "type": "physical", "line": list(a["line"])}
            for src, dst in (("city", "city"), ("district", "district"), ("postcode", "postalCode")):
                if a.get(src):
                    addr[dst] = a[src]
            patient["address"] = [addr]
        usual = {"reference": f"Practitioner/{self.s.rid('Practitioner', 'usual-gp')}"}
        patient["generalPractitioner"] = [usual]
        patient["managingOrganization"] = self.practice_ref
        out.append(patient)
        out.append(self.organization(self.ods, practice_name, "GP Practice", self.location_ref))
        out.append({"resourceType": "Location", "id": self.s.rid("Location", self.ods),
                    "meta": {"versionId": "1", "profile": [spec.PROFILE_LOCATION]}, "status": "active",
                    "name": f"{practice_name} \u2013 main surgery", "type": {"text": "Main Surgery"},
                    "address": {"use": "work", "type": "physical", "line": ["1 Mock Street"], "city": "Leeds",
                                "postalCode": "LS1 4HR"},
                    "managingOrganization": self.practice_ref})
        gname = gp["name"]
        out += self.practitioner("usual-gp", "gp", gp.get("gender", "unknown"), (gname.get("prefix") or ["Dr"])[0],
                                 (gname.get("given") or ["A"])[0], gname["family"], self.practice_ref,
                                 sds=gp["sds_user_id"])
        for key, role, gender, prefix, given, family in CLINICIANS:
            out += self.practitioner(key, role, gender, prefix, given, family, self.practice_ref)
        out.append(self.organization(HOSPITAL[0], HOSPITAL[1], "NHS Trust"))
        out += self.practitioner(*CONSULTANT, self.hospital_ref)
        out.append(self.organization(LABORATORY[0], LABORATORY[1], "Pathology Laboratory"))
        out += self.practitioner(*SCIENTIST, self.lab_ref)
        return out

    # --- the record ---------------------------------------------------------------------------------------
    def build(self) -> dict:
        admin = self.admin()                       # registers clinicians
        self.gp_keys = ("usual-gp", "gp2", "registrar")
        consultations = self.plan_consultations()
        self.make_problems()
        self.make_allergies()
        self.make_immunisations()
        self.make_medications()
        self.make_investigations(consultations)
        self.make_referrals(consultations)
        self.make_diary()
        self.make_consultations(consultations)
        self.make_letters(consultations)
        self.finish_problems()
        lists = self.primary_lists() + self.secondary_lists()
        entries = [{"resource": r} for r in lists + self.structure + self.entries + admin]
        return {"entries": entries, "attachments": self.attachments, "confidential": self.confidential}

    def plan_consultations(self) -> list:
        n = self.v["consultations"]
        span = (REFERENCE.date() - self.start).days
        days = sorted({self.start + datetime.timedelta(days=int(span * (i + self.rnd.random()) / n))
                       for i in range(n)})
        out = []
        for i, day in enumerate(days):
            kind = self.rnd.choice(self.s.encounter_types[:4])
            who = self.rnd.choice(("usual-gp", "usual-gp", "gp2", "registrar", "nurse", "staff-nurse", "pharmacist"))
            out.append({"key": f"consultation-{i}", "day": day, "type": kind, "clinician": who, "items": {},
                        "confidential": i == n // 3 and self.volume != "small"})
        self.consultation_plan = out
        return out

    def consultation_near(self, day: datetime.date):
        best = min(self.consultation_plan, key=lambda c: abs((c["day"] - day).days))
        return best if abs((best["day"] - day).days) < 60 else None

    def record_in(self, cons, heading, ref, area, listed=None):
        """Record ``ref`` under a consultation heading; ``listed``: what the "Consultations - …
        contained in consultations" List names instead (a medication's statement; the heading names
        its plan)."""
        if cons is not None:
            cons["items"].setdefault(heading, []).append(ref)
            if not cons["confidential"]:
                self.in_consultation.setdefault(area, []).append(listed or ref)

    # Problems --------------------------------------------------------------------------------------------
    def make_problems(self):
        chosen = list(terms.PROBLEMS.values())
        count = {"small": 4, "typical": 9, "heavy": len(chosen)}[self.volume]
        self.rnd.shuffle(chosen)
        chosen = chosen[:count]
        anxiety = terms.PROBLEMS["197480006"]
        if anxiety not in chosen:
            chosen[-1] = anxiety
        for n, term in enumerate(chosen):
            key = f"problem-{n}"
            day = self.day_between(self.start, REFERENCE.date() - datetime.timedelta(days=90))
            precision = ("year", "month", "day", "datetime")[n % 4]
            self.problems[key] = {"term": term, "day": day, "precision": precision,
                                  "confidential": term.concept == "197480006",
                                  "active": n % 3 != 2, "major": n % 2 == 0}
        # Actual-problem observations are recorded with the problems (EMIS: the coded entry).
        self.problem_order = list(self.problems)

    def finish_problems(self):
        for key in self.problem_order:
            p = self.problems[key]
            term, day = p["term"], p["day"]
            cid = self.s.problem_id(key)
            # The coded entry behind the problem header (an uncategorised Observation).
            obs = self.observation(f"{key}/entry", term, day, p["precision"], "usual-gp", None,
                                   confidential=p["confidential"])
            self.primary["observations"].append(self.ref(obs))
            ext = [{"url": EXT_ACTUAL_PROBLEM, "valueReference": self.ref(obs)}]
            for area, refs in (self.problem_links.get(key) or {}).items():
                if area != "medications":       # medications: the plan MedicationRequests (GP2GP reads those)
                    ext += [{"url": EXT_RELATED, "valueReference": r} for r in refs]
            ext.append({"url": EXT_SIGNIFICANCE, "valueCode": "major" if p["major"] else "minor"})
            c = self.head("Condition", cid, spec.PROFILE_PROBLEM)
            c["extension"] = ext
            c["identifier"] = self.s.identifier(cid)
            c["clinicalStatus"] = "active" if p["active"] else "inactive"
            c["category"] = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item",
                                          "display": "Problem List Item"}]}]
            c["code"] = self.concept(term, day)
            c["subject"] = self.patient_ref
            c["onsetDateTime"] = self.effective(day, p["precision"])
            if not p["active"]:
                c["abatementDateTime"] = _date(day + datetime.timedelta(days=400))
            c["assertedDate"] = self.s.instant(self.moment(day))
            c["asserter"] = self.clinicians["usual-gp"]
            self.add(c, confidential=p["confidential"])
            p["ref"] = self.ref(c)
            self.primary["problems"].append(p["ref"])

    # Observations ------------------------------------------------------------------------------------------
    def observation(self, key, term, day, precision, clinician, cons_ref, confidential=False, value=None,
                    unit=None, comment=None, text=None, components=None, rng=None, performer=None, nopat=False):
        oid = self.s.rid("Observation", key)
        o = self.head("Observation", oid, spec.PROFILE_OBSERVATION, nopat=nopat)
        o["identifier"] = self.s.identifier(oid)
        o["status"] = "final"
        o["code"] = self.concept(term, day, text=text)
        o["subject"] = self.patient_ref
        if cons_ref:
            o["context"] = cons_ref
        o["effectiveDateTime"] = self.effective(day, precision)
        o["issued"] = self.s.instant(self.moment(day))
        o["performer"] = [performer or self.clinicians[clinician]]
        if value is not None:
            o["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        if comment:
            o["comment"] = comment
        if rng:
            o["referenceRange"] = [{"low": {"value": rng[0], "unit": unit, "system": UCUM, "code": unit},
                                    "high": {"value": rng[1], "unit": unit, "system": UCUM, "code": unit}}]
        if components:
            o["component"] = components
        return self.add(o, confidential=confidential)

    # Allergies ---------------------------------------------------------------------------------------------
    def make_allergies(self):
        picks = [terms.ALLERGIES["91936005"], terms.ALLERGIES["293433001"], terms.ALLERGIES["300916003"]]
        if self.volume != "small":
            picks.append(terms.ALLERGIES["91935009"])
        for n, term in enumerate(picks):
            key = f"allergy-{n}"
            day = self.day_between(self.start, REFERENCE.date() - datetime.timedelta(days=400))
            aid = self.s.rid("AllergyIntolerance", key)
            a = self.head("AllergyIntolerance", aid, spec.PROFILE_ALLERGY)
            ended = n == 2
            if ended:
                a["extension"] = [{"url": EXT_ALLERGY_END, "extension": [
                    {"url": "endDate", "valueDateTime": _date(day + datetime.timedelta(days=900))},
                    {"url": "reasonEnded", "valueString": "No reaction to latex gloves at dental visit \u2013 "
                                                          "allergy disproved"}]}]
            a["identifier"] = self.s.identifier(aid)
            a["clinicalStatus"] = "resolved" if ended else "active"
            a["verificationStatus"] = "unconfirmed"
            a["type"] = "allergy"
            # Allergies page: medication or environment only (food and biologic MUST NOT be used).
            a["category"] = ["environment" if term.concept in ("300916003", "91935009") else "medication"]
            if n == 1:
                # Degraded in an earlier GP2GP transfer: the degrade code, the original term as text.
                a["code"] = {"coding": [self.s.snomed(terms.DEGRADED_DRUG_ALLERGY)],
                             "text": term.read_term or term.display}
            else:
                a["code"] = self.concept(term, day)
            a["patient"] = self.patient_ref
            a["onsetDateTime"] = self.effective(day, ("year", "month", "day")[n % 3])
            a["assertedDate"] = self.s.instant(self.moment(day))
            a["recorder"] = self.clinicians["usual-gp"]
            a["note"] = [{"text": self.s.allergy_note("Major" if n == 0 else "Minor", "First",
                                                       "Rash and facial swelling \u2013 told by hospital "
                                                       "never to take again." if n == 0 else
                                                       "Reaction reported by patient.")}]
            a["reaction"] = [{"manifestation": [{"text": ("Urticaria and angio-oedema", "Muscle aches and weakness",
                                                          "Contact dermatitis", "Lip swelling")[n]}],
                              "severity": "severe" if n == 0 else "mild"}]
            if ended:
                self.ended_allergies.append(a)
            else:
                self.add(a)
                self.primary["allergies"].append(self.ref(a))

    # Immunisations -----------------------------------------------------------------------------------------
    def make_immunisations(self):
        flu = terms.IMMUNISATIONS["86198006"]
        years = range(max(self.start.year, REFERENCE.year - self.v["years"]), REFERENCE.year)
        picks = [(datetime.date(y, 10, self.rnd.randint(1, 28)), flu) for y in years]
        if self.volume == "small":
            picks = picks[-3:]
        born = datetime.date.fromisoformat(self.data["birth_date"])
        picks.append((born + datetime.timedelta(days=400), terms.IMMUNISATIONS["38598009"]))   # MMR, as a child
        picks.append((datetime.date(max(self.start.year, 2008), 3, 3), terms.IMMUNISATIONS["247631000000101"]))
        for n, (day, term) in enumerate(sorted(picks, key=lambda p: p[0])):
            key = f"immunisation-{n}"
            iid = self.s.rid("Immunization", key)
            im = self.head("Immunization", iid, spec.PROFILE_IMMUNIZATION)
            im["extension"] = [{"url": EXT_VACCINATION_PROCEDURE, "valueCodeableConcept": self.concept(term, day)},
                               {"url": EXT_DATE_RECORDED, "valueDateTime": self.s.instant(self.moment(day))}]
            im["identifier"] = self.s.identifier(iid)
            im["status"] = "completed"
            im["notGiven"] = False
            im["vaccineCode"] = {"coding": [{"system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNK",
                                             "display": "unknown"}], "text": "Unknown"}
            im["patient"] = self.patient_ref
            # A childhood vaccination is known only to the year (recorded from the red book).
            im["date"] = self.effective(day, "year" if day < self.start else "day")
            im["primarySource"] = day >= self.start
            if day >= self.start:
                im["practitioner"] = [{"actor": self.clinicians["nurse"]}]
                im["lotNumber"] = f"{'QV' if n % 2 else 'AX'}{self.rnd.randint(10000, 99999)}"
            im["note"] = [{"text": "Given in left deltoid. No immediate reaction; advised paracetamol for "
                                   "any fever." if day >= self.start else "Historical \u2013 from the "
                                   "patient's personal child health record."}]
            self.add(im)
            self.primary["immunisations"].append(self.ref(im))

    # Medications -------------------------------------------------------------------------------------------
    def medication_resource(self, key, drug) -> dict:
        mid = self.s.rid("Medication", key)
        m = self.head("Medication", mid, spec.PROFILE_MEDICATION)
        m["code"] = self.s.drug(drug)
        return self.add(m)

    def request(self, key, drug, med_ref, intent, kind, status, authored, validity, clinician, based_on=None,
                prior=None, repeats=None, issued=None, ended=None, confidential=False, cons_ref=None):
        rid = self.s.rid("MedicationRequest", key)
        r = self.head("MedicationRequest", rid, spec.PROFILE_MEDICATION_REQUEST)
        ext = []
        if ended:
            ext.append({"url": EXT_STATUS_REASON, "extension": [
                {"url": "statusReason", "valueCodeableConcept": {"text": ended[1]}},
                {"url": "statusChangeDate", "valueDateTime": self.s.instant(self.moment(ended[0]))}]})
        ext.append({"url": EXT_PRESCRIPTION_TYPE, "valueCodeableConcept": {"coding": [{
            "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1", "code": kind,
            "display": {"acute": "Acute", "repeat": "Repeat"}[kind]}]}})
        if repeats is not None:
            ext.append({"url": EXT_REPEAT_INFO, "extension": [
                {"url": "numberOfRepeatPrescriptionsAllowed", "valueUnsignedInt": repeats},
                {"url": "numberOfRepeatPrescriptionsIssued", "valueUnsignedInt": issued}]})
        r["extension"] = ext
        r["identifier"] = self.s.identifier(rid)
        if based_on:
            r["basedOn"] = [based_on]
        if intent == "plan":
            r["groupIdentifier"] = {"value": key.split("/")[0]}
        r["status"] = status
        r["intent"] = intent
        r["medicationReference"] = med_ref
        r["subject"] = self.patient_ref
        if cons_ref:
            r["context"] = cons_ref
        r["authoredOn"] = self.s.instant(self.moment(authored))
        r["requester"] = {"agent": self.clinicians[clinician], "onBehalfOf": self.practice_ref}
        r["recorder"] = self.clinicians[clinician]
        r["dosageInstruction"] = [{"text": drug.dosage}]
        r["dispenseRequest"] = {"validityPeriod": validity, "quantity": {"extension": [
            {"url": EXT_QUANTITY_TEXT, "valueString": f"{drug.quantity} {drug.unit}"}]},
            # expectedSupplyDuration (28 d) is left out: its code binds to units-of-time, which the
            # conformance check cannot evaluate yet
            "performer": self.practice_ref}
        if prior:
            r["priorPrescription"] = prior
        return self.add(r, confidential=confidential)

    def statement(self, key, plan, drug, med_ref, status, start, end, last_issue, clinician, confidential,
                  problem_key=None):
        sid = self.s.statement_id(plan["id"], key)
        st = self.head("MedicationStatement", sid, spec.PROFILE_MEDICATION_STATEMENT)
        st["extension"] = [
            {"url": EXT_PRESCRIBING_AGENCY, "valueCodeableConcept": {"coding": [{
                "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescribingAgency-1",
                "code": "prescribed-at-gp-practice", "display": "Prescribed at GP practice"}]}},
            {"url": EXT_LAST_ISSUE, "valueDateTime": self.s.instant(self.moment(last_issue, 0))}]
        st["identifier"] = self.s.identifier(sid)
        st["basedOn"] = [self.ref(plan)]
        st["status"] = status
        st["medicationReference"] = med_ref
        # The statement's period is its authorisation's validity period (medications page).
        st["effectivePeriod"] = dict(plan["dispenseRequest"]["validityPeriod"])
        st["dateAsserted"] = plan["authoredOn"]
        st["informationSource"] = self.clinicians[clinician]
        st["subject"] = self.patient_ref
        st["taken"] = "unk"
        st["dosage"] = [{"text": drug.dosage}]
        self.add(st, confidential=confidential)
        self.primary["medications"].append(self.ref(st))
        self.link(problem_key, "medications", self.ref(st))          # "Problems - medications related …"
        self.link(problem_key, "medication-plans", self.ref(plan))   # the problem header links the plan
        return st

    def make_medications(self):
        problem_for = {"318421004": "38341003", "318906001": "38341003", "320030001": "22298006",
                       "319773006": "22298006", "330062008": "90560007", "39113611000001102": "195967001",
                       "320537007": "195967001", "2940411000001108": "21719001", "9751511000001104": "197480006",
                       "321989000": "197480006"}
        by_concept = {p["term"].concept: k for k, p in self.problems.items()}
        drugs = list(terms.REPEATS[: self.v["repeats"]])
        confidential_drug = terms.CONFIDENTIAL_REPEATS[0 if self.s.name == "tpp" else 1]
        drugs.append(confidential_drug)
        step = datetime.timedelta(days=28)
        for d, drug in enumerate(drugs):
            confidential = drug is confidential_drug
            key = f"repeat-{d}"
            med_ref = self.ref(self.medication_resource(key, drug))
            problem_key = by_concept.get(problem_for.get(drug.dmd, ""))
            auths = 2 if confidential else self.v["auths"]
            first_issues = self.v["long_issues"] if d == 0 else self.v["issues"]
            total_days = (first_issues + self.v["issues"] * (auths - 1)) * 28 + 60
            start = max(self.start, REFERENCE.date() - datetime.timedelta(days=total_days + d * 90))
            prior = None
            day = start
            for a in range(auths):
                issues = first_issues if a == 0 else self.v["issues"]
                last_auth = a == auths - 1
                clinician = self.rnd.choice(self.gp_keys) if a else "usual-gp"
                end = day + step * issues
                still = last_auth and d % 3 != 2 and not confidential
                cons = self.consultation_near(day)
                plan = self.request(f"{key}/auth-{a}", drug, med_ref, "plan", "repeat",
                                    "active" if still else "completed", day,
                                    {"start": _date(day), "end": _date(end)}, clinician, prior=prior,
                                    repeats=issues, issued=issues if not still else max(1, issues - 3),
                                    ended=None if still or not last_auth else (end, "Medication course stopped"
                                                                               " by clinician"),
                                    confidential=confidential)
                issued_days = [day + step * k for k in range(issues if not still else max(1, issues - 3))]
                st = self.statement(f"{key}/auth-{a}", plan, drug, med_ref, "active" if still else "completed",
                                    day, None if still else end, issued_days[-1], clinician, confidential,
                                    problem_key)
                for k, issued in enumerate(issued_days):
                    self.request(f"{key}/auth-{a}/issue-{k}", drug, med_ref, "order", "repeat", "completed",
                                 issued, {"start": _date(issued), "end": _date(issued + step)},
                                 self.rnd.choice(("usual-gp", "gp2", "pharmacist")), based_on=self.ref(plan),
                                 confidential=confidential)
                if cons is not None and not confidential:
                    self.record_in(cons, "medication", self.ref(plan), "medications", listed=self.ref(st))
                prior = self.ref(plan)
                day = end
        # Acute courses; the oldest was degraded in an earlier record transfer.
        for n in range(self.v["acutes"]):
            drug = terms.ACUTES[n % len(terms.ACUTES)]
            key = f"acute-{n}"
            cons = self.consultation_plan[(n * 7 + 3) % len(self.consultation_plan)]
            if cons["confidential"]:
                continue
            day = cons["day"]
            if n == 0:
                m = self.head("Medication", self.s.rid("Medication", key), spec.PROFILE_MEDICATION)
                m["code"] = {"coding": [self.s.snomed(terms.DEGRADED_MEDICATION)],
                             "text": "Magnesium trisilicate mixture BP 200ml (degraded in transfer)"}
                med_ref = self.ref(self.add(m))
            else:
                med_ref = self.ref(self.medication_resource(key, drug))
            cons_ref = {"reference": f"Encounter/{self.s.rid('Encounter', cons['key'])}"}
            plan = self.request(f"{key}/plan", drug, med_ref, "plan", "acute", "completed", day,
                                {"start": _date(day), "end": _date(day + datetime.timedelta(days=14))},
                                cons["clinician"] if cons["clinician"] in self.gp_keys else "usual-gp",
                                cons_ref=cons_ref)
            self.request(f"{key}/issue", drug, med_ref, "order", "acute", "completed", day,
                         {"start": _date(day), "end": _date(day + datetime.timedelta(days=14))},
                         cons["clinician"] if cons["clinician"] in self.gp_keys else "usual-gp",
                         based_on=self.ref(plan), cons_ref=cons_ref)
            st = self.statement(key, plan, drug, med_ref, "completed", day, day + datetime.timedelta(days=14), day,
                                "usual-gp", False)
            self.record_in(cons, "medication", self.ref(plan), "medications", listed=self.ref(st))

    # Investigations ----------------------------------------------------------------------------------------
    PANELS = (
        ("1022441000000101", (("1022431000000105", "g/L", 120, 165), ("1022541000000102", "10*9/L", 4.0, 11.0),
                              ("1022651000000100", "10*9/L", 150, 400), ("1022491000000106", "fL", 80, 100),
                              ("1022291000000105", "L/L", 0.37, 0.5), ("1022551000000104", "10*9/L", 2.0, 7.5),
                              ("1022581000000105", "10*9/L", 1.5, 4.0))),
        ("1000971000000107", (("1000661000000107", "mmol/L", 133, 146), ("1000651000000109", "mmol/L", 3.5, 5.3),
                              ("1000951000000103", "mmol/L", 2.5, 7.8), ("1000731000000107", "umol/L", 59, 104))),
        ("997531000000108", (("1018251000000107", "U/L", 0, 50), ("1000621000000104", "U/L", 30, 130),
                             ("999691000000104", "umol/L", 0, 21), ("1000821000000103", "g/L", 35, 50))),
        ("1005661000000103", (("1005671000000105", "mmol/L", 0, 5), ("1005681000000107", "mmol/L", 1.0, 2.2),
                              ("1005691000000109", "mmol/L", 0, 1.7), ("1022191000000100", "mmol/L", 0, 3.0),
                              ("1028551000000102", "{ratio}", 0, 4.5))),
    )
    SINGLES = (("1022791000000101", "mU/L", 0.27, 4.2), ("165581004", "{INR}", 2.0, 3.0),
               ("1003141000000105", "mmol/L", 3.5, 6.0), ("1001371000000100", "mg/L", 0, 5))

    def make_investigations(self, consultations):
        for n in range(self.v["labs"]):
            cons = consultations[(n * 5 + 1) % len(consultations)]
            if cons["confidential"]:
                continue
            day = cons["day"] + datetime.timedelta(days=2)
            key = f"lab-{n}"
            cons_ref = {"reference": f"Encounter/{self.s.rid('Encounter', cons['key'])}"}
            # The request, from the consultation.
            pid = self.s.rid("ProcedureRequest", key)
            pr = self.head("ProcedureRequest", pid, spec.PROFILE_PROCEDURE_REQUEST)
            pr["identifier"] = self.s.identifier(pid)
            pr["status"] = "active"                   # the profile's fixed value
            pr["intent"] = "order"
            panels = [self.PANELS[(n + k) % len(self.PANELS)] for k in range(1 + n % 3)]
            pr["code"] = self.plain_concept(terms.LABS[panels[0][0]], day)
            pr["subject"] = self.patient_ref          # no context / authoredOn: not on the page
            pr["requester"] = {"agent": self.clinicians["usual-gp"], "onBehalfOf": self.practice_ref}
            pr["performer"] = self.lab_ref
            self.add(pr)
            sid = self.s.rid("Specimen", key)
            sp = self.head("Specimen", sid, spec.PROFILE_SPECIMEN)
            sp["identifier"] = self.s.identifier(sid)
            sp["accessionIdentifier"] = {"value": f"{LABORATORY[0]}{day.year % 100:02d}"
                                                  f"{self.rnd.randint(100000, 999999)}"}
            sp["status"] = "available"
            sp["type"] = {"coding": [{"system": spec.SNOMED, "code": "122555007", "display": "Venous blood specimen"}]}
            sp["subject"] = self.patient_ref
            sp["receivedTime"] = self.s.instant(self.moment(day, 13))
            sp["collection"] = {"collector": self.clinicians["phlebotomist"],
                                "collectedDateTime": self.s.instant(self.moment(cons["day"], 9))}
            self.add(sp)
            results = []
            for g, (panel, tests) in enumerate(panels):
                members = []
                for t, (code, unit, low, high) in enumerate(tests):
                    value = round(self.rnd.uniform(low * 0.85 if low else 0, high * 1.15), 2 if high < 10 else 0)
                    value = int(value) if high >= 10 else value
                    abnormal = value < low or value > high
                    o = self.observation(f"{key}/g{g}/r{t}", terms.LABS[code], day, "datetime", "usual-gp", None,
                                         value=value, unit=unit, rng=(low, high),
                                         comment="Result outside reference range \u2013 please review."
                                         if abnormal else None, performer=self.lab_ref)
                    o["specimen"] = self.ref(sp)
                    if abnormal:
                        o["interpretation"] = {"coding": [{"system": "http://hl7.org/fhir/v2/0078",
                                                           "code": "H" if value > high else "L",
                                                           "display": "High" if value > high else "Low"}]}
                    members.append(self.ref(o))
                group = self.observation(f"{key}/g{g}", terms.LABS[panel], day, "datetime", "usual-gp", None,
                                         performer=self.lab_ref)
                group["related"] = [{"type": "has-member", "target": m} for m in members]
                for m in members:          # each result points back at its test group header
                    result = next(r for r in reversed(self.entries) if r["id"] == m["reference"].split("/")[1])
                    result["related"] = [{"type": "derived-from", "target": self.ref(group)}]
                results.append(self.ref(group))
            filing = self.observation(f"{key}/filing", terms.COMMENT_NOTE, day + datetime.timedelta(days=1),
                                      "datetime", "usual-gp", None,
                                      comment="Filed by GP. " + ("Satisfactory \u2013 no action."
                                                                 if n % 2 else "Recall for repeat bloods in 3 months."))
            results.append(self.ref(filing))
            did = self.s.rid("DiagnosticReport", key)
            dr = self.head("DiagnosticReport", did, spec.PROFILE_DIAGNOSTIC_REPORT)
            dr["identifier"] = self.s.identifier(did)
            dr["basedOn"] = [self.ref(pr)]
            dr["status"] = "final"
            dr["code"] = {"coding": [{"system": spec.SNOMED, "code": "721981007",
                                      "display": "Diagnostic studies report"}]}
            dr["subject"] = self.patient_ref
            dr["context"] = cons_ref
            dr["issued"] = self.s.instant(self.moment(day, 16))
            dr["performer"] = [{"actor": self.lab_ref}, {"actor": self.clinicians["scientist"]}]
            dr["specimen"] = [self.ref(sp)]
            dr["result"] = results
            self.add(dr)
            self.primary["investigations"].append(self.ref(dr))
            self.record_in(cons, "test", self.ref(dr), "investigations")

    # Referrals and diary ------------------------------------------------------------------------------------
    def make_referrals(self, consultations):
        picks = list(terms.REFERRALS.values())
        for n in range(self.v["referrals"]):
            cons = consultations[(n * 11 + 6) % len(consultations)]
            if cons["confidential"]:
                continue
            term = picks[n % len(picks)]
            key = f"referral-{n}"
            rid = self.s.rid("ReferralRequest", key)
            r = self.head("ReferralRequest", rid, spec.PROFILE_REFERRAL_REQUEST)
            r["identifier"] = self.s.identifier(rid) + [{"system": "https://fhir.nhs.uk/Id/ubr-number",
                                                         "value": f"{self.rnd.randint(10 ** 11, 10 ** 12 - 1)}"}]
            r["status"] = "unknown"
            r["intent"] = "order"
            r["priority"] = ("routine", "urgent", "routine")[n % 3]
            r["subject"] = self.patient_ref
            r["context"] = {"reference": f"Encounter/{self.s.rid('Encounter', cons['key'])}"}
            r["authoredOn"] = self.s.instant(self.moment(cons["day"]))
            r["requester"] = {"agent": self.clinicians["usual-gp"], "onBehalfOf": self.practice_ref}
            r["recipient"] = [self.hospital_ref]
            r["reasonCode"] = [self.concept(term, cons["day"])]
            r["description"] = ("Persistent symptoms despite treatment; please assess.\n\nBackground: see "
                                "problem list. Patient prefers morning appointments \u2013 needs interpreter "
                                "(Polish).")
            self.add(r)
            self.primary["referrals"].append(self.ref(r))
            self.record_in(cons, "plan", self.ref(r), "referrals")

    def make_diary(self):
        for n, term in enumerate(terms.DIARY.values()):
            key = f"diary-{n}"
            due = REFERENCE.date() + datetime.timedelta(days=60 + 90 * n)
            pid = self.s.rid("ProcedureRequest", key)
            pr = self.head("ProcedureRequest", pid, spec.PROFILE_PROCEDURE_REQUEST)
            pr["identifier"] = self.s.identifier(pid)
            pr["status"] = "active"
            pr["intent"] = "plan"
            pr["code"] = self.plain_concept(term, REFERENCE.date())
            pr["subject"] = self.patient_ref
            pr["occurrenceDateTime"] = self.effective(due, "month" if n else "day")
            pr["authoredOn"] = self.s.instant(self.moment(REFERENCE.date() - datetime.timedelta(days=30)))
            pr["requester"] = {"agent": self.clinicians["usual-gp"]}     # onBehalfOf: not in use (diary page)
            pr["note"] = [{"text": "Annual review \u2013 book 20 min with GP."}]
            self.add(pr)
            self.primary["diary"].append(self.ref(pr))

    # Consultations -------------------------------------------------------------------------------------------
    def make_consultations(self, consultations):
        self.structure = []
        problem_keys = list(self.problems)
        findings = [t for k, t in terms.FINDINGS.items()]
        for i, cons in enumerate(consultations):
            key, day = cons["key"], cons["day"]
            conf = cons["confidential"]
            clinician = cons["clinician"]
            eid = self.s.rid("Encounter", key)
            enc_ref = {"reference": f"Encounter/{eid}"}
            started = self.moment(day)
            e = self.head("Encounter", eid, spec.PROFILE_ENCOUNTER)
            e["identifier"] = self.s.identifier(eid)
            e["status"] = "finished"
            e["type"] = [{"coding": [self.encounter_coding(cons["type"])], "text": cons["type"]}]
            e["subject"] = self.patient_ref
            e["participant"] = [
                {"type": [{"coding": [{"system": "http://hl7.org/fhir/v3/ParticipationType", "code": "PPRF",
                                       "display": "primary performer"}]}], "individual": self.clinicians[clinician]},
                {"type": [{"coding": [{"system": PARTICIPANT_TYPE, "code": "REC", "display": "recorder"}]}],
                 "individual": self.clinicians[clinician]}]
            minutes = 10 + (i % 4) * 5
            period = {"start": self.s.instant(started)}
            if self.s.name == "tpp":
                period["end"] = self.s.instant(started + datetime.timedelta(minutes=minutes))
            e["period"] = period
            if self.s.name == "tpp":
                e["length"] = {"value": minutes, "unit": "min", "system": UCUM, "code": "min"}
            e["location"] = [{"location": self.location_ref}]
            e["serviceProvider"] = self.practice_ref
            self.add(e, confidential=conf)
            self.primary["consultations"].append(enc_ref)
            # Headings with items: history note, examination (BP, weight, findings), comment, plan.
            open_keys = [k for k in problem_keys if not self.problems[k]["confidential"]] or problem_keys
            problem_key = open_keys[i % len(open_keys)] if open_keys else None
            p = self.problems.get(problem_key)
            if conf:
                problem_key = next((k for k, v in self.problems.items() if v["confidential"]), problem_key)
                p = self.problems[problem_key]
            fill = {"who": WHO[i % len(WHO)], "symptom": SYMPTOMS[i % len(SYMPTOMS)], "n": 2 + i % 6,
                    "problem": p["term"].description_term if p else "symptoms"}
            headings: dict = {}

            def note(heading, text, n):
                o = self.observation(f"{key}/{heading}/note-{n}", terms.COMMENT_NOTE, day, "datetime", clinician,
                                     enc_ref, confidential=conf, comment=text,
                                     nopat=(i % 17 == 5 and heading == "comment"))
                headings.setdefault(heading, []).append(self.ref(o))

            note("history", HISTORY[i % len(HISTORY)].format(**fill) + (
                "\n\n" + "Long-standing worries about health since bereavement; lives alone, "
                "daughter visits twice weekly. Denies chest pain, haemoptysis or weight loss." if i % 2 else ""), 1)
            if conf:
                note("history", "Low mood for two months, poor sleep, tearful. PHQ-9 discussed. No thoughts of "
                                "self-harm. Partner supportive.\n\nConfidential \u2013 patient asked that this "
                                "is not shared with family.", 2)
            exam = []
            sys_v, dia_v = 118 + (i * 7) % 45, 68 + (i * 5) % 25
            bp = self.observation(f"{key}/bp", terms.MEASURES["163020007"], day, "datetime", clinician, enc_ref,
                                  confidential=conf, components=[
                                      {"code": self.s.concept(terms.MEASURES["72313002"]),
                                       "valueQuantity": {"value": sys_v, "unit": "mm[Hg]", "system": UCUM,
                                                         "code": "mm[Hg]"}},
                                      {"code": self.s.concept(terms.MEASURES["1091811000000102"]),
                                       "valueQuantity": {"value": dia_v, "unit": "mm[Hg]", "system": UCUM,
                                                         "code": "mm[Hg]"}}])
            exam.append(bp)
            if i % 3 == 0:
                exam.append(self.observation(f"{key}/weight", terms.MEASURES["27113001"], day, "day", clinician,
                                             enc_ref, confidential=conf, value=round(70 + (i % 13) * 0.7, 1),
                                             unit="kg"))
            if i % 4 == 1:
                term = findings[(i // 4) % len(findings)]
                exam.append(self.observation(f"{key}/finding", term, day, "datetime", clinician, enc_ref,
                                             confidential=conf))
            for o in exam:
                headings.setdefault("examination", []).append(self.ref(o))
                if not conf:
                    self.primary["observations"].append(self.ref(o))
                    self.in_consultation.setdefault("observations", []).append(self.ref(o))
                    if o is not bp and p is not None:
                        self.link(problem_key, "observations", self.ref(o))
            note("examination", EXAMINATION[i % len(EXAMINATION)].format(**fill), 1)
            if i % 5 == 2:
                # Degraded in an earlier GP2GP transfer: the original entry survives as text only.
                o = self.observation(f"{key}/degraded", terms.DEGRADED_ENTRY, day, "month", clinician, enc_ref,
                                     confidential=conf, text="Ear syringing \u2013 both ears (legacy entry)")
                headings.setdefault("comment", []).append(self.ref(o))
                if not conf:
                    self.primary["observations"].append(self.ref(o))
                    self.in_consultation.setdefault("observations", []).append(self.ref(o))
            note("plan", PLAN[i % len(PLAN)].format(**fill), 1)
            for heading, refs in cons["items"].items():
                headings.setdefault(heading, []).extend(refs)
            if conf:
                sensitive = self.observation(f"{key}/religion", terms.SENSITIVE_FINDINGS["160540005"], day,
                                             "datetime", clinician, enc_ref, confidential=True)
                headings.setdefault("history", []).append(self.ref(sensitive))
                self.primary["observations"].append(self.ref(sensitive))
            if p is not None:
                self.link(problem_key, "consultations", enc_ref)
            # The structure Lists: consultation -> topic -> headings.
            order = ("history", "examination", "comment", "test", "medication", "plan")
            heading_lists = []
            for h, name in enumerate(sorted(headings, key=order.index)):
                hl = self.structure_list(f"{key}/topic-1/{name}", self.s.headings[name], spec.CATEGORY_LIST_CODE,
                                         headings[name], enc_ref, day)
                heading_lists.append(hl)
            topic_title = p["term"].display if p else "Other"
            topic = self.structure_list(f"{key}/topic-1", topic_title, spec.TOPIC_LIST_CODE,
                                        [self.ref(hl) for hl in heading_lists], enc_ref, day)
            consultation = self.structure_list(key, cons["type"], spec.CONSULTATION_LIST_CODE, [self.ref(topic)],
                                               enc_ref, day)
            for lst in (consultation, topic, *heading_lists):
                self.structure.append(lst)
                if conf:
                    self.confidential.append(f"List/{lst['id']}")

    @staticmethod
    def encounter_coding(kind: str) -> dict:
        """The SNOMED CT concept of a consultation type (GP2GP maps Encounter.type by its coding)."""
        if kind.startswith("Telephone"):
            code, display = "185317003", "Telephone encounter"
        elif kind.startswith("Home"):
            code, display = "439708006", "Home visit"
        else:
            code, display = "11429006", "Consultation"
        return {"system": spec.SNOMED, "code": code, "display": display}

    def structure_list(self, key, title, code, refs, enc_ref, day) -> dict:
        lid = self.s.rid("List", key)
        # Consultation-structure Lists carry no ClinicalSetting extension, notes or warnings (List page).
        lst = {"resourceType": "List", "id": lid, "meta": {"profile": [spec.PROFILE_LIST]},
               "status": "current", "mode": "snapshot", "title": title,
               "code": {"coding": [{"system": spec.SNOMED, "code": code[0], "display": code[1]}]},
               "subject": self.patient_ref, "encounter": enc_ref, "date": self.s.instant(self.moment(day, 18)),
               "orderedBy": {"coding": [{"system": "http://hl7.org/fhir/list-order", "code": "system",
                                         "display": "Sorted by System"}]}}
        if refs:
            lst["entry"] = [{"item": r} for r in refs]
        else:
            lst["note"] = [{"text": spec.LIST_EMPTY_NOTE}]
            lst["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
        return lst

    @staticmethod
    def clinical_setting() -> dict:
        return {"url": spec.CLINICAL_SETTING_EXTENSION, "valueCodeableConcept": {"coding": [
            {"system": spec.SNOMED, "code": spec.CLINICAL_SETTING[0], "display": spec.CLINICAL_SETTING[1]}]}}

    # Documents -----------------------------------------------------------------------------------------------
    def make_letters(self, consultations):
        """A DocumentReference for every persona document (their bytes: the persona's documents)."""
        self.attachments = []
        documents = self.data.get("documents") or []
        for n, doc in enumerate(documents):
            rid = self.s.rid("DocumentReference", doc["key"])
            d = self.head("DocumentReference", rid, spec.PROFILE_DOCUMENT_REFERENCE, nopat=bool(doc.get("nopat")))
            d["meta"]["versionId"] = str(doc.get("version", 1))
            d["masterIdentifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{self.s.guid(doc['key'])}"}
            d["identifier"] = self.s.identifier(rid)
            d["status"] = "current"
            code, _, display = doc["type"].partition("|")
            d["type"] = {"coding": [{"system": spec.SNOMED, "code": code, "display": display}]}
            d["subject"] = self.patient_ref
            d["created"] = doc["created"]
            d["indexed"] = doc["indexed"]
            d["author"] = [self.hospital_ref if n % 2 == 0 else self.clinicians["consultant"]]
            d["custodian"] = self.practice_ref
            d["description"] = doc["description"]
            if doc.get("nopat"):
                d["securityLabel"] = [{"coding": [dict(spec.NOPAT_SECURITY)]}]
            size = doc["generate"]["size"] if "generate" in doc else doc.get("size")
            attachment = {"contentType": doc["contentType"], "url": "", "size": size}
            if doc.get("title"):
                attachment["title"] = doc["title"]
            d["content"] = [{"attachment": attachment}]
            cons = consultations[(n * 13 + 8) % len(consultations)]
            context: dict = {}
            if not cons["confidential"]:
                context["encounter"] = {"reference": f"Encounter/{self.s.rid('Encounter', cons['key'])}"}
            context["practiceSetting"] = {"coding": [{"system": spec.SNOMED, "code": spec.CLINICAL_SETTING[0],
                                                      "display": spec.CLINICAL_SETTING[1]}]}
            d["context"] = context
            self.add(d, confidential=bool(doc.get("confidential")))
            self.attachments.append({"resource": rid, "content": 0, "document": doc["key"]})
            if not cons["confidential"]:
                self.in_consultation.setdefault("documents", []).append(self.ref(d))

    # Lists ----------------------------------------------------------------------------------------------------
    def query_list(self, title, coding, refs, contained=None) -> dict:
        lst = {"resourceType": "List", "meta": {"profile": [spec.PROFILE_LIST]},
               "extension": [self.clinical_setting()]}
        if contained:
            lst["contained"] = contained
        lst.update(status="current", mode="snapshot", title=title, code={"coding": [coding]},
                   subject=self.patient_ref, date=self.s.instant(REFERENCE),
                   orderedBy={"coding": [{"system": "http://hl7.org/fhir/list-order", "code": "event-date",
                                          "display": "Sorted by Event Date"}]})
        if refs:
            lst["entry"] = [{"item": r} for r in refs]
        else:
            lst["note"] = [{"text": spec.LIST_EMPTY_NOTE}]
            lst["emptyReason"] = {"coding": [dict(spec.LIST_EMPTY_REASON)]}
        return lst

    def primary_lists(self) -> list:
        out = []
        order = ("consultations", "problems", "allergies", "ended_allergies", "medications", "observations",
                 "immunisations", "investigations", "referrals", "diary")
        for name in order:
            code, display, title = spec.PRIMARY_LISTS[name]
            coding = {"system": spec.SNOMED, "code": code, "display": display}
            if name == "ended_allergies":
                refs = [{"reference": f"#{a['id']}"} for a in self.ended_allergies]
                out.append(self.query_list(title, coding, refs, contained=self.ended_allergies or None))
            else:
                out.append(self.query_list(title, coding, self.primary[name]))
        return out

    def secondary_lists(self) -> list:
        out = []
        problem_titles = {"medications": "Problems - medications related to problems",
                          "observations": "Problems - uncategorised data related to problems",
                          "consultations": "Problems - consultations related to problems"}
        for area, title in problem_titles.items():
            refs = []
            for key in self.problem_order:
                for r in (self.problem_links.get(key) or {}).get(area, []):
                    if r not in refs:
                        refs.append(r)
            if refs:
                out.append(self.query_list(title, self.secondary_coding(title), refs))
        consultation_titles = {"medications": "Consultations - medications contained in consultations",
                               "observations": "Consultations - uncategorised data contained in consultations",
                               "investigations": "Consultations - investigations contained in consultations",
                               "referrals": "Consultations - outbound referrals in consultations",
                               "documents": "Consultations - documents contained in consultations"}
        for area, title in consultation_titles.items():
            refs = self.in_consultation.get(area) or []
            if refs:
                out.append(self.query_list(title, self.secondary_coding(title), refs))
        return out

    @staticmethod
    def secondary_coding(title: str) -> dict:
        return {"system": spec.SECONDARY_LIST_SYSTEM, "code": title.lower().replace(" - ", "-").replace(" ", "-"),
                "display": title}


def build(data: dict, supplier: dict, ods: str) -> dict:
    """The record as FHIR (entries, attachments by resource id, confidential refs)."""
    record = Builder(data, supplier, ods).build()
    index = {}
    for n, entry in enumerate(record["entries"]):
        r = entry["resource"]
        if r["resourceType"] == "DocumentReference":
            index[r["id"]] = n
    record["attachments"] = [{"entry": index[a["resource"]], "content": a["content"], "document": a["document"]}
                             for a in record["attachments"]]
    return record
