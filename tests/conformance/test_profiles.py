"""Profile conformance of everything the mock sends (issue #12; README "Conformance").

Every built-in persona's migrate Bundle in both sensitivity modes, a Patient searchset, a documents
searchset and a Binary, each resource against the profile its ``meta.profile`` names:

- ``profiles.py`` (ours): cardinality (slices, ``max 0``), fixed/pattern values, required bindings,
  extension URLs and shapes, elements the profile does not define, reference targets;
- FHIR.js 4.12.0 (STU3 mode, the NHS snapshots as the resource definitions) and fhirpath.js 5.2.2
  (every error invariant of the snapshots), through ``thirdparty.py``.

With start-up defaults the only findings allowed are the seed-default cases listed in
:data:`SEED_DEFAULTS` (the seed pages win; each has a compatibility setting giving the profile's
reading); with those settings (``cast.PROFILE_READING``) nothing at all is allowed.
"""
import re
from collections import Counter

from tests.conformance import cast, thirdparty

# (finding kind, instance path with indexes removed, profile name) -> why the default differs.
SEED_DEFAULTS = {
    ("binding", "Patient.identifier.extension<Extension-CareConnect-GPC-NHSNumberVerificationStatus-1>"
                ".valueCodeableConcept", "Extension-CareConnect-GPC-NHSNumberVerificationStatus-1"):
        "NHS number status system: the spec examples' URL (https://fhir.nhs.uk/CareConnect-NHSNumber"
        "VerificationStatus-1) by default; nhs_number_status_system=canonical sends the CodeSystem's URL",
    ("cardinality", "Patient.generalPractitioner", "CareConnect-GPC-Patient-1"):
        "the seed page references both the practice Organization and the usual GP; the profile allows one "
        "(0..1); patient_general_practitioner=profile sends only the usual GP (else the practice)",
}
# Where a profile contradicts itself, the fixed values win (they are what consumers compare against).
PROFILE_CONTRADICTIONS = {
    ("binding", "Condition.category", "CareConnect-GPC-ProblemHeader-Condition-1"):
        "category.coding is fixed to CareConnect-ConditionCategory-1 | problem-list-item | Problem List Item "
        "(as the Problems page says), but that CodeSystem has no problem-list-item, so the required binding "
        "to CareConnect-ConditionCategory-1 cannot hold together with the fixed code",
    ("terminology", "Condition.category.coding", "CareConnect-GPC-ProblemHeader-Condition-1"):
        "the same contradiction seen by the terminology check: the fixed problem-list-item is no code of "
        "CareConnect-ConditionCategory-1",
}


def _key(f):
    return f.kind, re.sub(r"\[\d+\]", "", f.path), f.profile.rsplit("/", 1)[-1]


def findings(checker, payloads):
    labelled, indexes = cast.resources(payloads)
    out = []
    for label, resource in labelled:
        for f in checker.resource(resource, indexes[label]):
            out.append((label, f))
    return labelled, out


def report(found) -> str:
    counts = Counter(_key(f) for _, f in found)
    lines = [f"{n:5} x {kind} {path} ({profile})  e.g. {next(str(f) for l, f in found if _key(f) == k)}"
             for k, n in counts.most_common() for kind, path, profile in [k]]
    return "\n".join(lines)


def test_default_cast_conforms_but_for_the_seed_defaults(checker, default_cast):
    labelled, found = findings(checker, default_cast)
    assert len(labelled) > 1000
    unexpected = [(label, f) for label, f in found if _key(f) not in {**SEED_DEFAULTS, **PROFILE_CONTRADICTIONS}]
    assert not unexpected, "profile findings:\n" + report(unexpected)
    assert {_key(f) for _, f in found} == set(SEED_DEFAULTS) | set(PROFILE_CONTRADICTIONS), \
        "an allowed case no longer occurs: drop it from the table here and from the README"


def test_profile_reading_cast_conforms(checker, profile_cast):
    labelled, found = findings(checker, profile_cast)
    found = [(label, f) for label, f in found if _key(f) not in PROFILE_CONTRADICTIONS]
    assert not found, "profile findings:\n" + report(found)
    assert not checker.unbound - {"http://www.rfc-editor.org/bcp/bcp13.txt"}, checker.unbound


def test_third_party_validators(checker, profile_cast):
    assert thirdparty.available(), "node and tests/conformance/js/node_modules are needed: make test runs npm ci"
    labelled, _ = cast.resources(profile_cast)
    labelled += [(label, c) for label, r in labelled for c in r.get("contained", [])]
    result = thirdparty.run(labelled, checker.defs)
    stats = result["stats"]
    assert stats["resources"] == len(labelled) and stats["invariantsEvaluated"] > 100000
    problems = [f"{f['label']} {f['resourceType']}/{f['id']} {f['location']}: {f['message']}" for f in result["fhirjs"]
                if not (f["resourceType"] == "Condition" and f["location"].startswith("Condition.category")
                        and '"problem-list-item"' in f["message"])]      # PROFILE_CONTRADICTIONS
    problems += [f"{f['label']} {f['resourceType']}/{f['id']} {f['path']} {f['key']}: {f['human']}"
                 for f in result["fhirpath"]]
    counts = Counter(re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "ID", re.sub(r"^\S+ ", "", p)) for p in problems)
    assert not problems, "\n".join(f"{n:5} x {p}" for p, n in counts.most_common(40))
