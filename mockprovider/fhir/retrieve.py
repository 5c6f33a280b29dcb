"""Retrieve a patient's structured record: a consumer's query as a filter over the built record.

``retrieve_bundle(index, query)`` takes the :class:`~mockprovider.fhir.record_index.RecordIndex` of
the record Migrate serves and a :class:`Query` (the request's parameters, validated and normalised
by :mod:`mockprovider.interactions.retrieve_structured`) and returns the answer Bundle
(``GPConnect-StructuredRecord-Bundle-1``, type ``collection``, ``Bundle.id`` the trace placeholder).
Every clinical and administrative resource in it is the migrate resource, byte for byte; only the
Lists are shaped here, by :class:`mockprovider.record.lists.ListMaker` (the migrate List code). It
is a filter, never a second builder.

Rules, each from its page (nhsconnect/gpconnect feature/1.6.2, pages/accessrecord_structured/):

accessrecord_structured_development_retrieve_patient_record.md ("Payload response body")
  - Patient, the registered practice Organization and the usual GP (Practitioner, PractitionerRole)
    always; the Organization, Practitioner, PractitionerRole, Location and HealthcareService the
    returned resources reference;
  - per requested area one primary List and the resources its items are made of; each area's
    filter applies to that area only ("MUST have no impact on other parameters");
  - allergies: the active ones always, the ended ones (contained in "Ended allergies") only with
    ``includeResolvedAllergies``;
  - medications: authorisations (MedicationStatement, plan, Medication); prescription issues
    (MedicationRequest ``order``) unless ``includePrescriptionIssues`` is false;
    ``medicationSearchFromDate``: active on or after that date, a medication being active from
    effective.start to effective.end inclusive, with no end an acute only on its start day and
    anything else (a repeat, or neither) ongoing; medications prescribed elsewhere always;
  - consultations: Encounter.period.start on or after ``consultationSearchPeriod.start``,
    period.end (or start) on or before its end; ``includeNumberOfMostRecent``: the latest N by
    period.start; each with its structure Lists, everything recorded in it (its medications with the
    issues it names, not all their issues), and the problems linked to it or to what it holds;
  - problems: ``filterStatus`` against clinicalStatus (``active`` also matches recurrence,
    ``inactive`` also remission and resolved, the condition-clinical hierarchy); each with its
    directly linked problems and every item linked to it (a consultation as its Encounter only:
    no structure Lists), and the problems linked to those items;
  - immunisations: given ones always, ``includeNotGiven`` adds those not given, ``includeStatus``
    (default true) the consent / dissent records; uncategorised data by Observation.effective[x],
    investigations by DiagnosticReport.issued, referrals by ReferralRequest.authoredOn (with the
    documents they reference), diary entries whose occurrence is on or before
    ``diaryEntriesSearchDate``;
  - "Unknown and partial date handling in searches": an item with no date is always returned; a
    year-only or year-month date is the interval of that year or month, and matches when that
    interval can satisfy the bound (its end on or after a start bound, its start on or before an
    end bound). A date-time is compared by the calendar date written in it.
accessrecord_structured_development_lists_for_message_structure.md
  - secondary Lists only for a consultations or problems query, and only with content or a
    warning; "Problems - linked problems not relating to the primary query": every problem in the
    Bundle that the primary Problems List does not hold (any query);
  - a resolved allergy returned by a problems or consultations query comes with the Ended
    allergies List it is contained in;
  - the confidential-items warning and note on every List a withheld item would have been in
    (primary and secondary); a List of only withheld items is empty with emptyReason and the
    warning; data-in-transit on every List, data-awaiting-filing on its areas' primary Lists, as
    Migrate sends them.
accessrecord_structured_problems.md / _problems_guidance.md ("Using Problem search parameters")
  - a related problem that does not match the status is returned (in the related problems List)
    but nothing it links is; a confidential item is never referenced (the migrate resources already
    leave such references out).
accessrecord_structured_development_consultation_guidance.md ("Consultations containing confidential
items") - a withheld item inside a returned consultation warns on the secondary List of its area,
never on the structure Lists.
accessrecord_structured_development_version_compatibility.md
  - one OperationOutcome (severity warning, not-supported, NOT_IMPLEMENTED) with one issue per
    unrecognised parameter or part parameter, last in the Bundle.

Documents referenced in the answer follow Retrieve a document's size limit: one over it is sent as a
placeholder (no url, the reason in attachment.title), as the documents search sends it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .. import spec
from ..personas import ids
from ..record import lists
from ..record.documents import OVER_RETRIEVE_LIMIT
from .record_index import ADMIN_TYPES, RecordIndex, _walk
from .render import TRACE_PLACEHOLDER


# --- the query ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Allergies:
    resolved: bool


@dataclass(frozen=True)
class Medications:
    issues: bool = True
    from_date: str | None = None


@dataclass(frozen=True)
class Consultations:
    start: str | None = None
    end: str | None = None
    most_recent: int | None = None


@dataclass(frozen=True)
class Problems:
    status: str | None = None


@dataclass(frozen=True)
class Immunisations:
    not_given: bool = False
    status: bool = True


@dataclass(frozen=True)
class Period:
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class Diary:
    until: str | None = None


@dataclass(frozen=True)
class Query:
    """A request's clinical areas and filters, defaults applied: equal queries give equal bodies."""
    allergies: Allergies | None = None
    medications: Medications | None = None
    consultations: Consultations | None = None
    problems: Problems | None = None
    immunisations: Immunisations | None = None
    uncategorised: Period | None = None
    investigations: Period | None = None
    referrals: Period | None = None
    diary: Diary | None = None
    unrecognised: tuple = ()        # names for the forward-compatibility warning, in request order

    def __hash__(self):             # a cache key on every request: hashed once
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.allergies, self.medications, self.consultations, self.problems, self.immunisations,
                          self.uncategorised, self.investigations, self.referrals, self.diary, self.unrecognised))
            object.__setattr__(self, "_hash", found)
        return found


