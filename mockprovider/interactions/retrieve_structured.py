"""POST {structured root}/Patient/$gpc.getstructuredrecord: Retrieve a patient's structured record.

Page: nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/
accessrecord_structured_development_retrieve_patient_record.md (parameters, not-permitted
combinations, error table), with accessrecord_structured_development_version_compatibility.md
(forwards compatibility), accessrecord_structured_development_searchMultiAreaSearches.md (the two
predefined multi-area searches) and accessrecord_structured_development_search.md.

The gate has already checked headers and the JWT (``reason_for_request`` directcare, scope
``patient/*.read``: the interaction table in mockprovider/http/routes.py). This module:

1. refuses when GP Connect or the Access Record Structured capability is switched off at the
   practice (403 ACCESS DENIED: the flags ``gpconnect_enabled``, ``structured_enabled``);
2. reads the ``Parameters`` body (:func:`parse`) into a :class:`~mockprovider.fhir.retrieve.Query`,
   in this order, every refusal a row of the page's error table:

   - not parseable, not a Parameters resource, a malformed parameter, a parameter or part given
     twice (the OperationDefinition's 0..1 / 1..1), both consultation filters: 422 INVALID_RESOURCE;
   - nothing recognised: 422 INVALID_PARAMETER (an unknown parameter or part beside a recognised
     one is not an error: it is named in the answer's warning OperationOutcome);
   - ``patientNHSNumber`` missing 422 INVALID_PARAMETER; its system 400 INVALID_IDENTIFIER_SYSTEM;
     its value 400 INVALID_NHS_NUMBER;
   - a bad value: a missing mandatory ``includeResolvedAllergies``, a part without a value or of the
     wrong type, a value on a parameter that takes parts only, ``filterStatus`` other than active /
     inactive, ``includeNumberOfMostRecent`` below 1, a date that is not a whole date (no partial
     date, no time, no offset), a period with neither start nor end or its start after its end, a
     period or the medication date after today, the diary date before today: 422 INVALID_PARAMETER;
   - a not-permitted combination (a medication date, or the other areas' filters, beside
     consultations or problems; filterStatus beside consultations), except the two predefined
     multi-area searches: 422 INVALID_PARAMETER;

3. applies the patient rules: unknown, sensitive (PDS), deceased, NHS number not verified,
   inactive registration, or registered at another practice (non-Regular/GMS): 404
   PATIENT_NOT_FOUND; dissented from sharing: 403 NO_PATIENT_CONSENT;
4. answers from a cache: the record index of the persona (:mod:`mockprovider.fhir.record_index`,
   built once from the migrate Bundles) and each normalised query's Bundle
   (:func:`mockprovider.fhir.retrieve.retrieve_bundle`), keyed as Migrate keys its Bundles (the
   documents root and the flags that change bytes) plus Retrieve a document's size limit; the
   request's Ssp-TraceID is spliced in as ``Bundle.id``.

"Today" (the dates that may not be after today, the diary date that may not be before it) is the
date in England (Europe/London: GMT, or BST from 01:00 UTC on the last Sunday of March to 01:00 UTC
on the last Sunday of October), read from the wall clock for validation only: it never reaches a body.
"""
from __future__ import annotations

import re
import threading
import time as _time
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

from ..errors import SpineError
from ..fhir import record_index
from ..fhir.render import Spliced, SplicedBody, to_json_bytes
from ..personas.documents import index as documents_index
from ..process import offload
from ..fhir.retrieve import (Allergies, Consultations, Diary, Immunisations, Medications, Period, Problems, Query,
                             retrieve_bundle)
from ..fhir.structured import structured_bundle
from . import Call, Reply
from .metadata import check_structured_enabled
from .migrate_structured import (check_parameter_shape, invalid_parameter, invalid_resource, load_parameters,
                                 nhs_number_of, parameter_list, value_keys)

