"""Generate personas: Faker ``en_GB`` people with test NHS numbers and a small plausible record.

Deterministic: the same (count, seed, tags) gives byte-identical files on every run and machine.
There is no wall clock and no global randomness: every value comes from the seed.
- NHS numbers are ``999`` + six digits + the Mod-11 check digit (the test range), drawn without
  repetition from the seed (``9999999999``, the assurance suite's "not in system" number, is skipped).
- Each persona has its own seed (from the run's seed and its NHS number); one Faker instance is
  reseeded per persona (``seed_instance``), which is much faster than making one per persona.
- Dates are counted back from :data:`REFERENCE_DATE`, a fixed day.
- Clinical codes come from :mod:`mockprovider.personas.clinical_codes`; the record follows the
  structured record format (docs/personas/format.md).

``tags`` shapes every generated persona: e.g. ``sensitive`` sets the PDS flag, ``confidential-items``
marks some items confidential, ``full-record`` fills every clinical area, ``large-record`` gives a
``generated_record``, and the document tags add generated documents (``many-documents``: 100 small
ones; ``large-document``: one of 4,500,000 bytes; ``oversized-document``: one of 6 MiB). Every tag of
the vocabulary can be asked for; contradictory sets are refused, and each generated persona's
derived tags are checked to include the ones asked for.

:func:`write_atomically` writes a set of files into a folder: all files go into a temporary folder
beside it, are fsynced, and the folder is swapped into place in one rename, so an interrupted run
leaves the old files untouched.
"""
from __future__ import annotations

import ctypes
import datetime
import hashlib
import json
import os
import random
import shutil
from pathlib import Path

from . import clinical_codes as codes
from . import nhs_number
from .documents import GENERATED_CONTENT_TYPE, generated_sha256
from .format import CLINICAL_AREAS, derive_tags

REFERENCE_DATE = datetime.date(2025, 1, 1)
NOT_IN_SYSTEM = "9999999999"           # the assurance suite's "unknown to provider" number
OTHER_PRACTICE_ODS = "A20047"          # registered-elsewhere: PDS names this practice

SHAPEABLE = ("full-record", "no-documents", "sensitive", "dissent", "deceased", "unverified-nhs-number",
             "registered-elsewhere", "confidential-items", "large-document", "oversized-document",
             "many-documents", "large-record", "gp2gp-edge-case")
DOCUMENT_TAGS = ("large-document", "oversized-document", "many-documents")
LARGE_DOCUMENT_SIZE = 4_500_000           # 4 MiB <= size <= 5 MiB: large, still retrievable
OVERSIZED_DOCUMENT_SIZE = 6 * 1024 * 1024  # over the 5 MiB retrieve limit
MANY_DOCUMENTS = 100
LARGE_RECORD_VISITS = 290                  # about 3 MB of migrate Bundle
# --style / --volume: plain is the mock's own record format; emis and tpp are supplier-shaped records
# (mockprovider.fhir.suppliers, made from the persona's seed on first use).
STYLES = ("plain", "emis", "tpp")
VOLUMES = ("small", "typical", "heavy")
SUPPLIER_LETTERS = {"small": 1, "typical": 2, "heavy": 4}
HOSPITAL_ODS = "RR8"
LETTER_TYPES = ("823701000000103|Outpatient letter", "824331000000106|Inpatient final discharge letter")
LETTER_DESCRIPTIONS = ("Outpatient clinic letter", "Discharge summary", "Follow-up clinic letter",
                       "Consultant letter \u2013 results")
AUTHOR_ODS = "B82617"                      # the default provider practice authors the documents


class GenerateError(ValueError):
    """The request cannot be generated or written (the message says why)."""


# --- NHS numbers ------------------------------------------------------------------------------------

