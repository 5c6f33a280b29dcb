"""Checks every migrate structured Bundle must pass, from the spec's tables (migrate-structured.md).

Shared by the migrate tests; transcribed from the spec, never from the code's own constants.
"""
from fhir.resources.STU3 import get_fhir_model_class
from fhir.resources.STU3.bundle import Bundle

# migrate-structured.md "Primary lists": code -> (code display, List.title).
PRIMARY_LISTS = {
    "886921000000105": ("Allergies and adverse reactions", "Allergies and adverse reactions"),
    "1103671000000101": ("Ended allergies", "Ended allergies"),
    "1149501000000101": ("List of consultations", "List of consultations"),
    "714311000000108": ("Patient recall administration", "Patient recall administration"),
    "1102181000000102": ("Immunisations", "Immunisations"),
    "887191000000108": ("Investigations and results", "Investigations and results"),
    "933361000000108": ("Medications and medical devices", "Medications and medical devices"),
    "792931000000107": ("Outbound referral", "Outbound referral"),
    "717711000000103": ("Problems", "Problems"),
    "826501000000100": ("Miscellaneous record", "Uncategorised data"),
}
# Consultation-structure lists ("Handy facts for fixtures").
STRUCTURE_CODES = {"325851000000107": "Consultation", "25851000000105": "Topic (EHR)",
                   "24781000000107": "Category (EHR)"}
SECONDARY_SYSTEM = "https://fhir.hl7.org.uk/STU3/CodeSystem/GPConnect-SecondaryListValues-1"
# migrate-structured.md "Secondary lists": the 21 titles.
SECONDARY_TITLES = {
    *(f"Consultations - {x} contained in consultations" for x in (
        "allergies", "allergies that have been ended", "diary entries", "documents", "immunisations",
        "investigations", "medications", "uncategorised data")),
    "Consultations - outbound referrals in consultations",
    "Consultations - problems contained in consultations",
    *(f"Problems - {x} related to problems" for x in (
        "allergies", "allergies that have been ended", "consultations", "diary entries", "documents",
        "immunisations", "investigations", "medications", "outbound referrals", "uncategorised data")),
    "Problems - linked problems not relating to the primary query",
}
assert len(SECONDARY_TITLES) == 21
WARNING_EXT = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1"
CONFIDENTIAL_NOTE = "Items excluded due to confidentiality and/or patient preferences."
EMPTY_REASON = {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ListEmptyReasonCode-1",
                "code": "no-content-recorded", "display": "No Content Recorded"}
NOPAT = {"system": "http://hl7.org/fhir/v3/ActCode", "code": "NOPAT",
         "display": "no disclosure to patient, family or caregivers without attending provider's authorization"}
# --- the Bundle -------------------------------------------------------------------------------------------
def all_resources(bundle):
    for entry in bundle["entry"]:
        yield entry["resource"]
        for contained in entry["resource"].get("contained", []):
            yield contained


def references_in(node, found):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            found.append(node["reference"])
        for value in node.values():
            references_in(value, found)
    elif isinstance(node, list):
        for value in node:
            references_in(value, found)
    return found


def lists_by_title(bundle):
    out = {}
    for r in bundle["entry"]:
        r = r["resource"]
        if r["resourceType"] == "List" and ("id" not in r or r.get("title") == "Ended allergies"):
            assert r["title"] not in out, f"two lists titled {r['title']}"
            out[r["title"]] = r
    return out


def check_bundle(bundle, trace_id):
    """Everything the spec asks of any migrate Bundle; returns the Bundle."""
    assert bundle["resourceType"] == "Bundle"
    assert bundle["id"] == trace_id
    assert bundle["type"] == "collection"
    assert bundle["meta"] == {"profile": [
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"]}
    for key in ("total", "link", "signature"):
        assert key not in bundle
    Bundle.model_validate(bundle)
    ids = set()
    for entry in bundle["entry"]:
        assert list(entry) == ["resource"]              # no fullUrl, search, request, response
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        for contained in resource.get("contained", []):
            get_fhir_model_class(contained["resourceType"]).model_validate(contained)
        if "id" in resource:
            ident = (resource["resourceType"], resource["id"])
            assert ident not in ids, f"duplicate {ident}"
            ids.add(ident)
    # Every reference resolves inside the Bundle (#id: inside the same resource's contained;
    # List/<id>#<id>: a resource contained in that List, the allergies guidance's ended allergies).
    contained_in = {(e["resource"]["resourceType"], e["resource"]["id"]): {c["id"] for c in e["resource"].get("contained", [])}
                    for e in bundle["entry"] if "id" in e["resource"]}
    referenced_lists = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        local = {c["id"] for c in resource.get("contained", [])}
        for ref in references_in(resource, []):
            if ref.startswith("#"):
                assert ref[1:] in local, ref
            else:
                kind, _, rid = ref.partition("/")
                rid, _, inner = rid.partition("#")
                assert (kind, rid) in ids, f"{ref} from {resource['resourceType']} does not resolve"
                if inner:
                    assert inner in contained_in[(kind, rid)], f"{ref}: no such contained resource"
                    referenced_lists.add(rid)
    # Lists: the spec's titles and codes.
    for resource in all_resources(bundle):
        if resource["resourceType"] != "List":
            continue
        assert resource["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1"]
        assert resource["status"] == "current" and resource["mode"] == "snapshot"
        coding = resource["code"]["coding"][0]
        if coding["system"] == SECONDARY_SYSTEM:
            assert resource["title"] in SECONDARY_TITLES
            assert coding["code"] == resource["title"].lower().replace(" - ", "-").replace(" ", "-")
            assert "id" not in resource
        elif coding["code"] in STRUCTURE_CODES:
            assert coding == {"system": "http://snomed.info/sct", "code": coding["code"],
                              "display": STRUCTURE_CODES[coding["code"]]}
            assert resource["id"] and resource["encounter"]
        else:
            assert coding["system"] == "http://snomed.info/sct"
            assert (coding["display"], resource["title"]) == PRIMARY_LISTS[coding["code"]]
            # query Lists have no id; the Ended allergies List has one only to be referenced
            assert "id" not in resource or (resource["title"] == "Ended allergies" and resource["id"] in referenced_lists)
        if not resource.get("entry"):
            assert resource["emptyReason"]["coding"] == [EMPTY_REASON]
            # note 0..1: warning texts and the empty text concatenated (the List page)
            # (a record served as a supplier sent it may split the texts over several notes)
            assert resource["note"][-1]["text"].endswith("Information not available")
    titles = lists_by_title(bundle)
    for code, (_, title) in PRIMARY_LISTS.items():
        assert title in titles, f"primary list {title} missing"
    # Patient, Organization, Practitioner: profile and versionId.
    patients = [r for r in all_resources(bundle) if r["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert patients[0]["meta"]["profile"] == [
        "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"]
    for r in all_resources(bundle):
        if r["resourceType"] in ("Patient", "Organization", "Practitioner"):
            assert r["meta"]["versionId"]
        assert r["resourceType"] != "OperationOutcome"
        if r["resourceType"] == "List":
            assert "security" not in r["meta"]
    return bundle


