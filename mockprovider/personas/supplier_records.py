"""Supplier-styled records made from a seed: a persona's ``supplier_record`` section
(``{"style": "emis"|"tpp", "seed", "volume": "small"|"typical"|"heavy"}``) expanded, on first use, into
an ordinary ``record`` (the persona record format, ``record.style`` set), which the area modules of
:mod:`mockprovider.record` render like any hand-written record.

``record(persona_data) -> dict``. Deterministic: the same persona data give the same record. No Faker,
no wall clock: dates count back from :data:`REFERENCE`. What a record holds, by volume
(:data:`VOLUMES`), fits the person (age and sex at :data:`REFERENCE`):

- problems drawn from :data:`PROBLEMS` where the person is old enough (no angina, heart attack or renal
  failure before middle age), weighted by sex (gout and heart disease more often in men, rheumatoid
  arthritis and anxiety in women), each persona drawing its own list from its seed;
- long-term repeat medication for those problems only (a plan per authorisation, ``prior`` to the one
  before, an issue per 28 days: the first authorisation of the oldest drug has 100+ issues in a heavy
  record), acute courses recorded in consultations;
- decades of consultations by several clinicians (GPs, a registrar, nurses, a pharmacist) with
  history / examination / comment / plan headings titled the supplier's way and multi-paragraph notes,
  each topic about a problem of the record linked to it;
- allergies (one ended, one degraded in an earlier GP2GP transfer), childhood immunisations known only
  to the year and yearly flu vaccinations for those who are offered them, laboratory reports from a
  hospital laboratory (test groups, results with ranges and flags, filing comments, specimens),
  referrals, diary entries;
- dates at every precision STU3 allows (year, year-month, date, date-time); date-times written as the
  supplier writes them (EMIS: milliseconds, UTC; TPP: whole seconds, UK offset); degraded entries with
  the degrade code and the original term; non-ASCII names and notes; a confidential mental-health
  problem, its medication and one consultation.

Rendering (ids, identifiers, Read v2 / CTV3 translations, description ids, drug codes) is the record
style's (:mod:`mockprovider.record.styles`), from :mod:`.terminology`.
"""
from __future__ import annotations

import datetime
import random

from . import terminology as terms
from .generate import weighted_sample

REFERENCE = datetime.datetime(2025, 1, 1, 9, 0, 0)         # "now": when the record is extracted
SNOMED_SWITCH = datetime.date(2018, 4, 1)
STYLES = ("emis", "tpp")

# Per volume: years of record, consultations, repeat drugs at most, authorisations per drug, issues per
# authorisation (the first authorisation of the first drug has long_issues), laboratory reports, acute
# courses, referrals, problems (at most; fewer when fewer fit the person).
VOLUMES = {
    "small": dict(years=6, consultations=10, repeats=2, auths=2, issues=6, long_issues=12, labs=2, acutes=3,
                  referrals=1, problems=4),
    "typical": dict(years=22, consultations=45, repeats=4, auths=3, issues=12, long_issues=40, labs=8, acutes=10,
                    referrals=3, problems=8),
    "heavy": dict(years=32, consultations=130, repeats=6, auths=5, issues=24, long_issues=110, labs=26, acutes=30,
                  referrals=6, problems=13),
}

# Problems: concept -> (youngest age at onset, weight for a man, weight for a woman, repeat drugs treating it)
PROBLEMS = {
    "38341003": (35, 3, 3, ("318421004", "318906001")),     # hypertension: atenolol, ramipril
    "195967001": (5, 2, 2, ("39113611000001102", "320537007")),   # asthma: salbutamol, beclometasone
    "22298006": (45, 2, 1, ("320030001", "319773006")),     # myocardial infarction: atorvastatin, aspirin
    "194828000": (50, 2, 1, ("319773006",)),                # angina pectoris: aspirin
    "90560007": (30, 3, 1, ("330062008",)),                 # gout: allopurinol
    "69896004": (30, 1, 3, ()),                             # rheumatoid arthritis
    "23986001": (50, 1, 1, ()),                             # glaucoma
    "90688005": (55, 1, 1, ("317971007",)),                 # chronic renal failure: furosemide
    "279039007": (18, 2, 2, ()),                            # low back pain
    "21719001": (5, 2, 2, ("2940411000001108",)),           # allergic rhinitis: Beconase
    "40055000": (18, 1, 1, ()),                             # chronic sinusitis
    "238134004": (18, 2, 2, ()),                            # generalised obesity
    "63491006": (55, 2, 1, ()),                             # intermittent claudication
    "74506000": (18, 1, 1, ()),                             # bereavement
}
ALLERGY_CATEGORY = {"91936005": "medication", "293433001": "medication", "300916003": "environment",
                    "91935009": "food"}      # penicillin, simvastatin, latex, peanut