PATIENT_NHS_NUMBER = "patientNHSNumber"
# Each area parameter and its part parameters with their value types (the page's parameter table).
AREAS = {
    "includeAllergies": {"includeResolvedAllergies": "Boolean"},
    "includeMedication": {"includePrescriptionIssues": "Boolean", "medicationSearchFromDate": "Date"},
    "includeConsultations": {"consultationSearchPeriod": "Period", "includeNumberOfMostRecent": "PositiveInt"},
    "includeProblems": {"filterStatus": "Code"},
    "includeImmunisations": {"includeNotGiven": "Boolean", "includeStatus": "Boolean"},
    "includeUncategorisedData": {"uncategorisedDataSearchPeriod": "Period"},
    "includeInvestigations": {"investigationSearchPeriod": "Period"},
    "includeReferrals": {"referralSearchPeriod": "Period"},
    "includeDiaryEntries": {"diaryEntriesSearchDate": "Date"},
}
MANDATORY_PARTS = {"includeAllergies": ("includeResolvedAllergies",)}
FILTER_STATUSES = ("active", "inactive")
# "Not permitted parameter combinations": the parts that MUST NOT be sent beside consultations or problems.
NOT_WITH = {
    "includeConsultations": (("includeMedication", "medicationSearchFromDate"),
                             ("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
                             ("includeProblems", "filterStatus"),
                             ("includeReferrals", "referralSearchPeriod"),
                             ("includeDiaryEntries", "diaryEntriesSearchDate"),
                             ("includeImmunisations", "includeNotGiven"),
                             ("includeImmunisations", "includeStatus")),
    "includeProblems": (("includeMedication", "medicationSearchFromDate"),
                        ("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
                        ("includeReferrals", "referralSearchPeriod"),
                        ("includeDiaryEntries", "diaryEntriesSearchDate"),
                        ("includeImmunisations", "includeNotGiven"),
                        ("includeImmunisations", "includeStatus")),
}
# The predefined multi-area searches (searchMultiAreaSearches.md): the areas each requests. Both ask
# for the 3 most recent consultations, all problems, allergies, and medications from a year ago.
PREDEFINED_SEARCHES = (
    frozenset(("includeConsultations", "includeProblems", "includeAllergies", "includeMedication")),
    frozenset(("includeConsultations", "includeProblems", "includeAllergies", "includeMedication",
               "includeImmunisations", "includeUncategorisedData")),
)
PREDEFINED_MOST_RECENT = 3
PREDEFINED_DAYS_BACK = 365      # "today()-365 days"; a day either way for leap years and time zones
WHOLE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
CACHE_NAME = "retrieve_structured"
INDEX_CACHE_MAX = 64            # record indexes per process (two migrate Bundles each)
ANSWER_CACHE_MAX = 2048         # answers per process (persona x query)


# --- today --------------------------------------------------------------------------------------------
def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def england_today(now: datetime | None = None) -> date:
    """Today's date in England (GMT, or BST in summer), from a UTC instant (default: now)."""
    now = now or datetime.now(timezone.utc)
    start = datetime.combine(_last_sunday(now.year, 3), time(1), timezone.utc)
    end = datetime.combine(_last_sunday(now.year, 10), time(1), timezone.utc)
    return (now + timedelta(hours=1 if start <= now < end else 0)).date()


_TODAY = [-1, None]       # (minute, date): the date is read at most once a minute


def today() -> date:
    """The validation clock (tests replace it)."""
    minute = int(_time.time() // 60)
    if _TODAY[0] != minute:
        _TODAY[:] = [minute, england_today()]
    return _TODAY[1]


# --- reading the request ------------------------------------------------------------------------------
def _part_value(area: str, part: dict, name: str, kind: str):
    """One known part's value, checked for its type; raises INVALID_PARAMETER."""
    where = f"{area}.{name}"
    if part.get("part"):
        raise invalid_parameter(f"Part {where} takes a value, not parts")
    keys = value_keys(part)
    if not keys:
        raise invalid_parameter(f"Part {where} has no value")
    key = keys[0]
    if key != "value" + kind:
        raise invalid_parameter(f"Part {where} must be a value{kind}, not {key}")
    value = part[key]
    if value is None:
        raise invalid_parameter(f"Part {where} has no value")
    if kind == "Boolean" and not isinstance(value, bool):
        raise invalid_parameter(f"Part {where} must be true or false, not {value!r}")
    if kind == "PositiveInt" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise invalid_parameter(f"Part {where} must be a whole number of 1 or more, not {value!r}")
    if kind == "Code" and not isinstance(value, str):
        raise invalid_parameter(f"Part {where} must be a code, not {value!r}")
    if kind == "Date":
        return _whole_date(value, where)
    if kind == "Period":
        if not isinstance(value, dict):
            raise invalid_parameter(f"Part {where} must be a Period, not {value!r}")
        unknown = sorted(k for k in value if k not in ("start", "end", "id", "extension"))
        if unknown:
            raise invalid_parameter(f"Part {where} has unknown element(s): {', '.join(unknown)}")
        start, end = value.get("start"), value.get("end")
        if start is None and end is None:
            raise invalid_parameter(f"Part {where} has neither a start nor an end")
        start = _whole_date(start, f"{where}.start") if start is not None else None
        end = _whole_date(end, f"{where}.end") if end is not None else None
        return start, end
    return value


def _whole_date(value, where: str) -> date:
    if not isinstance(value, str) or not WHOLE_DATE.match(value):
        raise invalid_parameter(f"{where} must be a whole date (YYYY-MM-DD): no partial date, time or offset, "
                                f"not {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_parameter(f"{where} {value!r} is not a calendar date") from None


def _not_after_today(day: date, where: str, now: date):
    if day > now:
        raise invalid_parameter(f"{where} {day.isoformat()} is after today ({now.isoformat()})")


def parse(body: bytes, body_format: str = "json", now: date | None = None) -> tuple[str, Query]:
    """The request body -> (NHS number, Query); raises SpineError (see the module docstring)."""
    params = parameter_list(load_parameters(body, body_format))
    names = [check_parameter_shape(p, f"parameter[{i}]") for i, p in enumerate(params)]
    known = (PATIENT_NHS_NUMBER, *AREAS)
    # Cardinality (the OperationDefinition): every parameter and known part at most once.
    for name in known:
        if names.count(name) > 1:
            raise invalid_resource(f"Parameter {name} appears {names.count(name)} times (at most once)")
    parts: dict = {}            # area -> {part name: part}
    unrecognised: list = []
    for name, param in zip(names, params):
        if name not in known:
            if name not in unrecognised:
                unrecognised.append(name)
            continue
        if name == PATIENT_NHS_NUMBER:
            found = param.get("part") or []
            allowed: dict = {}
        else:
            if value_keys(param):
                raise invalid_parameter(f"Parameter {name} takes part parameters only, not {value_keys(param)[0]}")
            found = param.get("part") or []
            allowed = AREAS[name]
        seen = parts.setdefault(name, {})
        for i, part in enumerate(found):
            part_name = check_parameter_shape(part, f"{name}.part[{i}]")
            if part_name not in allowed:
                label = f"{name}.{part_name}"
                if label not in unrecognised:
                    unrecognised.append(label)
                continue
            if part_name in seen:
                raise invalid_resource(f"Part {name}.{part_name} appears more than once (at most once)")
            seen[part_name] = part
    consultations = parts.get("includeConsultations", {})
    if "consultationSearchPeriod" in consultations and "includeNumberOfMostRecent" in consultations:
        raise invalid_resource("includeConsultations takes consultationSearchPeriod or includeNumberOfMostRecent, "
                               "not both")
    if not parts:
        raise invalid_parameter("No recognised parameters: expected patientNHSNumber and the clinical areas of "
                                "the retrieve page (includeAllergies, includeMedication, ...)")
    nhs_param = dict(zip(names, params)).get(PATIENT_NHS_NUMBER)
    if nhs_param is None:
        raise invalid_parameter("Parameter patientNHSNumber is missing")
    number = nhs_number_of(nhs_param)

    now = now or today()
    values: dict = {}
    for area, found in parts.items():
        if area == PATIENT_NHS_NUMBER:
            continue
        for part_name in MANDATORY_PARTS.get(area, ()):
            if part_name not in found:
                raise invalid_parameter(f"Part {area}.{part_name} is missing (it is mandatory)")
        values[area] = {part_name: _part_value(area, part, part_name, AREAS[area][part_name])
                        for part_name, part in found.items()}

    med = values.get("includeMedication", {})
    if "medicationSearchFromDate" in med:
        _not_after_today(med["medicationSearchFromDate"], "includeMedication.medicationSearchFromDate", now)
    for area, part_name in (("includeConsultations", "consultationSearchPeriod"),
                            ("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
                            ("includeInvestigations", "investigationSearchPeriod"),
                            ("includeReferrals", "referralSearchPeriod")):
        period = values.get(area, {}).get(part_name)
        if period is None:
            continue
        start, end = period
        where = f"{area}.{part_name}"
        if start:
            _not_after_today(start, where + ".start", now)
        if end:
            _not_after_today(end, where + ".end", now)
        if start and end and start > end:
            raise invalid_parameter(f"{where}.start {start.isoformat()} is after its end {end.isoformat()}")
    diary = values.get("includeDiaryEntries", {}).get("diaryEntriesSearchDate")
    if diary is not None and diary < now:
        raise invalid_parameter(f"includeDiaryEntries.diaryEntriesSearchDate {diary.isoformat()} is before today "
                                f"({now.isoformat()})")
    status = values.get("includeProblems", {}).get("filterStatus")
    if status is not None and status not in FILTER_STATUSES:
        raise invalid_parameter(f"includeProblems.filterStatus must be active or inactive, not {status!r}")
    _check_combinations(values, now)
    return number, _query(values, tuple(unrecognised))


def is_predefined_search(values: dict, now: date) -> bool:
    """One of the two predefined multi-area searches (searchMultiAreaSearches.md): exactly its areas,
    the 3 most recent consultations, every problem, and medications from a year before today."""
    if frozenset(values) not in PREDEFINED_SEARCHES:
        return False
    if values["includeConsultations"] != {"includeNumberOfMostRecent": PREDEFINED_MOST_RECENT}:
        return False
    if values["includeProblems"] or values.get("includeImmunisations") or values.get("includeUncategorisedData"):
        return False
    since = values["includeMedication"].get("medicationSearchFromDate")
    return since is not None and abs((now - since).days - PREDEFINED_DAYS_BACK) <= 1


def _check_combinations(values: dict, now: date):
    predefined = None
    for area, forbidden in NOT_WITH.items():
        if area not in values:
            continue
        for other, part_name in forbidden:
            if part_name not in values.get(other, {}):
                continue
            if predefined is None:
                predefined = is_predefined_search(values, now)
            if predefined and (other, part_name) == ("includeMedication", "medicationSearchFromDate"):
                continue
            raise invalid_parameter(f"{other}.{part_name} may not be sent with {area} (the retrieve page's "
                                    "'Not permitted parameter combinations'; only the predefined multi-area "
                                    "searches send a medication date beside consultations and problems)")


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _query(values: dict, unrecognised: tuple) -> Query:
    def period(area, part_name):
        if area not in values:
            return None
        start, end = values[area].get(part_name) or (None, None)
        return Period(_iso(start), _iso(end))

    allergies = values.get("includeAllergies")
    med = values.get("includeMedication")
    cons = values.get("includeConsultations")
    problems = values.get("includeProblems")
    imms = values.get("includeImmunisations")
    diary = values.get("includeDiaryEntries")
    start, end = (cons or {}).get("consultationSearchPeriod") or (None, None)
    return Query(
        allergies=Allergies(allergies["includeResolvedAllergies"]) if allergies is not None else None,
        medications=Medications(med.get("includePrescriptionIssues", True), _iso(med.get("medicationSearchFromDate")))
        if med is not None else None,
        consultations=Consultations(_iso(start), _iso(end), cons.get("includeNumberOfMostRecent"))
        if cons is not None else None,
        problems=Problems(problems.get("filterStatus")) if problems is not None else None,
        immunisations=Immunisations(imms.get("includeNotGiven", False), imms.get("includeStatus", True))
        if imms is not None else None,
        uncategorised=period("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
        investigations=period("includeInvestigations", "investigationSearchPeriod"),
        referrals=period("includeReferrals", "referralSearchPeriod"),
        diary=Diary(_iso(diary.get("diaryEntriesSearchDate"))) if diary is not None else None,
        unrecognised=unrecognised,
    )


# --- the patient --------------------------------------------------------------------------------------
def check_business_rules(call: Call, persona) -> None:
    """The page's patient rows, in order; never says why a sensitive patient is not found."""
    if persona is None:
        raise SpineError("PATIENT_NOT_FOUND", "No patient with that NHS number is registered at this practice")
    data = persona.head          # never the record: a large persona keeps only its bytes
    if persona.pds.get("sensitive"):
        raise SpineError("PATIENT_NOT_FOUND", "Patient not found")
    if data.get("deceased"):
        raise SpineError("PATIENT_NOT_FOUND", "Patient is deceased")
    status = data.get("nhs_number_status", "01")
    if status != "01":
        raise SpineError("PATIENT_NOT_FOUND", f"NHS number status is {status}, not 01 (Number present and verified)")
    if data.get("active") is False:
        raise SpineError("PATIENT_NOT_FOUND", "Patient's registration at this practice is not active")
    registered = persona.registered_practice_ods
    if registered and registered != call.ods:
        raise SpineError("PATIENT_NOT_FOUND", "Patient is not a Regular/GMS patient of this practice (registered "
                                              "elsewhere on PDS)")
    if persona.pds.get("dissent"):
        raise SpineError("NO_PATIENT_CONSENT", "Patient has dissented from sharing their record")


# --- answers, built once ------------------------------------------------------------------------------
_lock = threading.Lock()


class _Lru:
    def __init__(self, size: int):
        self.size, self.data = size, OrderedDict()

    def get(self, key):
        hit = self.data.get(key)
        if hit is not None:
            try:
                self.data.move_to_end(key)
            except KeyError:        # evicted by another thread meanwhile: still a good answer
                pass
        return hit

    def put(self, key, value):
        with _lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


def _caches(runtime):
    caches = runtime.caches.get(CACHE_NAME)
    if caches is None:
        with _lock:
            caches = runtime.caches.setdefault(CACHE_NAME, (_Lru(INDEX_CACHE_MAX), _Lru(ANSWER_CACHE_MAX)))
    return caches


def _index_args(call, persona) -> tuple:
    """What the record index of ``persona`` depends on, as :func:`_build_index`'s arguments. The
    practice the record comes from is the persona's home practice, as for migrate (the request
    reached it there, mockprovider.interactions.Call.at_practice), so every resource is migrate's."""
    runtime = call.runtime
    return (persona, persona.practice or runtime.settings.ods_code, call.documents_base,
            call.flags.get("nhs_number_status_system", "example"),
            call.flags.get("patient_general_practitioner", "seed"),
            documents_index(runtime.personas).of(persona))


def _build_index(persona, ods, documents_base, status_system, gp_mode, documents) -> record_index.RecordIndex:
    bundles = [structured_bundle(persona, ods, sensitive, documents_base, status_system,
                                 documents=documents, migrate_limit_bytes=0, general_practitioner=gp_mode)
               for sensitive in (True, False)]
    return record_index.build(*bundles)


def _answer_bytes(query: Query, nhs: str, limit: int, *index_args) -> bytes:
    """One answer from scratch (index included): what a large persona's forked child makes."""
    return to_json_bytes(retrieve_bundle(_build_index(*index_args), query, nhs, limit))


def record_of(call, persona) -> record_index.RecordIndex:
    """The persona's record index (from its migrate Bundles, with and without sensitive information),
    built once per documents root and the flags that change the migrate bytes."""
    args = _index_args(call, persona)
    key = (id(persona), persona.nhs_number) + args[2:5]
    indexes, _ = _caches(call.runtime)
    hit = indexes.get(key)
    if hit is not None and hit[0] is persona:
        return hit[1]
    found = _build_index(*args)
    indexes.put(key, (persona, found))
    return found


def cached_body(call, persona, query: Query) -> Spliced:
    """The answer for this persona and normalised query, built at most once per process. Of ``call``
    only ``runtime``, ``flags`` and ``documents_base`` are read (the console's "try a query" passes
    just those)."""
    limit = call.flags.get("retrieve_document_limit_bytes", 0)
    key = (id(persona), persona.nhs_number, call.documents_base, call.flags.get("nhs_number_status_system", "example"),
           call.flags.get("patient_general_practitioner", "seed"), limit, query)
    _, answers = _caches(call.runtime)
    hit = answers.get(key)
    if hit is not None and hit[0] is persona:
        return hit[1]
    if persona.size >= offload.OFFLOAD_FROM_BYTES:
        # A large persona (one that keeps only its bytes): its answer is made in a forked child, as
        # migrate's Bundle is (mockprovider.process.offload), and only the answer's bytes are kept;
        # the index of its whole record would cost the worker many times the persona (issue #28).
        body = offload.in_child(persona.size, _answer_bytes, query, persona.nhs_number, limit,
                                *_index_args(call, persona))
    else:
        body = to_json_bytes(retrieve_bundle(record_of(call, persona), query, persona.nhs_number, limit))
    spliced = Spliced(body)
    answers.put(key, (persona, spliced))
    return spliced


# A consumer sends the same few bodies again and again: a small body's reading is remembered per
# day (the dates it is checked against change at midnight; errors are not remembered: they raise).
PARSED_BODY_MAX = 4096


@lru_cache(maxsize=1024)
def _parse_small(body: bytes, body_format: str, day: date) -> tuple[str, Query]:
    return parse(body, body_format, day)


def answer(call: Call) -> tuple[str, Query, Spliced]:
    """(NHS number, query, body) for a request, or the SpineError it earns."""
    check_structured_enabled(call.flags)
    body = call.body
    day = today()
    if isinstance(body, bytes) and len(body) <= PARSED_BODY_MAX:
        number, query = _parse_small(body, call.body_format, day)
    else:
        number, query = parse(body, call.body_format, day)
    persona = call.runtime.personas.get(number)
    if persona is not None and not call.at_practice(persona):
        persona = None              # a patient of another registered practice: not registered here
    check_business_rules(call, persona)
    return number, query, cached_body(call, persona, query)


def handle(call: Call) -> Reply:
    number, query, spliced = answer(call)
    body = SplicedBody(spliced.as_format(call.format), call.trace_id)
    return Reply(body, facts={"nhs_number": number})
