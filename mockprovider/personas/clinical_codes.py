"""A small curated table of real SNOMED CT (and dm+d) codes for generated personas.

Data only. Every code here is a real concept id with its usual UK display; codes are written the
way persona records write them, ``"<code>|<display>"``. Entries marked ``sensitive`` are the
kind of item a practice would mark confidential (sexual health, mental health); the generator marks
them confidential only when asked (``--tags confidential-items``).
"""
from __future__ import annotations

# Problems (Condition / ProblemHeader): (code, sensitive)
PROBLEMS = (
    ("38341003|Hypertensive disorder", False),
    ("44054006|Type 2 diabetes mellitus", False),
    ("195967001|Asthma", False),
    ("13645005|Chronic obstructive lung disease", False),
    ("49436004|Atrial fibrillation", False),
    ("396275006|Osteoarthritis", False),
    ("40930008|Hypothyroidism", False),
    ("37796009|Migraine", False),
    ("84114007|Heart failure", False),
    ("234050002|Venous insufficiency of leg", False),
    ("30989003|Knee pain", False),
    ("54150009|Upper respiratory infection", False),
    ("40468003|Viral hepatitis, type A", False),
    ("231504006|Mixed anxiety and depressive disorder", True),
    ("35489007|Depressive disorder", True),
    ("105629000|Chlamydial infection", True),
)

# Who a problem fits (the generator draws by age and sex, issue #24): code -> (youngest, oldest or None, weight for
# a man, weight for a woman). No heart failure in a 24-year-old, no chlamydia in a 90-year-old.
PROBLEM_FIT = {
    "38341003": (35, None, 3, 3), "44054006": (30, None, 3, 2), "195967001": (5, None, 2, 2),
    "13645005": (45, None, 2, 2), "49436004": (55, None, 2, 1), "396275006": (45, None, 2, 3),
    "40930008": (20, None, 1, 4), "37796009": (12, 70, 1, 3), "84114007": (55, None, 2, 1),
    "234050002": (40, None, 1, 2), "30989003": (12, None, 2, 2), "54150009": (0, None, 2, 2),
    "40468003": (2, 60, 1, 1), "231504006": (16, None, 2, 3), "35489007": (16, None, 2, 3),
    "105629000": (16, 40, 2, 2),
}


def problems_for(age: int, gender: str) -> list:
    """The problems of :data:`PROBLEMS` that fit a person of ``age`` (years) and ``gender``, with their
    weights: [((code, sensitive), weight)]."""
    out = []
    for code, sensitive in PROBLEMS:
        youngest, oldest, man, woman = PROBLEM_FIT[code.split("|")[0]]
        if age >= youngest and (oldest is None or age <= oldest):
            out.append(((code, sensitive), man if gender == "male" else woman))
    return out


# Allergies: (code, category, reaction code)
ALLERGIES = (
    ("91936005|Allergy to penicillin", "medication", "271807003|Eruption of skin"),
    ("293586001|Allergy to aspirin", "medication", "422400008|Vomiting"),
    ("91935009|Allergy to peanut", "food", "241933001|Peanut-induced anaphylaxis"),
    ("300913006|Shellfish allergy", "food", "304386008|O/E - itchy rash"),
    ("300916003|Latex allergy", "environment", "304386008|O/E - itchy rash"),
    ("196461000000101|Transfer-degraded drug allergy", "medication", "422400008|Vomiting"),
)
NO_KNOWN_ALLERGY = "716186003|No known allergy"

