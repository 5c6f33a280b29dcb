"""Terminology is real (issue #12): SNOMED CT identifiers pass the Verhoeff check digit and are
concept ids, drugs are dm+d products, each code has one display everywhere, units mean what the code
measures and are UCUM.

Sources scanned: every persona file (built-in cast), every string literal in ``mockprovider/`` that
looks like ``"<id>|<display>"`` or a SNOMED code next to its display, and every SNOMED coding in every
payload of the conformance cast (both modes).
"""
from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CODE_TEXT = re.compile(r"^(\d{6,18})\|(.+)$")

# Verhoeff tables (the dihedral group D5, its permutation, the inverse): the SNOMED CT check digit.
_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def verhoeff_ok(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def is_concept_id(sctid: str) -> bool:
    """6-18 digits, no leading zero, Verhoeff check digit, partition 00 (short) or 10 (long) = concept."""
    return bool(re.fullmatch(r"[1-9]\d{5,17}", sctid)) and verhoeff_ok(sctid) and sctid[-3:-1] in ("00", "10")


def test_verhoeff_itself():
    # Known SNOMED CT concept ids pass; one changed digit or a description id fails.
    assert is_concept_id("22298006") and is_concept_id("1019431000000105") and is_concept_id("37331000000100")
    assert not is_concept_id("22298007") and not is_concept_id("325261009")
    assert not is_concept_id("1234567011")                    # partition 01: a description id


# --- gathering codes ------------------------------------------------------------------------------------
def persona_codes():
    for path in sorted((ROOT / "personas").glob("*.json")):
        def walk(node, where):
            if isinstance(node, dict):
                for k, v in node.items():
                    yield from walk(v, f"{where}.{k}")
            elif isinstance(node, list):
                for n, v in enumerate(node):
                    yield from walk(v, f"{where}[{n}]")
            elif isinstance(node, str) and CODE_TEXT.match(node):
                code, display = CODE_TEXT.match(node).groups()
                yield code, display, f"{path.name}:{where}"
        yield from walk(json.loads(path.read_text()), "$")


def source_codes():
    """"<id>|<display>" literals and ("<id>", "<display>") pairs in mockprovider/."""
    for path in sorted((ROOT / "mockprovider").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE_TEXT.match(node.value):
                code, display = CODE_TEXT.match(node.value).groups()
                yield code, display, f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(node, ast.Tuple) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts[:2]) \
                    and re.fullmatch(r"\d{6,18}", node.elts[0].value) \
                    and re.search(r"[A-Za-z]{3}", node.elts[1].value) and "/" not in node.elts[1].value:
                yield node.elts[0].value, node.elts[1].value, f"{path.relative_to(ROOT)}:{node.lineno}"


def cast_codings(payloads, with_description_ids=True):
    """SNOMED codings in the payloads; ``with_description_ids=False`` leaves out codings that carry the
    SNOMED description-id extension (their display is the term that description id names, which a
    real record may pick among the concept's synonyms)."""
    for label, body in payloads:
        def walk(node, where):
            if isinstance(node, dict):
                if node.get("system") == SNOMED and "code" in node and (with_description_ids or not any(
                        "sctdescid" in x.get("url", "") for x in node.get("extension", []))):
                    yield node["code"], node.get("display"), f"{label} {where}"
                for k, v in node.items():
                    yield from walk(v, f"{where}.{k}")
            elif isinstance(node, list):
                for v in node:
                    yield from walk(v, where)
        yield from walk(body, body["resourceType"])


def test_every_snomed_id_is_a_concept_id(default_cast):
    found = list(persona_codes()) + list(source_codes()) + list(cast_codings(default_cast))
    assert len(found) > 1000
    bad = sorted({(code, display, where) for code, display, where in found if not is_concept_id(code)})
    assert not bad, "not SNOMED CT concept ids (Verhoeff check digit or partition):\n" + "\n".join(
        f"  {c} {d!r} at {w}" for c, d, w in bad[:20])


def test_one_display_per_code(default_cast):
    """The same concept carries the same (preferred-term) display in personas, code and the cast
    (a coding naming its description id may carry that description's term)."""
    displays = defaultdict(set)
    where = {}
    for code, display, at in [*persona_codes(), *source_codes(), *cast_codings(default_cast, False)]:
        if display:
            displays[code].add(display)
            where.setdefault((code, display), at)
    clash = {code: ds for code, ds in displays.items() if len(ds) > 1}
    assert not clash, "\n".join(f"  {c}: " + "; ".join(f"{d!r} ({where[(c, d)]})" for d in sorted(ds))
                                for c, ds in clash.items())


# --- drugs ----------------------------------------------------------------------------------------------
PRODUCT = re.compile(r"\d.*(tablets?|capsules?|inhaler|cream|ointment|solution|suspension|injection|drops|"
                     r"patch(es)?|spray|liquid|pessar(y|ies)|suppositor(y|ies)|gel|granules|powder|lozenges?)\b",
                     re.I)


# GP2GP transfer-degrade codes (a real record keeps them for items degraded in an earlier transfer)
TRANSFER_DEGRADED = {"196411000000103", "196421000000109", "196461000000101"}


def test_drugs_are_dm_and_d_products(default_cast):
    """Medication.code has one SNOMED (dm+d) coding naming a product: strength and form, as a VMP/AMP
    does (a dm+d id cannot be checked offline beyond that; its Verhoeff digit is checked above).
    Supplier-local drug codings (EMIS, Multilex) may sit beside it."""
    bad = []
    for label, body in default_cast:
        for e in body.get("entry", []):
            r = e["resource"]
            if r["resourceType"] != "Medication":
                continue
            coding = [c for c in r["code"].get("coding", []) if c.get("system") == SNOMED]
            if coding and coding[0].get("code") in TRANSFER_DEGRADED:
                continue        # a drug degraded in an earlier GP2GP transfer keeps the degrade code
            if len(coding) != 1 or not PRODUCT.search(coding[0].get("display", "")):
                bad.append((label, coding))
    assert not bad, bad[:5]
    from mockprovider.personas import clinical_codes
    for drug, *_ in clinical_codes.MEDICATIONS:
        assert PRODUCT.search(drug.split("|", 1)[1]), drug


# --- units ----------------------------------------------------------------------------------------------
# What each measured code means, as UCUM (SNOMED CT concept meaning; UCUM case-sensitive codes).
UNITS = {
    "1019431000000105": {"%"},                   # HbA1c level (DCCT aligned): a percentage
    "999791000000106": {"mmol/mol"},             # HbA1c level (IFCC standardised): mmol/mol, never %
    "27113001": {"kg", "g"},                     # Body weight
    "50373000": {"m", "cm"},                     # Body height
    "60621009": {"kg/m2"},                       # Body mass index
    "86290005": {"/min"},                        # Respiratory rate
    "364075005": {"/min"},                       # Heart rate
    "1022431000000105": {"g/L"},                 # Haemoglobin estimation
    "1022541000000102": {"10*9/L"},              # Total white cell count
    "1022651000000100": {"10*9/L"},              # Platelet count
    "1022291000000105": {"L/L"},                 # Haematocrit
    "1005671000000105": {"mmol/L"},              # Serum cholesterol level
    "1082641000000106": {"{units}/wk"},          # Alcohol units per week ("U" is UCUM's enzyme unit)
    "720433000": {"{score}"},                    # PHQ-9 score
    "72313002": {"mm[Hg]"}, "1091811000000102": {"mm[Hg]"},   # systolic / diastolic
    "1022491000000106": {"fL"},                  # MCV - Mean corpuscular volume
    "1022551000000104": {"10*9/L"}, "1022581000000105": {"10*9/L"},   # neutrophil / lymphocyte count
    "1000661000000107": {"mmol/L"}, "1000651000000109": {"mmol/L"},   # serum sodium / potassium
    "1000951000000103": {"mmol/L"}, "1000731000000107": {"umol/L"},   # serum urea / creatinine
    "1018251000000107": {"U/L"}, "1000621000000104": {"U/L"},         # ALT / alkaline phosphatase (enzymes)
    "999691000000104": {"umol/L"}, "1000821000000103": {"g/L"},       # serum bilirubin / albumin
    "1005681000000107": {"mmol/L"}, "1005691000000109": {"mmol/L"},   # HDL cholesterol / triglycerides
    "1022191000000100": {"mmol/L"}, "1028551000000102": {"{ratio}"},  # LDL cholesterol / cholesterol:HDL ratio
    "1022791000000101": {"mU/L"}, "165581004": {"{INR}"},              # TSH / INR
    "1003141000000105": {"mmol/L"}, "1001371000000100": {"mg/L"},      # plasma glucose / CRP
    "993381000000106": {"ug/L"},                 # Serum ferritin level (micrograms per litre)
}


def quantities(r):
    if "valueQuantity" in r:
        yield r["code"], r["valueQuantity"]
    for rr in r.get("referenceRange", []):
        for end in ("low", "high"):
            if end in rr:
                yield r["code"], rr[end]
    for c in r.get("component", []):
        if "valueQuantity" in c:
            yield c["code"], c["valueQuantity"]


def unit_problems(r) -> list[str]:
    """What is wrong with an Observation's quantities: not UCUM, or a unit its code does not measure."""
    bad = []
    for code, q in quantities(r):
        sct = next((c["code"] for c in code.get("coding", []) if c.get("system") == SNOMED), None)
        if q.get("system") != UCUM or not q.get("code"):
            bad.append(f"{sct}: {q} is not a UCUM quantity")
        elif sct in UNITS and q.get("code") not in UNITS[sct]:
            bad.append(f"{sct} is measured in {' or '.join(sorted(UNITS[sct]))}, not {q.get('code')}")
    return bad


def test_units_match_the_code_and_are_ucum(default_cast):
    bad, unknown = [], set()
    for label, body in default_cast:
        for e in body.get("entry", []):
            r = e["resource"]
            if r["resourceType"] != "Observation":
                continue
            bad += [(label, problem) for problem in unit_problems(r)]
            for code, q in quantities(r):
                sct = next(c["code"] for c in code["coding"] if c["system"] == SNOMED)
                if sct not in UNITS:
                    unknown.add(sct)
    assert not bad, bad[:5]
    assert not unknown, f"measured codes with no unit fact here (add them to UNITS): {sorted(unknown)}"


def test_generator_units_match_their_codes():
    from mockprovider.personas import clinical_codes as cc
    rows = [*cc.OBSERVATIONS, *cc.FBC_RESULTS, cc.HBA1C]
    bad = [(code, unit) for code, unit, *_ in rows if unit not in UNITS.get(code.split("|")[0], {unit})]
    missing = [code for code, *_ in rows if code.split("|")[0] not in UNITS]
    assert not bad and not missing, (bad, missing)


@pytest.mark.parametrize("code", sorted(UNITS))
def test_unit_facts_are_about_concept_ids(code):
    assert is_concept_id(code)