# --- dates -------------------------------------------------------------------------------------------
def interval(value) -> tuple | None:
    """A FHIR date / dateTime / instant as (first day, last day); None when absent or unreadable.
    A year is its whole year, a year-month its month; a date-time its calendar date as written."""
    if not isinstance(value, str) or len(value) < 4 or not value[:4].isdigit():
        return None
    try:
        year = int(value[:4])
        if len(value) == 4:
            return date(year, 1, 1), date(year, 12, 31)
        month = int(value[5:7])
        if len(value) == 7:
            last = (date(year + month // 12, month % 12 + 1, 1) - date.resolution)
            return date(year, month, 1), last
        day = date(year, month, int(value[8:10]))
        return day, day
    except (ValueError, IndexError):
        return None


def _on_or_after(value, bound: date) -> bool:
    found = interval(value)
    return found is None or found[1] >= bound


def _on_or_before(value, bound: date) -> bool:
    found = interval(value)
    return found is None or found[0] <= bound


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def medication_matches(dates: dict, from_date: date) -> bool:
    """Active on or after ``from_date`` (see the module docstring); unknown start: returned."""
    if dates.get("elsewhere"):
        return True
    start, end = dates.get("start"), dates.get("end")
    if interval(start) is None:
        return True
    if end:
        return _on_or_after(end, from_date)
    if dates.get("type") == "acute":
        return _on_or_after(start, from_date)       # active on its start day only
    return True                                      # ongoing (a repeat, or neither acute nor repeat)


def in_period(dates: dict, start: date | None, end: date | None) -> bool:
    """An item dated ``start``..``end`` (either may be absent) against a search period."""
    first, last = dates.get("start"), dates.get("end") or dates.get("start")
    if interval(first) is None and interval(last) is None:
        return True
    if start and not _on_or_after(last or first, start):
        return False
    if end and not _on_or_before(first or last, end):
        return False
    return True


def consultation_in_period(dates: dict, start: date | None, end: date | None) -> bool:
    """Encounter.period.start on or after the start, period.end (else its start) on or before the end."""
    if start and not _on_or_after(dates.get("start"), start):
        return False
    if end and not _on_or_before(dates.get("end") or dates.get("start"), end):
        return False
    return True


STATUS_FAMILY = {"active": {"active", "recurrence"}, "inactive": {"inactive", "remission", "resolved"}}


# --- selecting -----------------------------------------------------------------------------------------
class _Answer:
    """What one query returns: resources (refs), and the would-be members of each List."""

    def __init__(self, index: RecordIndex):
        self.index = index
        self.refs: set = set()
        self.lists: dict = {}            # list key -> [item refs it would hold, confidential ones too]
        self.shown: dict = {}            # list key -> [item refs returned through it]
        self.related_problems: list = []   # problems the Bundle holds besides the primary ones
        self.withheld_related: list = []   # confidential problems that would have been in that List
        self.ended_pulled: list = []       # ended allergies returned through a problem or consultation
        self.primary: dict = {}            # primary List -> [item refs it would hold]

    def would(self, key: str, item_ref: str):
        found = self.lists.setdefault(key, [])
        if item_ref not in found:
            found.append(item_ref)

    def show(self, key: str, item_ref: str):
        found = self.shown.setdefault(key, [])
        if item_ref not in found:
            found.append(item_ref)

    def add_item(self, item_ref: str, directs=None, issues=True) -> bool:
        """The item's resources (prescription issues: all, or only those named in ``directs``).
        False (nothing added) for a confidential item."""
        item = self.index.items[item_ref]
        if item.confidential:
            return False
        for ref in item.members:
            if ref in item.orders and not issues and ref not in (directs or ()):
                continue
            if ref.startswith("List/") or item.area == "consultations" and ref not in self.index.served:
                continue
            if ref in self.index.served:
                self.refs.add(ref)
        for doc in self.index.linked_documents.get(item_ref, ()):
            if not self.index.items[doc].confidential:
                self.refs.add(doc)
        return True

    def add_problem(self, problem_ref: str):
        """A problem as a Condition only (linked to something returned)."""
        if self.index.items[problem_ref].confidential:
            if problem_ref not in self.withheld_related:
                self.withheld_related.append(problem_ref)
            return
        self.refs.add(problem_ref)
        if problem_ref not in self.related_problems:
            self.related_problems.append(problem_ref)


def _select(index: RecordIndex, q: Query) -> _Answer:
    a = _Answer(index)
    area = index.by_area
    primary: dict = {}          # primary list key -> [item refs] (would-be, record order)

    def returned(name):
        return [ref for ref in primary.get(name, []) if not index.items[ref].confidential]

    if q.allergies:
        primary["allergies"] = [i.ref for i in area.get("allergies", [])]
        if q.allergies.resolved:
            primary["ended_allergies"] = [i.ref for i in area.get("ended_allergies", [])]
    if q.medications:
        since = _day(q.medications.from_date)
        primary["medications"] = [i.ref for i in area.get("medications", [])
                                  if since is None or medication_matches(i.dates, since)]
    if q.consultations:
        c = q.consultations
        found = area.get("consultations", [])
        if c.most_recent:
            def newest(item):
                span = interval(item.dates.get("start"))
                return (span is not None, span[0] if span else date.min, -item.order)
            ranked = sorted(found, key=newest, reverse=True)
            visible = [i for i in ranked if not i.confidential][:c.most_recent]
            cut = ranked.index(visible[-1]) if len(visible) == c.most_recent else len(ranked) - 1
            chosen = {i.ref for i in visible} | {i.ref for i in ranked[:cut + 1] if i.confidential}
            primary["consultations"] = [i.ref for i in found if i.ref in chosen]
        else:
            start, end = _day(c.start), _day(c.end)
            primary["consultations"] = [i.ref for i in found if consultation_in_period(i.dates, start, end)]
    if q.problems:
        wanted = STATUS_FAMILY.get(q.problems.status) if q.problems.status else None
        primary["problems"] = [i.ref for i in area.get("problems", [])
                               if wanted is None or i.dates.get("status") in wanted]
    if q.immunisations:
        im = q.immunisations
        primary["immunisations"] = [i.ref for i in area.get("immunisations", [])
                                    if (im.not_given or not i.dates.get("not_given"))
                                    and (im.status or not i.dates.get("status_record"))]
    for name, period, key in (("observations", q.uncategorised, "observations"),
                              ("investigations", q.investigations, "investigations"),
                              ("referrals", q.referrals, "referrals")):
        if period:
            start, end = _day(period.start), _day(period.end)
            primary[key] = [i.ref for i in area.get(name, []) if in_period(i.dates, start, end)]
    if q.diary:
        until = _day(q.diary.until)
        primary["diary"] = [i.ref for i in area.get("diary", [])
                            if until is None or _on_or_before(i.dates.get("start"), until)]

    # The primary areas' own resources, and the problems linked to what they return.
    issues = q.medications.issues if q.medications else True
    for name, refs in primary.items():
        for ref in refs:
            a.would(name, ref)
    for name in ("allergies", "ended_allergies", "medications", "immunisations", "observations",
                 "investigations", "referrals", "diary"):
        for ref in returned(name):
            a.add_item(ref, issues=issues if name == "medications" else True)
            for problem in index.item_problems.get(ref, ()):
                a.add_problem(problem)

    # Consultations: structure, contents, linked problems; the "contained in consultations" Lists.
    for enc in primary.get("consultations", []):
        for item_ref in index.contains.get(enc, {}):
            a.would(f"consultations:{index.items[item_ref].area}", item_ref)
    for enc in returned("consultations"):
        a.add_item(enc)
        a.refs.update(index.structure_lists.get(enc, ()))
        for problem in index.item_problems.get(enc, ()):
            a.add_problem(problem)
        for item_ref, directs in index.contains.get(enc, {}).items():
            item = index.items[item_ref]
            if item.area == "problems":
                a.add_problem(item_ref)
                if not item.confidential:
                    a.show(f"consultations:{item.area}", item_ref)
                continue
            if a.add_item(item_ref, directs, issues=False):
                a.show(f"consultations:{item.area}", item_ref)
                if item.area == "ended_allergies":
                    a.ended_pulled.append(item_ref)
                for problem in index.item_problems.get(item_ref, ()):
                    a.add_problem(problem)
    # Problems: linked problems, linked items; the "related to problems" Lists.
    for problem in primary.get("problems", []):
        for item_ref in index.problem_links.get(problem, {}):
            a.would(f"problems:{index.items[item_ref].area}", item_ref)
    for problem in returned("problems"):
        a.refs.add(problem)
        for other in index.problem_problems.get(problem, ()):
            if other not in primary["problems"] or index.items[other].confidential:
                a.add_problem(other)
        for item_ref, directs in index.problem_links.get(problem, {}).items():
            item = index.items[item_ref]
            if item.area == "consultations":
                if not item.confidential:
                    a.refs.add(item_ref)        # the Encounter only (no structure Lists)
                    a.show(f"problems:{item.area}", item_ref)
                continue
            if a.add_item(item_ref, directs, issues=False):
                a.show(f"problems:{item.area}", item_ref)
                if item.area == "ended_allergies":
                    a.ended_pulled.append(item_ref)
                for other in index.item_problems.get(item_ref, ()):
                    if other != problem:
                        a.add_problem(other)
    if q.problems:
        primary_set = set(primary["problems"])
        a.related_problems = [p for p in a.related_problems if p not in primary_set]
        a.withheld_related = [p for p in a.withheld_related if p not in primary_set]
    a.primary = primary
    return a


# --- the Bundle ----------------------------------------------------------------------------------------
def _ended_ref(index: RecordIndex, item_ref: str) -> str:
    return f"List/{index.ended_list_id}#{item_ref.split('/', 1)[1]}"


def _placeholder(resource: dict, limit: int) -> dict:
    """A DocumentReference whose file is over Retrieve a document's limit: no url, the reason as title."""
    contents = resource.get("content") or []
    if not limit or not any(isinstance((c or {}).get("attachment"), dict) and c["attachment"].get("url")
                            and isinstance(c["attachment"].get("size"), int) and c["attachment"]["size"] > limit
                            for c in contents):
        return resource
    out = dict(resource)
    out["content"] = []
    for c in contents:
        att = (c or {}).get("attachment")
        if isinstance(att, dict) and att.get("url") and isinstance(att.get("size"), int) and att["size"] > limit:
            att = {k: v for k, v in att.items() if k not in ("url", "title")}
            att["title"] = OVER_RETRIEVE_LIMIT.format(limit=limit)
            c = {**c, "attachment": att}
        out["content"].append(c)
    return out


def _admin(index: RecordIndex, refs: set) -> set:
    """Patient, the practice, the usual GP, and every administrative resource the answer references
    (directly or through another administrative resource), with each Practitioner's role."""
    found: set = set()
    todo = [r for r in index.admin_refs if r.startswith("Patient/")]
    for ref in refs:
        for _, target, _ in _walk(index.served[ref]):
            if target.split("/", 1)[0] in ADMIN_TYPES:
                todo.append(target)
    while todo:
        ref = todo.pop()
        if ref in found or ref not in index.served:
            continue
        found.add(ref)
        for _, target, _ in _walk(index.served[ref]):
            if target.split("/", 1)[0] in ADMIN_TYPES:
                todo.append(target)
        if ref.startswith("Practitioner/"):
            todo.extend(index.roles_of.get(ref, ()))
    return found


def forward_compatibility_outcome(nhs_number: str, names) -> dict:
    """The version-compatibility page's warning: one issue per unrecognised (part) parameter."""
    return {
        "resourceType": "OperationOutcome",
        "id": ids.resource_id(nhs_number, "OperationOutcome", "unrecognised:" + ",".join(names)),
        "meta": {"profile": [spec.PROFILE_OPERATION_OUTCOME]},
        "issue": [{"severity": "warning", "code": "not-supported",
                   "details": {"coding": [{"system": spec.SPINE_ERROR_SYSTEM, "code": "NOT_IMPLEMENTED",
                                           "display": "Not implemented"}],
                               "text": f"{name} is an unrecognised parameter"},
                   "diagnostics": name} for name in names],
    }


def retrieve_bundle(index: RecordIndex, query: Query, nhs_number: str = "", retrieve_limit_bytes: int = 0) -> dict:
    """The answer Bundle of ``query`` over ``index`` (its id the trace placeholder)."""
    a = _select(index, query)
    primary = a.primary
    maker = lists.ListMaker(index.patient_ref, index.list_date, index.warnings)
    items = index.items

    # The resources sent: what the query selected (an ended allergy goes inside its List), and the
    # administrative resources they reference.
    selected = {r for r in a.refs if r in index.served}
    chosen = {r for r in selected if not (r in items and items[r].area == "ended_allergies")}
    chosen |= _admin(index, selected)

    def warned(would: list) -> bool:
        return any(items[r].confidential or items[r].partial for r in would)

    def sent(would: list) -> list:
        return [r for r in would if not items[r].confidential and r in selected]

    def made(title, coding, refs, warn, **kwargs):
        r = maker.record_list(title, coding, refs, warn, **kwargs)
        if r.get("date") is None:       # a record whose Lists carry no date
            r.pop("date", None)
        return r

    ended_would = list(dict.fromkeys(primary.get("ended_allergies", []) + a.ended_pulled))
    ended_would.sort(key=lambda r: items[r].order)
    pointer = f"List/{index.ended_list_id}#"
    secondaries = list(a.shown.items())
    ended_id = index.ended_list_id if index.ended_list_id and (
        any(items[r].area == "ended_allergies" for _, refs in secondaries for r in refs)
        or any(target.startswith(pointer) for ref in chosen for _, target, _ in _walk(index.served[ref]))) else None

    out_lists = []
    for name in lists.PRIMARY_ORDER:
        if name == "ended_allergies":
            if "ended_allergies" not in primary and not a.ended_pulled:
                continue
            would = ended_would
        elif name not in primary:
            continue
        else:
            would = primary[name]
        code, display, title = spec.PRIMARY_LISTS[name]
        shown = sent(would)
        if name == "ended_allergies":
            out_lists.append(made(title, lists.snomed(code, display),
                                  [{"reference": "#" + r.split("/", 1)[1]} for r in shown], warned(would),
                                  area="allergies", contained=[index.served[r] for r in shown] or None,
                                  list_id=ended_id))
        else:
            out_lists.append(made(title, lists.snomed(code, display), [{"reference": r} for r in shown],
                                  warned(would), area=name))

    def secondary(title, would, shown):
        would = list(dict.fromkeys(would + shown))
        refs = [{"reference": _ended_ref(index, r) if items[r].area == "ended_allergies" else r}
                for r in sorted(shown, key=lambda r: items[r].order)]
        if refs or warned(would):
            out_lists.append(made(title, lists.secondary_coding(title), refs, warned(would)))

    for area_name, title in lists.PROBLEM_SECONDARY.items():
        if area_name == "problems":
            related = sorted(set(a.related_problems + a.withheld_related), key=lambda r: items[r].order)
            if related:
                secondary(title, related, a.related_problems)
        elif query.problems:
            key = f"problems:{area_name}"
            secondary(title, a.lists.get(key, []), a.shown.get(key, []))
    if query.consultations:
        for area_name, title in lists.CONSULTATION_SECONDARY.items():
            key = f"consultations:{area_name}"
            secondary(title, a.lists.get(key, []), a.shown.get(key, []))

    # Structure Lists, then clinical and administrative resources, in the migrate Bundle's order.
    entries = list(out_lists)
    entries += [index.served[r] for r in index.served_order if r.startswith("List/") and r in chosen]
    for ref in index.served_order:
        if ref in chosen and not ref.startswith("List/"):
            resource = index.served[ref]
            if ref.startswith("DocumentReference/"):
                resource = _placeholder(resource, retrieve_limit_bytes)
            entries.append(resource)
    if query.unrecognised:
        entries.append(forward_compatibility_outcome(nhs_number, query.unrecognised))
    return {"resourceType": "Bundle", "id": TRACE_PLACEHOLDER, "meta": index.bundle_meta, "type": "collection",
            "entry": [{"resource": r} for r in entries]}