# Medications (dm+d VMP codes): (drug, dosage, quantity, problem it treats or None, sensitive)
MEDICATIONS = (
    ("319284000|Amlodipine 10mg tablets", "One tablet once a day", "28 tablet", "38341003", False),
    ("320000009|Simvastatin 40mg tablets", "One tablet at night", "28 tablet", None, False),
    ("319773006|Aspirin 75mg dispersible tablets", "One tablet once a day", "28 tablet", "49436004", False),
    ("39113611000001102|Salbutamol 100micrograms/dose inhaler CFC free", "Two puffs when required",
     "200 dose", "195967001", False),
    ("322236009|Paracetamol 500mg tablets", "One or two tablets up to four times a day", "32 tablet",
     "30989003", False),
    ("323509004|Amoxicillin 250mg capsules", "One capsule three times a day", "21 capsule", "54150009", False),
    ("321987003|Citalopram 20mg tablets", "One tablet once a day", "28 tablet", "231504006", True),
)

# Immunisations: (procedure code, vaccine product text code)
IMMUNISATIONS = (
    ("86198006|Influenza vaccination", None),
    ("12866006|Pneumococcal vaccination", None),
    ("38598009|Measles-mumps-rubella vaccination", None),
    ("16584000|Hepatitis B vaccination", None),
    ("170378007|First hepatitis A vaccination", None),
)
IMMUNISATION_SITE = "368209003|Right upper arm"
IMMUNISATION_ROUTE = "34206005|Subcutaneous route"

# Uncategorised observations: (code, unit, low, high) — value drawn in [low, high]
OBSERVATIONS = (
    ("27113001|Body weight", "kg", 48, 110),
    ("50373000|Body height", "cm", 150, 195),
    ("86290005|Respiratory rate", "/min", 12, 20),
    ("364075005|Heart rate", "/min", 55, 95),
    # UCUM: "U" is the enzyme unit, so alcohol units are an annotation
    ("1082641000000106|Alcohol units consumed per week", "{units}/wk", 0, 21),
)
BLOOD_PRESSURE = "163020007|O/E - blood pressure reading"
SMOKING = ("266919005|Never smoked tobacco", "8517006|Ex-smoker", "77176002|Smoker")
SENSITIVE_OBSERVATION = "408490001|Antipsychotic drug therapy"

# Investigations: full blood count with results (code, unit, low, high)
FBC = "26604007|FBC - Full blood count"
FBC_RESULTS = (
    ("1022431000000105|Haemoglobin estimation", "g/L", 115, 165),
    ("1022541000000102|Total white cell count", "10*9/L", 4, 11),
    ("1022651000000100|Platelet count", "10*9/L", 150, 400),
    ("1022291000000105|Haematocrit", "L/L", 0.36, 0.46),
)
# mmol/mol is the IFCC-standardised measure (the DCCT one is a percentage)
HBA1C = ("999791000000106|Haemoglobin A1c level - International Federation of Clinical Chemistry and "
         "Laboratory Medicine standardised", "mmol/mol", 20, 48)
VENOUS_BLOOD = "122555007|Venous blood specimen"
# A result a laboratory sends as a document (the gp2gp-edge-case tag: valueAttachment)
FERRITIN = "993381000000106|Serum ferritin level"
LAB_REPORT = "721981007|Diagnostic studies report"

# Referrals and diary entries
REFERRALS = (
    ("308447003|Referral to physiotherapist", "Physiotherapy"),
    ("308448008|Referral to counselor", "Counselling"),
)
DIARY = ("314529007|Medication review due", "171279008|Immunisation due")

# Consultations: (type code, title); heading codes for consultation structure
CONSULTATION_TYPES = (
    ("11429006|Consultation", "GP surgery consultation"),
    ("185317003|Telephone encounter", "Telephone consultation"),
)
HEADINGS = {
    "history": "24781000000107|Category (EHR)",
}
NOTES = (
    "Reviewed today, plan discussed with patient.",
    "Symptoms improving. Continue current treatment.",
    "Advised to return if no better in two weeks.",
    "Bloods requested, review with results.",
)

# Document types (Record composition type refset) for generated documents
DOCUMENT_TYPES = (
    "823701000000103|Outpatient letter",
    "824331000000106|Inpatient final discharge letter",
    "721981007|Diagnostic studies report",
)