CONFIDENTIAL_PROBLEM = "197480006"                          # anxiety disorder (mental health): confidential
CONFIDENTIAL_DRUG = {"emis": "321989000", "tpp": "9751511000001104"}   # citalopram / sertraline
OTHER_REPEATS = (("317291008", 40, 1, 1), ("327438003", 18, 1, 3))   # omeprazole, ferrous sulfate (age, man, woman)
PEAK_FLOW, BP, WEIGHT, SYSTOLIC, DIASTOLIC = "18491006", "163020007", "27113001", "72313002", "1091811000000102"
FLU, MMR, PNEUMOCOCCAL = "86198006", "38598009", "247631000000101"
FLU_PROBLEMS = {"195967001", "22298006", "194828000", "90688005"}       # offered the flu vaccine whatever the age
REFERRAL_FOR = {"279039007": "183545006", "63491006": "183844002"}      # back pain: orthopaedics; claudication: vascular
MEDICATION_REVIEW = terms.DIARY["88551000000109"]
COMMENT_NOTE = "37331000000100|Comment note"
DEGRADED_ENTRY = "196411000000103|Transfer-degraded record entry"
DEGRADED_MEDICATION = "196421000000109|Transfer-degraded medication entry"
DEGRADED_DRUG_ALLERGY = "196461000000101|Transfer-degraded drug allergy"
VENOUS_BLOOD = "122555007|Venous blood specimen"
LABORATORY = {"ods": "RAE", "name": "Bradford Teaching Hospitals NHS Foundation Trust"}
HOSPITAL = {"ods": "RR8", "name": "Leeds Teaching Hospitals NHS Trust"}

# The practice's other clinicians: (key, role, gender, prefix, given, family); their SDS ids come from the seed.
CLINICIANS = (
    ("gp2", "gp", "female", "Dr", "Siobhán", "Ní Bhriain"),
    ("registrar", "registrar", "male", "Dr", "José", "Álvarez-Núñez"),
    ("nurse", "nurse", "female", "Mrs", "Zoë", "Ødegaard"),
    ("staff-nurse", "staff-nurse", "male", "Mr", "Łukasz", "Wiśniewski"),
    ("pharmacist", "pharmacist", "female", "Ms", "Chloé", "Dubois-Bérénger"),
    ("phlebotomist", "phlebotomist", "female", "Ms", "Aoife", "O'Ceallaigh"),
)
# How each supplier names consultation types and headings (free text beside the SNOMED CT type).
CONSULTATION_TYPES = {
    "emis": (("GP Surgery", "11429006|Consultation"), ("Telephone call", "185317003|Telephone encounter"),
             ("Home Visit", "439708006|Home visit"), ("Clinic", "11429006|Consultation")),
    "tpp": (("Surgery Consultation", "11429006|Consultation"), ("Telephone Consultation", "185317003|Telephone encounter"),
            ("Home Visit", "439708006|Home visit"), ("Nurse Clinic", "11429006|Consultation")),
}
HEADINGS = {
    "emis": {"history": "History", "examination": "Examination", "comment": "Comment", "test": "Test Request",
             "medication": "Medication", "plan": "Plan"},
    "tpp": {"history": "History", "examination": "Examination", "comment": "Comment", "test": "Investigations",
            "medication": "Medication", "plan": "Plan"},
}
HEADING_ORDER = ("history", "examination", "comment", "test", "medication", "plan")

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
    "Peak flow checked. No wheeze today. Inhaler technique checked \u2013 good.",
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


def _last_sunday(year: int, month: int) -> datetime.date:
    day = datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)
    return day - datetime.timedelta(days=(day.weekday() + 1) % 7)