def test_nhs_numbers(count: int, seed) -> list[str]:
    """``count`` distinct valid NHS numbers in the 999 test range, in a seed-determined order."""
    room = 1_000_000
    if count > 900_000:
        raise GenerateError(f"at most 900000 personas can be generated, not {count}")
    rnd = random.Random(f"nhs-numbers/{seed}")
    numbers: list[str] = []
    for body in rnd.sample(range(room), min(room, count + count // 8 + 64)):
        first_nine = f"999{body:06d}"
        digit = nhs_number.check_digit(first_nine)
        if digit is None:
            continue
        number = f"{first_nine}{digit}"
        if number == NOT_IN_SYSTEM:
            continue
        numbers.append(number)
        if len(numbers) == count:
            return numbers
    # Extremely unlikely: the oversampling above leaves ~12% spare; top up in order.
    taken = set(numbers)
    for body in range(room):
        first_nine = f"999{body:06d}"
        digit = nhs_number.check_digit(first_nine)
        number = f"{first_nine}{digit}" if digit is not None else None
        if number and number != NOT_IN_SYSTEM and number not in taken:
            numbers.append(number)
            taken.add(number)
            if len(numbers) == count:
                break
    return numbers


def persona_seed(seed, number: str) -> int:
    return int.from_bytes(hashlib.sha256(f"persona/{seed}/{number}".encode()).digest()[:8], "big")


# --- one persona -------------------------------------------------------------------------------------

def _day(rnd: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    span = (end - start).days
    return start + datetime.timedelta(days=rnd.randint(0, max(span, 0)))


def _postcode(fake) -> str:
    return fake.postcode().upper()


class _Record:
    """Builds one persona's record in the structured format; keys are unique within it."""

    def __init__(self, rnd: random.Random, start: datetime.date, end: datetime.date):
        self.rnd, self.start, self.end = rnd, start, end
        self.areas: dict[str, list] = {}
        self.count = 0

    def date(self) -> str:
        return _day(self.rnd, self.start, self.end).isoformat()

    def add(self, area: str, prefix: str, item: dict) -> dict:
        self.count += 1
        entry = {"key": f"{prefix}{self.count}", "date": self.date(), **item}
        self.areas.setdefault(area, []).append(entry)
        return entry


def weighted_sample(rnd: random.Random, options: list, k: int) -> list:
    """``k`` distinct values of ``options`` [(value, weight)], drawn without replacement by weight."""
    chosen, pool = [], [(v, w) for v, w in options if w > 0]
    while pool and len(chosen) < k:
        x = rnd.uniform(0, sum(w for _, w in pool))
        for n, (value, weight) in enumerate(pool):
            x -= weight
            if x <= 0 or n == len(pool) - 1:
                chosen.append(value)
                pool.pop(n)
                break
    return chosen


def age_at(born: datetime.date, day: datetime.date = REFERENCE_DATE) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def medications_for(problems: set, age: int) -> list:
    """The drugs of :data:`codes.MEDICATIONS` a person with these problems may be given: those treating one
    of them, and the untargeted ones (a statin from 40)."""
    return [m for m in codes.MEDICATIONS if (m[3] in problems) or (m[3] is None and age >= 40)]


def _record(rnd: random.Random, born: datetime.date, full: bool, confidential: bool, gender: str = "unknown") -> dict:
    start = max(born + datetime.timedelta(days=16 * 365), REFERENCE_DATE - datetime.timedelta(days=20 * 365))
    if start >= REFERENCE_DATE:
        start = born
    r = _Record(rnd, start, REFERENCE_DATE - datetime.timedelta(days=1))
    pick = rnd.choice
    age = age_at(born)

    problems = {}
    # Problems that fit the person's age and sex (clinical_codes.PROBLEM_FIT), weighted.
    for code, sensitive in weighted_sample(rnd, codes.problems_for(age, gender), rnd.randint(1, 2)):
        item = r.add("problems", "prb", {"code": code, "status": pick(("active", "active", "inactive")),
                                         "significance": pick(("major", "minor"))})
        if confidential and sensitive:
            item["confidential"] = True
        problems[code.split("|")[0]] = item["key"]

    for code, category, reaction in rnd.sample(codes.ALLERGIES, 1 if full or rnd.random() < 0.4 else 0):
        r.add("allergies", "alg", {"code": code, "category": category, "reaction": reaction,
                                   "severity": pick(("mild", "moderate", "severe"))})

    fitting = medications_for(set(problems), age) or [m for m in codes.MEDICATIONS if m[3] == "30989003"]
    for drug, dosage, quantity, treats, sensitive in rnd.sample(fitting, min(len(fitting), rnd.randint(1, 2))):
        kind = pick(("acute", "repeat"))
        item = {"drug": drug, "dosage": dosage, "type": kind, "quantity": quantity}
        entry = r.add("medications", "med", item)
        first = datetime.date.fromisoformat(entry["date"])
        if kind == "acute":
            entry["status"] = "completed"
            entry["issues"] = [entry["date"]]
        else:
            entry["repeats_allowed"] = 6
            entry["issues"] = [(first + datetime.timedelta(days=28 * n)).isoformat()
                               for n in range(rnd.randint(1, 3))
                               if first + datetime.timedelta(days=28 * n) < REFERENCE_DATE]
        if treats in problems:
            entry["problem"] = problems[treats]
        if confidential and sensitive:
            entry["confidential"] = True

    for code, _vaccine in rnd.sample(codes.IMMUNISATIONS, 1 if full or rnd.random() < 0.3 else 0):
        r.add("immunisations", "imm", {"code": code, "site": codes.IMMUNISATION_SITE,
                                       "route": codes.IMMUNISATION_ROUTE})

    r.add("observations", "obs", {"code": codes.BLOOD_PRESSURE,
                                  "bp": [rnd.randint(105, 160), rnd.randint(60, 95)]})
    code, unit, low, high = pick(codes.OBSERVATIONS)
    if rnd.random() < 0.5:
        r.add("observations", "obs", {"code": code, "value": rnd.randint(low, high), "unit": unit})
    else:
        r.add("observations", "obs", {"code": pick(codes.SMOKING)})
    if confidential:
        r.add("observations", "obs", {"code": codes.SENSITIVE_OBSERVATION, "confidential": True})

    if full or rnd.random() < 0.2:
        results = []
        for result_code, unit, low, high in codes.FBC_RESULTS[:2]:
            value = round(rnd.uniform(low, high), 2) if isinstance(low, float) else rnd.randint(low, high)
            r.count += 1
            results.append({"key": f"res{r.count}", "code": result_code, "value": value, "unit": unit,
                            "range": [low, high]})
        r.add("investigations", "inv", {"code": codes.FBC, "specimen": {"type": codes.VENOUS_BLOOD},
                                        "results": results})
    if full or rnd.random() < 0.15:
        code, service = pick(codes.REFERRALS)
        r.add("referrals", "ref", {"code": code, "service": service})
    if full or rnd.random() < 0.15:
        entry = r.add("diary", "dia", {"code": pick(codes.DIARY)})
        # recorded on its date, due a year later (the diary entry page: authoredOn vs occurrence)
        entry["due"] = (datetime.date.fromisoformat(entry["date"]) + datetime.timedelta(days=365)).isoformat()

    # One consultation recording a few of the items above (never an ended allergy; none are ended).
    recordable = [item["key"] for area in ("problems", "medications", "observations")
                  for item in r.areas.get(area, [])]
    chosen = sorted(rnd.sample(recordable, min(len(recordable), rnd.randint(1, 3))),
                    key=recordable.index)
    ctype, title = pick(codes.CONSULTATION_TYPES)
    r.add("consultations", "con", {"type": ctype, "title": title,
                                   "topics": [{"title": "Review", "items": chosen,
                                               "notes": [pick(codes.NOTES)]}]})
    record = {"date": f"{REFERENCE_DATE.isoformat()}T09:00:00+00:00"}
    for area in CLINICAL_AREAS:           # a fixed key order, whatever order items were made in
        if area in r.areas:
            record[area] = r.areas[area]
    return record


def make_persona(fake, seed, number: str, tags: frozenset, style: str = "plain", volume: str = "small") -> dict:
    """One persona dict (fields in a fixed order). ``style``/``volume``: see :func:`check_style`."""
    pseed = persona_seed(seed, number)
    fake.seed_instance(pseed)
    rnd = random.Random(pseed)
    gender = "female" if rnd.random() < 0.5 else "male"
    given = fake.first_name_female() if gender == "female" else fake.first_name_male()
    middle = fake.first_name_female() if gender == "female" else fake.first_name_male()
    family = fake.last_name()
    prefix = rnd.choice(("Mrs", "Ms", "Miss")) if gender == "female" else "Mr"
    born = _day(rnd, REFERENCE_DATE - datetime.timedelta(days=95 * 365),
                REFERENCE_DATE - datetime.timedelta(days=18 * 365))
    persona: dict = {
        "description": f"Generated (seed {seed})",
        "nhs_number": number,
        "nhs_number_status": "02" if "unverified-nhs-number" in tags else "01",
        "name": {"family": family, "given": [given, middle] if rnd.random() < 0.4 else [given],
                 "prefix": [prefix]},
        "gender": gender,
        "birth_date": born.isoformat(),
    }
    if "deceased" in tags:
        persona["deceased"] = _day(rnd, born + datetime.timedelta(days=18 * 365), REFERENCE_DATE).isoformat()
    persona["pds"] = {"sensitive": "sensitive" in tags, "dissent": "dissent" in tags,
                      "registered_practice_ods": OTHER_PRACTICE_ODS if "registered-elsewhere" in tags else None}
    persona["address"] = {"line": fake.street_address().split("\n"), "city": fake.city(), "postcode": _postcode(fake),
                          "use": "home"}
    persona["telecom"] = [{"system": "phone", "value": fake.phone_number(), "use": "home"}]
    gp_female = rnd.random() < 0.5
    persona["usual_gp"] = {
        "sds_user_id": f"G{rnd.randint(1000000, 9999999)}",
        "name": {"family": fake.last_name(),
                 "given": [fake.first_name_female() if gp_female else fake.first_name_male()],
                 "prefix": ["Dr"]},
        "gender": "female" if gp_female else "male",
        "role": "R0260|General Medical Practitioner",
    }
    registered = _day(rnd, max(born, REFERENCE_DATE - datetime.timedelta(days=30 * 365)),
                      REFERENCE_DATE - datetime.timedelta(days=30))
    persona["registration"] = {"date": registered.isoformat(), "type": "R"}
    if style != "plain":
        # The record is made from this seed on first use, in the supplier's shape (mockprovider.fhir.suppliers).
        persona["supplier_record"] = {"style": style, "seed": f"{seed}/{number}", "volume": volume}
    elif "large-record" in tags or volume == "heavy":
        persona["generated_record"] = {"seed": f"{seed}/{number}", "visits": LARGE_RECORD_VISITS}
    else:
        persona["record"] = _record(rnd, born, "full-record" in tags or volume == "typical",
                                    "confidential-items" in tags, gender)
    documents = _documents(rnd, seed, number, tags)
    if "gp2gp-edge-case" in tags:
        documents.append(_edge_case(persona, seed, number))
    if style != "plain" and "no-documents" not in tags:
        documents += _letters(rnd, seed, number, SUPPLIER_LETTERS[volume], born)
    if documents:
        persona["documents"] = documents
    return persona


def _generated_document(key: str, description: str, doc_type: str, created: str, indexed: str, author_ods: str,
                        size: int, seed: str) -> dict:
    """One document of the documents section's ``generate`` form (its bytes made from ``seed``)."""
    return {"key": key, "description": description, "type": doc_type, "created": created, "indexed": indexed,
            "author": {"organization": author_ods}, "contentType": GENERATED_CONTENT_TYPE,
            "generate": {"size": size, "seed": seed}, "sha256": generated_sha256(size, seed)}


def _documents(rnd: random.Random, seed, number: str, tags: frozenset) -> list:
    """Generated documents (the documents section's ``generate`` form) for the document tags."""
    sizes = []
    if "many-documents" in tags:
        sizes += [(f"doc-{n:03d}", 1000 + 97 * n) for n in range(1, MANY_DOCUMENTS + 1)]
    if "large-document" in tags:
        sizes.append(("large-1", LARGE_DOCUMENT_SIZE))
    if "oversized-document" in tags:
        sizes.append(("oversized-1", OVERSIZED_DOCUMENT_SIZE))
    documents = []
    for n, (key, size) in enumerate(sizes):
        created = _day(rnd, REFERENCE_DATE - datetime.timedelta(days=10 * 365), REFERENCE_DATE - datetime.timedelta(days=2))
        documents.append(_generated_document(
            key, f"Generated document {n + 1} of {len(sizes)}", codes.DOCUMENT_TYPES[n % len(codes.DOCUMENT_TYPES)],
            f"{created.isoformat()}T09:00:00+00:00",
            f"{(created + datetime.timedelta(days=1)).isoformat()}T09:00:00+00:00", AUTHOR_ODS, size,
            f"{seed}/{number}/{key}"))
    return documents


def _edge_case(persona: dict, seed, number: str) -> dict:
    """gp2gp-edge-case: a ferritin result whose value is the laboratory's report (valueAttachment, which the
    NHS GP2GP adaptor cannot map), added to the record; returns the report document."""
    day = (REFERENCE_DATE - datetime.timedelta(days=40)).isoformat()
    doc_seed, size = f"{seed}/{number}/lab-report", 1200
    record = persona.setdefault("record", {})
    record.setdefault("investigations", []).append({
        "key": "edge-ferritin", "date": day, "code": codes.FBC, "specimen": {"type": codes.VENOUS_BLOOD},
        "results": [{"key": "edge-ferritin-report", "code": codes.FERRITIN, "document": "lab-report"}]})
    return _generated_document("lab-report", "Laboratory report: serum ferritin", codes.LAB_REPORT,
                               f"{day}T14:00:00+00:00", f"{day}T16:00:00+00:00", AUTHOR_ODS, size, doc_seed)


def _letters(rnd: random.Random, seed, number: str, count: int, born: datetime.date) -> list:
    """Hospital letters of a supplier-shaped record (small generated text documents)."""
    letters = []
    earliest = max(born + datetime.timedelta(days=18 * 365), REFERENCE_DATE - datetime.timedelta(days=20 * 365))
    for n in range(count):
        created = _day(rnd, earliest, REFERENCE_DATE - datetime.timedelta(days=2))
        key = f"letter-{n + 1}"
        size = 6000 + rnd.randint(0, 20000)
        letters.append(_generated_document(
            key, LETTER_DESCRIPTIONS[n % len(LETTER_DESCRIPTIONS)], LETTER_TYPES[n % len(LETTER_TYPES)],
            f"{created.isoformat()}T09:00:00+00:00", f"{created.isoformat()}T15:30:00+00:00", HOSPITAL_ODS, size,
            f"{seed}/{number}/{key}"))
    return letters


def check_style(style: str, volume: str | None, tags) -> str:
    """The volume to use for ``style`` (``plain`` or a supplier style), or GenerateError.

    plain: small = today's small record, typical = every clinical area, heavy = a generated_record
    (the ``large-record`` tag); a supplier style (emis, tpp): a ``supplier_record`` of that volume
    (default typical), which always fills every area and has confidential items.
    """
    if style not in STYLES:
        raise GenerateError(f"style {style!r} is not one of {', '.join(STYLES)}")
    if volume is not None and volume not in VOLUMES:
        raise GenerateError(f"volume {volume!r} is not one of {', '.join(VOLUMES)}")
    wanted = frozenset(tags)
    chosen = volume or ("heavy" if "large-record" in wanted else "small" if style == "plain" else "typical")
    if "large-record" in wanted and chosen != "heavy":
        raise GenerateError(f"large-record is the heavy volume: ask for --volume heavy, not {chosen}")
    if chosen == "heavy" and style == "plain" and "gp2gp-edge-case" in wanted:
        raise GenerateError("a generated large record has no test result documents: ask for --volume heavy "
                            "or gp2gp-edge-case, not both")
    if style != "plain" and "gp2gp-edge-case" in wanted:
        raise GenerateError("gp2gp-edge-case is made for --style plain only")
    if style == "plain" and chosen == "heavy" and "confidential-items" in wanted:
        raise GenerateError("a generated large record has no confidential items: ask for --volume heavy "
                            "or confidential-items, not both")
    return chosen


def check_tags(tags) -> frozenset:
    wanted = frozenset(tags)
    refused = sorted(wanted - set(SHAPEABLE))
    if refused:
        raise GenerateError(f"cannot generate tag(s) {', '.join(refused)}; the generator makes: "
                            f"{', '.join(SHAPEABLE)}")
    clash = sorted(wanted & set(DOCUMENT_TAGS)) if "no-documents" in wanted else []
    if clash:
        raise GenerateError(f"no-documents contradicts {', '.join(clash)}")
    if "no-documents" in wanted and "gp2gp-edge-case" in wanted:
        raise GenerateError("no-documents contradicts gp2gp-edge-case (a test result whose value is a document)")
    if {"large-record", "gp2gp-edge-case"} <= wanted:
        raise GenerateError("a generated large record has no test result documents: ask for large-record "
                            "or gp2gp-edge-case, not both")
    if {"large-record", "confidential-items"} <= wanted:
        raise GenerateError("a generated large record has no confidential items: ask for large-record "
                            "or confidential-items, not both")
    return wanted


# --variants all: one persona per group of clinical variants, its record the built-in variant persona's
# (personas/README.md, "Clinical variants"), on a generated person with a generated NHS number.
VARIANTS = {
    "lists": "9690990039",          # data in transit, awaiting filing, empty areas
    "links": "9690990047",          # problem links, consultations, allergies
    "medications": "9690990055",
    "child": "9690990063",          # immunisations, investigations, referrals, uncategorised, documents
}


def check_variants(names) -> tuple:
    """``all`` or names of :data:`VARIANTS` -> the variant names, in table order."""
    names = [n.strip() for group in names for n in group.split(",") if n.strip()]
    if "all" in names:
        return tuple(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise GenerateError(f"unknown variant {', '.join(unknown)} (known: all, {', '.join(VARIANTS)})")
    return tuple(n for n in VARIANTS if n in names)


def _variant_template(name: str) -> dict:
    from ..config import BUILT_IN_PERSONAS
    path = Path(BUILT_IN_PERSONAS) / f"{VARIANTS[name]}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenerateError(f"the built-in variant persona {path} cannot be read: {exc}") from None


def variant_persona(fake, seed, number: str, name: str) -> dict:
    """The variant persona ``name`` for a generated person: the template's record, dates, usual GP and
    registration; a Faker name, address and phone; shipped documents become generated text of the same
    size (nothing to copy)."""
    template = _variant_template(name)
    pseed = persona_seed(seed, number)
    fake.seed_instance(pseed)
    female = template["gender"] == "female"
    persona = {"description": f"Generated variant '{name}' (seed {seed}): {template.get('description', '')}",
               "nhs_number": number,
               "name": {"family": fake.last_name(),
                        "given": [fake.first_name_female() if female else fake.first_name_male()],
                        "prefix": template["name"].get("prefix", [])},
               "gender": template["gender"], "birth_date": template["birth_date"]}
    persona["address"] = {"line": fake.street_address().split("\n"), "city": fake.city(), "postcode": _postcode(fake),
                          "use": "home"}
    persona["telecom"] = [{"system": "phone", "value": fake.phone_number(), "use": "home"}]
    for field in ("usual_gp", "registration", "record"):
        if field in template:
            persona[field] = template[field]
    documents = []
    for doc in template.get("documents", []):
        doc = dict(doc)
        if "file" in doc:
            size = doc.pop("size", None) or 1000
            doc.pop("file")
            doc["contentType"] = GENERATED_CONTENT_TYPE
            doc["generate"] = {"size": size, "seed": f"{seed}/{number}/{doc['key']}"}
            doc["sha256"] = generated_sha256(size, doc["generate"]["seed"])
        documents.append(doc)
    if documents:
        persona["documents"] = documents
    return persona


def generate(count: int, seed, tags=(), style: str = "plain", volume: str | None = None,
             variants=()) -> list[tuple[str, bytes]]:
    """(file name, bytes) for ``count`` personas, then one per variant (``variants``: names of
    :data:`VARIANTS`): the same arguments always give the same bytes."""
    from faker import Faker   # imported here: serving never needs Faker

    if count < 0:
        raise GenerateError("count must be >= 0")
    wanted = check_tags(tags)
    volume = check_style(style, volume, wanted)
    fake = Faker("en_GB")
    files = []
    for number in test_nhs_numbers(count, seed):
        data = make_persona(fake, seed, number, wanted, style, volume)
        missing = wanted - set(derive_tags(data))
        if missing:       # the generator never hands out a persona whose data does not carry a tag
            raise GenerateError(f"generated {number} does not carry {', '.join(sorted(missing))}")
        files.append((f"{number}.json", (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode()))
    if variants:
        regular = {name[:-5] for name, _ in files}
        spare = [n for n in test_nhs_numbers(count + len(variants), f"{seed}/variants") if n not in regular]
        for name, number in zip(variants, spare):
            data = variant_persona(fake, seed, number, name)
            files.append((f"{number}.json", (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode()))
    return files


# --- a large record, made from a seed (the generated_record persona field) --------------------------------

def large_record(seed, visits: int, born: str | None = None, gender: str = "unknown") -> dict:
    """A record of ``visits`` consultations, each recording a blood pressure and an acute medication,
    with problems, allergies, immunisations, investigations, referrals and diary entries spread among
    them: every clinical area is filled. Deterministic: the same (seed, visits) gives the same record.
    No Faker, so it is quick (a few hundred ms for the ~3 MB Bundle of the built-in large persona).
    With the person's ``born`` (YYYY-MM-DD) and ``gender``, problems and medications fit them
    (:func:`clinical_codes.problems_for`, :func:`medications_for`).
    """
    rnd = random.Random(f"large-record/{seed}")
    if born:
        age = age_at(datetime.date.fromisoformat(born))
        fits = [problem for problem, _ in codes.problems_for(age, gender)] or list(codes.PROBLEMS)
        drugs = medications_for({code.split("|")[0] for code, _ in fits}, age) or list(codes.MEDICATIONS)
    else:
        fits, drugs = list(codes.PROBLEMS), list(codes.MEDICATIONS)
    first = datetime.date(2000, 1, 3)
    step = max(1, (REFERENCE_DATE - first).days // max(visits, 1))
    areas: dict[str, list] = {area: [] for area in CLINICAL_AREAS}
    problem_keys: list[str] = []
    for v in range(visits):
        day = (first + datetime.timedelta(days=v * step)).isoformat()
        items = []
        if v % 10 == 0:
            code, _sensitive = fits[(v // 10) % len(fits)]
            key = f"problem-{v}"
            areas["problems"].append({"key": key, "date": day, "code": code,
                                      "status": "active" if v % 20 == 0 else "inactive",
                                      "significance": "major" if v % 30 == 0 else "minor"})
            problem_keys.append(key)
            items.append(key)
        if v % 50 == 0:
            code, category, reaction = codes.ALLERGIES[(v // 50) % len(codes.ALLERGIES)]
            areas["allergies"].append({"key": f"allergy-{v}", "date": day, "code": code, "category": category,
                                       "reaction": reaction, "severity": rnd.choice(("mild", "moderate"))})
            items.append(f"allergy-{v}")
        drug, dosage, quantity, _treats, _sensitive = drugs[v % len(drugs)]
        med = {"key": f"medication-{v}", "date": day, "drug": drug, "dosage": dosage, "type": "acute",
               "status": "completed", "quantity": quantity, "issues": [day]}
        if problem_keys:
            med["problem"] = problem_keys[-1]
        areas["medications"].append(med)
        areas["observations"].append({"key": f"bp-{v}", "date": day, "code": codes.BLOOD_PRESSURE,
                                      "bp": [rnd.randint(105, 165), rnd.randint(60, 98)]})
        items += [f"medication-{v}", f"bp-{v}"]
        if v % 20 == 0:
            code, _vaccine = codes.IMMUNISATIONS[(v // 20) % len(codes.IMMUNISATIONS)]
            areas["immunisations"].append({"key": f"immunisation-{v}", "date": day, "code": code,
                                           "site": codes.IMMUNISATION_SITE, "route": codes.IMMUNISATION_ROUTE})
            items.append(f"immunisation-{v}")
        if v % 25 == 0:
            results = []
            for n, (code, unit, low, high) in enumerate(codes.FBC_RESULTS):
                value = round(rnd.uniform(low, high), 2) if isinstance(low, float) else rnd.randint(low, high)
                results.append({"key": f"result-{v}-{n}", "code": code, "value": value, "unit": unit,
                                "range": [low, high]})
            areas["investigations"].append({"key": f"investigation-{v}", "date": day, "code": codes.FBC,
                                            "specimen": {"type": codes.VENOUS_BLOOD, "date": day},
                                            "results": results})
            items.append(f"investigation-{v}")
        if v % 40 == 0:
            code, service = codes.REFERRALS[(v // 40) % len(codes.REFERRALS)]
            areas["referrals"].append({"key": f"referral-{v}", "date": day, "code": code, "service": service})
            items.append(f"referral-{v}")
        if v % 60 == 0:
            due = (datetime.date.fromisoformat(day) + datetime.timedelta(days=365)).isoformat()
            areas["diary"].append({"key": f"diary-{v}", "date": day, "code": codes.DIARY[(v // 60) % 2], "due": due})
            items.append(f"diary-{v}")
        ctype, title = codes.CONSULTATION_TYPES[v % len(codes.CONSULTATION_TYPES)]
        areas["consultations"].append({"key": f"consultation-{v}", "date": day, "type": ctype, "title": title,
                                       "topics": [{"title": "Review", "items": items,
                                                   "notes": [codes.NOTES[v % len(codes.NOTES)]]}]})
    record = {"date": f"{REFERENCE_DATE.isoformat()}T09:00:00+00:00"}
    record.update((area, items) for area, items in areas.items() if items)
    return record


# --- atomic write -------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False when unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding ``path`` in one call (Linux syncfs); False when unavailable.
    One syncfs is far cheaper than an fsync per file when writing thousands of small files."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


def _fsync(path: Path):
    """fsync one file or folder (a folder's entry list is made durable the same way)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(out: Path) -> None:
    """Tidy up after runs that were killed (SIGKILL, power loss) before they could clean up.

    A dead run's hidden temporary folder (``.<name>.tmp-<pid>``) is removed. Without an atomic
    exchange the old folder is moved aside (``.<name>.old-<pid>``) just before the new one moves in:
    if a run died between those two renames, ``out`` is missing and the old folder is put back.
    """
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        return
    for kind in ("old", "tmp"):
        prefix = f".{out.name}.{kind}-"
        for entry in sorted(parent.iterdir()):
            pid = entry.name[len(prefix):]
            if not (entry.name.startswith(prefix) and pid.isdigit() and entry.is_dir()):
                continue
            if int(pid) == os.getpid() or _pid_alive(int(pid)):
                continue                      # another run is still writing: leave it alone
            if kind == "old" and not out.exists():
                os.rename(entry, out)
            else:
                shutil.rmtree(entry, ignore_errors=True)


def check_target(out: Path, force: bool):
    """Refuse to overwrite without force, and never replace a folder holding non-persona files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise GenerateError(f"{out} exists and is not a folder")
    entries = sorted(os.listdir(out))
    if not entries:
        return
    if not force:
        raise GenerateError(f"{out} is not empty ({len(entries)} entries); use --force to replace its personas")
    strangers = [e for e in entries if not (e.endswith(".json") and (out / e).is_file())]
    if strangers:
        raise GenerateError(f"refusing to replace {out}: it holds {strangers[0]!r}, which is not a persona "
                            f"file (only folders of *.json persona files are replaced)")


def write_atomically(out, files, force: bool = False, _fail_after: int | None = None) -> Path:
    """Write ``files`` [(name, bytes)] as the whole content of folder ``out``.

    Every file is written into ``.<name>.tmp-<pid>`` beside ``out`` and flushed to disk (one syncfs
    of that filesystem, or an fsync per file where syncfs is missing); then the folder
    takes ``out``'s place in one rename (an exchange with the old folder when there is one, which is
    then removed). Until that rename the old folder is untouched; if anything fails, or the run is
    interrupted (Ctrl-C), the temporary folder is removed. A SIGKILL can leave the hidden temporary
    folder behind, never a half-written ``out``; the next run removes it (:func:`recover`).
    ``_fail_after`` (tests) raises after that many files.
    """
    out = Path(out)
    recover(out)
    check_target(out, force)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for n, (name, body) in enumerate(files):
            if _fail_after is not None and n == _fail_after:
                raise OSError("injected failure while writing (test)")
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        # Every file on disk before the folder moves into place: one syncfs, or an fsync per file.
        if not _syncfs(tmp):
            for name in os.listdir(tmp):
                _fsync(tmp / name)
        _fsync(tmp)
        if out.exists() and _exchange(tmp, out):
            shutil.rmtree(tmp)            # tmp now holds the old personas
        elif out.exists():
            # No atomic exchange on this platform: move the old folder aside, then the new one in.
            old = parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
        _fsync(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