def uk_offset(day: datetime.date) -> str:
    """+01:00 in British Summer Time (last Sunday of March to last Sunday of October), else +00:00."""
    return "+01:00" if _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10) else "+00:00"


def moment_text(style: str, moment: datetime.datetime) -> str:
    """A date-time the way the supplier writes it: EMIS milliseconds in UTC, TPP whole seconds local time."""
    if style == "emis":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + uk_offset(moment.date())


def code(term) -> str:
    return terms.code_text(term)


def drug_code(drug) -> str:
    return f"{drug.dmd}|{drug.name}"


class _Maker:
    def __init__(self, data: dict, supplier: dict):
        self.data = data
        self.style = supplier["style"]
        self.volume = supplier.get("volume", "small")
        self.v = VOLUMES[self.volume]
        seed = f"supplier-record/{supplier['style']}/{supplier['seed']}/{self.volume}/{data['nhs_number']}"
        self.rnd = random.Random(seed)
        self.born = datetime.date.fromisoformat(data["birth_date"])
        self.male = data.get("gender") == "male"
        self.age = (REFERENCE.date() - self.born).days // 365
        start = max(datetime.date(REFERENCE.year - self.v["years"], 1, 15), self.born + datetime.timedelta(days=365 * 16))
        if start >= REFERENCE.date() - datetime.timedelta(days=200):
            start = self.born + datetime.timedelta(days=30)
        self.start = start
        self.record: dict = {area: [] for area in ("problems", "allergies", "medications", "immunisations",
                                                   "observations", "investigations", "referrals", "diary",
                                                   "consultations")}
        self.clinicians = {"usual-gp": "usual_gp"}

    # --- small helpers -----------------------------------------------------------------------------------
    def moment(self, day: datetime.date, hour: int | None = None) -> str:
        h = hour if hour is not None else self.rnd.choice((8, 9, 10, 11, 14, 15, 16, 17))
        return moment_text(self.style, datetime.datetime(day.year, day.month, day.day, h, self.rnd.randrange(0, 60, 5),
                                                         self.rnd.randrange(60), self.rnd.randrange(0, 1000) * 1000))

    def day_between(self, a: datetime.date, b: datetime.date) -> datetime.date:
        return a + datetime.timedelta(days=self.rnd.randint(0, max((b - a).days, 0)))

    def age_on(self, age: int) -> datetime.date:
        return self.born + datetime.timedelta(days=int(365.25 * age))

    def weighted_pick(self, options: list, k: int) -> list:
        return weighted_sample(self.rnd, options, k)

    # --- the record --------------------------------------------------------------------------------------
    def make(self) -> dict:
        self.make_clinicians()
        self.plan_consultations()
        self.make_problems()
        self.make_allergies()
        self.make_immunisations()
        self.make_medications()
        self.make_investigations()
        self.make_referrals()
        self.make_diary()
        self.make_consultations()
        out = {"style": self.style, "date": moment_text(self.style, REFERENCE)}
        if self.extra_clinicians:
            out["clinicians"] = self.extra_clinicians
        out.update((area, items) for area, items in self.record.items() if items)
        return out

    def make_clinicians(self):
        self.extra_clinicians = []
        for key, role, gender, prefix, given, family in CLINICIANS:
            sds = f"G{self.rnd.randint(1000000, 9999999)}"
            code_, display = terms.ROLES[role]
            self.extra_clinicians.append({"sds_user_id": sds, "name": {"family": family, "given": [given],
                                                                       "prefix": [prefix]},
                                          "gender": gender, "role": f"{code_}|{display}"})
            self.clinicians[key] = sds
        self.gps = ("usual-gp", "gp2", "registrar")

    def plan_consultations(self):
        n = self.v["consultations"]
        span = (REFERENCE.date() - self.start).days
        days = sorted({self.start + datetime.timedelta(days=int(span * (i + self.rnd.random()) / n)) for i in range(n)})
        self.consultation_plan = []
        for i, day in enumerate(days):
            kind = self.rnd.choice(CONSULTATION_TYPES[self.style])
            who = self.rnd.choice(("usual-gp", "usual-gp", "gp2", "registrar", "nurse", "staff-nurse", "pharmacist",
                                   "phlebotomist"))
            self.consultation_plan.append({"key": f"consultation-{i}", "day": day, "kind": kind, "clinician": who,
                                           "headings": {}, "confidential": i == n // 3 and self.volume != "small"})

    def consultation_near(self, day: datetime.date):
        best = min(self.consultation_plan, key=lambda c: abs((c["day"] - day).days))
        return best if abs((best["day"] - day).days) < 60 else None

    def record_in(self, cons, heading: str, key: str):
        if cons is not None:
            cons["headings"].setdefault(heading, []).append(key)

    # Problems ----------------------------------------------------------------------------------------------
    def make_problems(self):
        fits = [(concept, (man if self.male else woman)) for concept, (youngest, man, woman, _) in PROBLEMS.items()
                if self.age >= youngest + 2]
        chosen = self.weighted_pick(fits, self.v["problems"] - 1)
        if self.age >= 18 and self.volume != "small":
            chosen.append(CONFIDENTIAL_PROBLEM)        # one confidential mental-health problem
        self.problems = {}
        earliest = self.start
        for n, concept in enumerate(chosen):
            youngest = PROBLEMS.get(concept, (18,))[0]
            first = max(earliest, self.age_on(youngest))
            day = self.day_between(first, REFERENCE.date() - datetime.timedelta(days=90))
            key = f"problem-{n}"
            term = terms.PROBLEMS[concept]
            precision = ("year", "month", None, None)[n % 4]
            item = {"key": key, "date": self.moment(day) if n % 4 == 3 else day.isoformat(), "code": code(term),
                    "status": "inactive" if n % 3 == 2 else "active", "significance": "major" if n % 2 == 0 else "minor"}
            if precision:
                item["precision"] = precision
            if item["status"] == "inactive":
                item["end"] = (day + datetime.timedelta(days=400)).isoformat()
            if concept == CONFIDENTIAL_PROBLEM:
                item["confidential"] = True
            self.record["problems"].append(item)
            self.problems[concept] = key

    def problem_keys(self, confidential=False):
        out = [k for c, k in self.problems.items() if (c == CONFIDENTIAL_PROBLEM) == confidential]
        return out

    # Allergies ---------------------------------------------------------------------------------------------
    def make_allergies(self):
        picks = ["91936005", "293433001", "300916003"] + (["91935009"] if self.volume != "small" else [])
        for n, concept in enumerate(picks):
            category = ALLERGY_CATEGORY[concept]
            term = terms.ALLERGIES[concept]
            day = self.day_between(self.start, REFERENCE.date() - datetime.timedelta(days=400))
            item = {"key": f"allergy-{n}", "date": self.moment(day), "category": category}
            if n == 1:       # degraded in an earlier GP2GP transfer: the degrade code, the original term as text
                item["code"] = DEGRADED_DRUG_ALLERGY
                item["code_text"] = term.read_term or term.display
            else:
                item["code"] = code(term)
            if n % 3:
                item["precision"] = ("year", "month")[n % 3 - 1]
            significance = "Major" if n == 0 else "Minor"
            text = ("Rash and facial swelling \u2013 told by hospital never to take again." if n == 0
                    else "Reaction reported by patient.")
            item["note"] = (f"Significance : {significance}\nEpisodicity : First\n{text}" if self.style == "emis"
                            else f"{text} ({significance.lower()} significance, first episode)")
            item["severity"] = "severe" if n == 0 else "mild"
            if n == 2:
                item["end"] = {"date": (day + datetime.timedelta(days=900)).isoformat(),
                               "reason": "No reaction to latex gloves at dental visit \u2013 allergy disproved"}
            self.record["allergies"].append(item)

    # Immunisations -----------------------------------------------------------------------------------------
    def make_immunisations(self):
        offered = self.age >= 65 or bool(FLU_PROBLEMS & set(self.problems))
        picks = []
        if offered:
            first_year = max(self.start.year, REFERENCE.year - self.v["years"],
                             self.age_on(65).year if not FLU_PROBLEMS & set(self.problems) else 0)
            picks = [(datetime.date(y, 10, self.rnd.randint(1, 28)), FLU) for y in range(first_year, REFERENCE.year)]
            if self.volume == "small":
                picks = picks[-3:]
        picks.append((self.born + datetime.timedelta(days=400), MMR))          # as a child, known to the year
        if self.age >= 66:
            picks.append((max(self.start, self.age_on(65)), PNEUMOCOCCAL))
        for n, (day, concept) in enumerate(sorted(picks)):
            historical = day < self.start
            item = {"key": f"immunisation-{n}", "date": day.isoformat() if historical else self.moment(day),
                    "code": code(terms.IMMUNISATIONS[concept])}
            if historical:
                item["precision"] = "year"
                item["note"] = "Historical \u2013 from the patient's personal child health record."
            else:
                item["administered_by"] = self.clinicians["nurse"]
                item["batch"] = f"{'QV' if n % 2 else 'AX'}{self.rnd.randint(10000, 99999)}"
                item["note"] = "Given in left deltoid. No immediate reaction; advised paracetamol for any fever."
            self.record["immunisations"].append(item)

    # Medications -------------------------------------------------------------------------------------------
    def make_medications(self):
        repeats = []
        for concept, key in self.problems.items():
            for dmd in PROBLEMS.get(concept, (0, 0, 0, ()))[3]:
                if dmd not in [d for d, _ in repeats]:
                    repeats.append((dmd, key))
        for dmd, age, man, woman in OTHER_REPEATS:
            if self.age >= age and self.rnd.random() < 0.3 * (man if self.male else woman):
                repeats.append((dmd, None))
        repeats = repeats[: self.v["repeats"]]
        if CONFIDENTIAL_PROBLEM in self.problems:
            repeats.append((CONFIDENTIAL_DRUG[self.style], self.problems[CONFIDENTIAL_PROBLEM]))
        step = datetime.timedelta(days=28)
        for d, (dmd, problem_key) in enumerate(repeats):
            drug = terms.DRUGS[dmd]
            confidential = dmd == CONFIDENTIAL_DRUG[self.style]
            auths = 2 if confidential else self.v["auths"]
            first_issues = self.v["long_issues"] if d == 0 else self.v["issues"]
            total = (first_issues + self.v["issues"] * (auths - 1)) * 28 + 60
            day = max(self.start, REFERENCE.date() - datetime.timedelta(days=total + d * 90))
            prior = None
            for a in range(auths):
                issues = first_issues if a == 0 else self.v["issues"]
                last = a == auths - 1
                still = last and d % 3 != 2 and not confidential
                end = day + step * issues
                issued = issues if not still else max(1, issues - 3)
                key = f"repeat-{d}-{a}"
                item = {"key": key, "date": self.moment(day), "drug": drug_code(drug), "dosage": drug.dosage,
                        "quantity": f"{drug.quantity} {drug.unit}", "type": "repeat",
                        "status": "active" if still else ("stopped" if last else "completed"),
                        "repeats_allowed": issues,
                        "issues": [self.moment(day + step * k) for k in range(issued)]}
                if not still:
                    item["end"] = end.isoformat()
                if last and not still:
                    item["status_reason"] = "Medication course stopped by clinician"
                if a:
                    item["clinician"] = self.clinicians[self.rnd.choice(self.gps)]
                if prior:
                    item["prior"] = prior
                if problem_key:
                    item["problem"] = problem_key
                if confidential:
                    item["confidential"] = True
                self.record["medications"].append(item)
                cons = self.consultation_near(day)
                if cons is not None and not confidential and not cons["confidential"]:
                    self.record_in(cons, "medication", key)
                prior = key
                day = end
        usable = [c for c in self.consultation_plan if not c["confidential"]]
        for n in range(self.v["acutes"]):
            drug = terms.ACUTES[n % len(terms.ACUTES)]
            cons = usable[(n * 7 + 3) % len(usable)]
            day = cons["day"]
            item = {"key": f"acute-{n}", "date": self.moment(day), "drug": drug_code(drug), "dosage": drug.dosage,
                    "quantity": f"{drug.quantity} {drug.unit}", "type": "acute", "status": "completed",
                    "end": (day + datetime.timedelta(days=14)).isoformat()}
            if n == 0:      # degraded in an earlier record transfer: the degrade code, the original name as text
                item["drug"] = DEGRADED_MEDICATION
                item["drug_text"] = "Magnesium trisilicate mixture BP 200ml (degraded in transfer)"
            if cons["clinician"] in self.gps:
                item["clinician"] = self.clinicians[cons["clinician"]]
            self.record["medications"].append(item)
            self.record_in(cons, "medication", item["key"])

    # Investigations ----------------------------------------------------------------------------------------
    def make_investigations(self):
        usable = [c for c in self.consultation_plan if not c["confidential"]]
        for n in range(self.v["labs"]):
            cons = usable[(n * 5 + 1) % len(usable)]
            day = cons["day"] + datetime.timedelta(days=2)
            key = f"lab-{n}"
            panels = [PANELS[(n + k) % len(PANELS)] for k in range(1 + n % 3)]
            groups = []
            for g, (panel, tests) in enumerate(panels):
                results = []
                for t, (concept, unit, low, high) in enumerate(tests):
                    value = round(self.rnd.uniform(low * 0.85 if low else 0, high * 1.15), 2 if high < 10 else 0)
                    value = int(value) if high >= 10 else value
                    res = {"key": f"{key}-g{g}-r{t}", "code": code(terms.LABS[concept]), "value": value, "unit": unit,
                           "range": [low, high]}
                    if value < low or value > high:
                        res["interpretation"] = "H" if value > high else "L"
                        res["note"] = "Result outside reference range \u2013 please review."
                    results.append(res)
                groups.append({"key": f"{key}-g{g}", "code": code(terms.LABS[panel]), "results": results})
            item = {"key": key, "date": self.moment(day, 16), "code": code(terms.LABS[panels[0][0]]), "lab": LABORATORY,
                    "request": {"code": code(terms.LABS[panels[0][0]])},
                    "specimen": {"type": VENOUS_BLOOD, "date": self.moment(cons["day"], 9),
                                 "accession": f"{LABORATORY['ods']}{day.year % 100:02d}{self.rnd.randint(100000, 999999)}"},
                    "groups": groups,
                    "filing_comment": "Filed by GP. " + ("Satisfactory \u2013 no action." if n % 2
                                                         else "Recall for repeat bloods in 3 months.")}
            self.record["investigations"].append(item)
            self.record_in(cons, "test", key)

    # Referrals and diary -----------------------------------------------------------------------------------
    def make_referrals(self):
        reasons = [REFERRAL_FOR[c] for c in self.problems if c in REFERRAL_FOR] or ["306098008"]
        usable = [c for c in self.consultation_plan if not c["confidential"]]
        for n in range(min(self.v["referrals"], len(reasons) * 2)):
            cons = usable[(n * 11 + 6) % len(usable)]
            concept = reasons[n % len(reasons)]
            item = {"key": f"referral-{n}", "date": self.moment(cons["day"]), "code": code(terms.REFERRALS[concept]),
                    "priority": ("routine", "urgent")[n % 2], "recipient": HOSPITAL,
                    "ubrn": f"{self.rnd.randint(10 ** 11, 10 ** 12 - 1)}",
                    "description": "Persistent symptoms despite treatment; please assess.\n\nBackground: see problem "
                                   "list. Patient prefers morning appointments \u2013 needs interpreter (Polish)."}
            problem = next((k for c, k in self.problems.items() if REFERRAL_FOR.get(c) == concept), None)
            if problem:
                item["problem"] = problem
            self.record["referrals"].append(item)
            self.record_in(cons, "plan", item["key"])

    def make_diary(self):
        recorded = REFERENCE.date() - datetime.timedelta(days=30)
        for n in range(2 if self.volume != "small" else 1):
            due = REFERENCE.date() + datetime.timedelta(days=60 + 90 * n)
            self.record["diary"].append({
                "key": f"diary-{n}", "date": self.moment(recorded), "code": code(MEDICATION_REVIEW),
                "due": due.isoformat() if n == 0 else due.isoformat()[:7],
                "note": "Annual review \u2013 book 20 min with GP."})

    # Consultations -----------------------------------------------------------------------------------------
    def make_consultations(self):
        open_problems = self.problem_keys() or [None]
        secret = self.problem_keys(confidential=True)
        findings = list(terms.FINDINGS.values())
        for i, cons in enumerate(self.consultation_plan):
            key, day, conf = cons["key"], cons["day"], cons["confidential"]
            problem = (secret[0] if conf and secret else open_problems[i % len(open_problems)])
            problem_code = next((c for c, k in self.problems.items() if k == problem), None)
            fill = {"who": WHO[i % len(WHO)], "symptom": SYMPTOMS[i % len(SYMPTOMS)], "n": 2 + i % 6,
                    "problem": terms.PROBLEMS[problem_code].description_term if problem_code else "symptoms"}
            started = self.moment(day)
            notes = {"history": [HISTORY[i % len(HISTORY)].format(**fill) + (
                "\n\nLong-standing worries about health since bereavement; lives alone, daughter visits twice "
                "weekly. Denies chest pain, haemoptysis or weight loss." if i % 2 else "")],
                "examination": [EXAMINATION[i % len(EXAMINATION)]], "plan": [PLAN[i % len(PLAN)].format(**fill)]}
            if conf:
                notes["history"].append("Low mood for two months, poor sleep, tearful. PHQ-9 discussed. No thoughts of "
                                        "self-harm. Partner supportive.\n\nConfidential \u2013 patient asked that this "
                                        "is not shared with family.")
            items: dict = {h: list(keys) for h, keys in cons["headings"].items()}
            who = self.clinicians[cons["clinician"]]

            def observation(suffix, obs):
                obs = {"key": f"{key}/{suffix}".replace("/", "-"), "date": started, **obs}
                if who != "usual_gp":
                    obs["clinician"] = who
                if conf:
                    obs["confidential"] = True
                self.record["observations"].append(obs)
                return obs["key"]

            if self.age >= 16:
                exam = [observation("bp", {"code": code(terms.MEASURES[BP]),
                                           "bp": [118 + (i * 7) % 45, 68 + (i * 5) % 25]})]
            else:
                exam = []
            if i % 3 == 0:
                exam.append(observation("weight", {"code": code(terms.MEASURES[WEIGHT]), "date": day.isoformat(),
                                                   "value": round(70 + (i % 13) * 0.7, 1), "unit": "kg"}))
            if i % 4 == 1:
                exam.append(observation("finding", {"code": code(findings[(i // 4) % len(findings)])}))
            items.setdefault("examination", []).extend(exam)
            if i % 5 == 2:   # degraded in an earlier GP2GP transfer: the original entry survives as text only
                items.setdefault("comment", []).append(observation("degraded", {
                    "code": DEGRADED_ENTRY, "code_text": "Ear syringing \u2013 both ears (legacy entry)",
                    "precision": "month"}))
            if conf:
                items.setdefault("history", []).append(observation("religion", {
                    "code": code(terms.SENSITIVE_FINDINGS["160540005"])}))
            headings = []
            for name in sorted(set(items) | set(notes), key=HEADING_ORDER.index):
                heading = {"title": HEADINGS[self.style][name]}
                if items.get(name):
                    heading["items"] = items[name]
                if notes.get(name):
                    heading["notes"] = notes[name]
                headings.append(heading)
            topic = {"problem": problem, "headings": headings} if problem else {"title": "Other", "headings": headings}
            text, type_code = cons["kind"]
            item = {"key": key, "date": started, "type": type_code, "type_text": text, "title": text,
                    "clinicians": [{"sds_user_id": who, "type": "PPRF"}, {"sds_user_id": who, "type": "REC"}],
                    "location": "practice", "topics": [topic]}
            if who != "usual_gp":
                item["clinician"] = who
            if self.style == "tpp":
                minutes = 10 + (i % 4) * 5
                end = datetime.datetime.fromisoformat(started) + datetime.timedelta(minutes=minutes)
                item["end"] = end.strftime("%Y-%m-%dT%H:%M:%S") + started[-6:]
            if conf:
                item["confidential"] = True
            self.record["consultations"].append(item)


def record(data: dict) -> dict:
    """The persona's ``supplier_record`` seed expanded into an ordinary record (``record.style`` set)."""
    return _Maker(data, data["supplier_record"]).make()
