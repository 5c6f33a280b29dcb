"""Terminology of supplier-styled records: real codes only, data only.

Used by the record styles (:mod:`mockprovider.record.styles`: a SNOMED CT concept's description id and
its Read v2 / CTV3 translation, a dm+d drug's EMIS / Multilex code) and by the generator of
supplier-styled records (:mod:`mockprovider.personas.supplier_records`), which draws from the tables.

Every clinical term is a real SNOMED CT concept with a real description id, and the Read v2 code
the same entry carries in GP systems that still send it. They were gathered from public GP Connect
payloads (the NHS GP2GP adaptor's supplier-shaped test fixtures and the specification's examples),
where suppliers send exactly these pairs; no fixture is copied, only the terminology facts.

``T(concept, display, description_id, description_term, read_v2, read_term)``:
- ``display``: the concept's term as the supplier sends it in ``coding.display``;
- ``description_id`` / ``description_term``: the description the clinician picked (the
  ``Extension-coding-sctdescid`` extension);
- ``read_v2`` / ``read_term``: the Read v2 code (EMIS sends it as the user-selected coding). CTV3
  (SystmOne) carries the 5-byte Read code as its own code for these concepts, so the TPP shape
  sends ``read_v2[:5]`` with ``http://read.info/ctv3``.

Drugs are dm+d (SNOMED CT dm+d extension) with the supplier's own drug code where it is known from
public payloads (EMIS drug codes; Multilex for TPP); a legacy name differing from dm+d goes to
``CodeableConcept.text`` (medication guidance: the original system's name is preserved).
The tests check every SNOMED concept id and description id with the Verhoeff check digit.
"""
from __future__ import annotations

from typing import NamedTuple


class T(NamedTuple):
    concept: str
    display: str
    description_id: str | None
    description_term: str | None
    read_v2: str | None
    read_term: str | None


class Drug(NamedTuple):
    dmd: str                 # dm+d VMP/AMP concept id
    name: str                # dm+d name
    emis: str | None         # EMIS drug code
    multilex: str | None     # Multilex drug code (TPP)
    legacy_name: str | None  # the name the original system displayed, when it differs
    dosage: str
    quantity: str
    unit: str


PROBLEMS = {
    '38341003': T('38341003', 'Hypertension', '1215744012', 'Hypertensive disorder', 'G2z..00', 'Hypertensive disease NOS'),
    '195967001': T('195967001', 'Asthma', '301485011', 'Asthma', 'H33..00', 'Asthma'),
    '22298006': T('22298006', 'Myocardial infarction', '37443015', 'Heart attack', 'G30..14', 'Heart attack'),
    '194828000': T('194828000', 'Angina pectoris', '299757012', 'Angina pectoris', 'G33..00', 'Angina pectoris'),
    '90560007': T('90560007', 'Gout', '150085018', 'Gout', 'C34..00', 'Gout'),
    '69896004': T('69896004', 'Rheumatoid arthritis', '116082011', 'Rheumatoid arthritis', 'N040.00', 'Rheumatoid arthritis'),
    '23986001': T('23986001', 'Glaucoma', '40268016', 'Glaucoma', 'F45..00', 'Glaucoma'),
    '90688005': T('90688005', 'Chronic renal failure', '509111010', 'Chronic renal failure', 'K05..00', 'Chronic renal failure'),
    '279039007': T('279039007', 'Low back pain', '416139010', 'Low back pain', 'N142.11', 'Low back pain'),
    '21719001': T('21719001', 'Allergic rhinitis due to pollen', '481104016', 'Allergic rhinitis due to pollens', 'H170.00', 'Allergic rhinitis due to pollens'),
    '40055000': T('40055000', 'Chronic sinusitis', '66718013', 'Chronic sinusitis', 'H13..00', 'Chronic sinusitis'),
    '238134004': T('238134004', 'Generalised obesity', '356966014', 'Generalised obesity', 'C380500', 'Generalised obesity'),
    '63491006': T('63491006', 'Intermittent claudication', '105536013', 'Intermittent claudication', 'G73z000', 'Intermittent claudication'),
    '197480006': T('197480006', 'Anxiety disorder', '303689015', 'Anxiety disorder', 'E200.00', 'Anxiety states'),
    '74506000': T('74506000', 'Bereavement', '502726016', 'Bereavement', '13Hc.00', 'Bereavement'),
}
FINDINGS = {
    '77176002': T('77176002', 'Smoker', '128130017', 'Smoker', '137P.11', 'Smoker'),
    '8517006': T('8517006', 'Ex-smoker', '15047015', 'Ex-smoker', '137S.00', 'Ex smoker'),
    '267031002': T('267031002', 'Tiredness symptom', '397878014', 'Tiredness symptom', '168..00', 'Tiredness symptom'),
    '407645004': T('407645004', 'Dizziness on standing up', '2159245017', 'Dizziness on standing up', '1B55.00', 'Dizziness on standing up'),
    '161894002': T('161894002', 'Complaining of low back pain', '252314011', 'C/O - low back pain', '16C5.00', 'C/O - low back pain'),
    '21522001': T('21522001', 'Abdominal pain', '36112013', 'Abdominal pain', '1969.00', 'Abdominal pain'),
    '170625000': T('170625000', 'Inhaler technique - good', '264534013', 'Inhaler technique - good', '663H.00', 'Inhaler technique - good'),
    '170636007': T('170636007', 'Asthma never disturbs sleep', '264545011', 'Asthma never disturbs sleep', '663O000', 'Asthma never disturbs sleep'),
    '162781005': T('162781005', 'O/E - oedema of ankles', '253712018', 'O/E - oedema of ankles', '22C2.00', 'O/E - oedema of ankles'),
    '1103841000000106': T('1103841000000106', 'Health education offered', '818161000006110', 'Health education offered', '6781.00', 'Health education offered'),
    '270426007': T('270426007', 'Did not attend - no reason', '405044018', 'Did not attend - no reason', '9N42.00', 'Did not attend - no reason'),
    '1321000000100': T('1321000000100', "MED3 - doctor's statement", '11551000000118', "MED3 - doctor's statement", '9D1..00', "MED3 - doctor's statement"),
    '225323000': T('225323000', 'Smoking cessation education', '2575784012', 'Smoking cessation education', '6791.00', 'Health ed. - smoking'),
    '160575005': T('160575005', 'Light drinker - 1-2u/day', '250312016', 'Light drinker - 1-2u/day', '1363.00', 'Light drinker - 1-2u/day'),
    '160357008': T('160357008', 'FH: Hypertension', '249943016', 'FH: Hypertension', '12C1.00', 'FH: Hypertension'),
    '266894000': T('266894000', 'FH: Cardiovascular disease', '397693011', 'FH: Cardiovascular disease', '12C..00', 'FH: Cardiovascular disease'),
    '20295000': T('20295000', 'Divorced', '191517011', 'Divorced', '1334.00', 'Divorced'),
    '417528008': T('417528008', 'Consent given for upload to local shared electronic record', '2548578015', 'Consent given for upload to local shared electronic record', '93C0.00', 'Consent given for upload to local shared electronic record'),
    '38070000': T('38070000', 'Cohabiting', '487634016', 'Cohabiting', '1336.00', 'Cohabiting'),
    '26079004': T('26079004', 'Tremor', '43694015', 'Tremor', '1B22.11', 'Tremor symptom'),
    '40739000': T('40739000', 'Dysphagia', '67952014', 'Difficulty in swallowing', 'R072000', '[D]Difficulty in swallowing'),
    '162290004': T('162290004', 'Dry eyes', '253092014', 'Dry eyes', '1B88.00', 'Dry eyes'),
    '267032009': T('267032009', 'Tired all the time', '102731000006113', 'Tired all the time', '1683.00', 'Tired all the time'),
}
SENSITIVE_FINDINGS = {
    '160540005': T('160540005', 'Roman Catholic, follower of religion', '250259013', 'Roman Catholic', '1352.00', 'Roman Catholic'),
}
MEASURES = {
    '163020007': T('163020007', 'O/E - blood pressure reading', '254063019', 'O/E - blood pressure reading', '246..00', 'O/E - blood pressure reading'),
    '72313002': T('72313002', 'Systolic arterial pressure', '120159016', 'Systolic arterial pressure', '2469.00', 'O/E - Systolic BP reading'),
    '1091811000000102': T('1091811000000102', 'Diastolic arterial pressure', '2734671000000117', 'Diastolic arterial pressure', '246A.00', 'O/E - Diastolic BP reading'),
    '27113001': T('27113001', 'Body weight', '45352010', 'Body weight', '22A..00', 'O/E - weight'),
    '248333004': T('248333004', 'Standing height', '370729019', 'Standing height', '229..00', 'O/E - height'),
    '18491006': T('18491006', 'Peak expiratory flow rate', '31196014', 'Peak expiratory flow rate', '3395.00', 'Peak exp. flow rate: PEFR/PFR'),
    '1082641000000106': T('1082641000000106', 'Alcohol units consumed per week', '2713011000000113', 'Alcohol units consumed per week', '136V.00', 'Alcohol units per week'),
}
LABS = {
    '1022441000000101': T('1022441000000101', 'FBC - full blood count', '2566641000000111', 'FBC - full blood count', '424..00', 'Full blood count - FBC'),
    '1022431000000105': T('1022431000000105', 'Haemoglobin estimation', '2553471000000116', 'Haemoglobin estimation', '423..00', 'Haemoglobin estimation'),
    '1022541000000102': T('1022541000000102', 'Total white cell count', '2566651000000114', 'Total white cell count', '42H..00', 'Total white cell count'),
    '1022651000000100': T('1022651000000100', 'Platelet count', '2553501000000111', 'Platelet count', '42P..00', 'Platelet count'),
    '1022491000000106': T('1022491000000106', 'MCV - Mean corpuscular volume', '2575741000000118', 'MCV - Mean corpuscular volume', '42A..00', 'Mean corpuscular volume (MCV)'),
    '1022291000000105': T('1022291000000105', 'Haematocrit', '2575711000000119', 'Haematocrit', '4258.00', 'Haematocrit'),
    '1022551000000104': T('1022551000000104', 'Neutrophil count', '2583941000000114', 'Neutrophil count', '42J..00', 'Neutrophil count'),
    '1022581000000105': T('1022581000000105', 'Lymphocyte count', '2566671000000117', 'Lymphocyte count', '42M..00', 'Lymphocyte count'),
    '1000971000000107': T('1000971000000107', 'Urea and electrolytes level', '2571841000000110', 'Urea and electrolytes level', '44JB.00', 'Urea and electrolytes'),
    '1000661000000107': T('1000661000000107', 'Serum sodium level', '2560861000000114', 'Serum sodium level', '44I5.00', 'Serum sodium'),
    '1000651000000109': T('1000651000000109', 'Serum potassium level', '2573011000000117', 'Serum potassium level', '44I4.00', 'Serum potassium'),
    '1000951000000103': T('1000951000000103', 'Serum urea level', '2560931000000113', 'Serum urea level', '44J9.00', 'Serum urea level'),
    '1000731000000107': T('1000731000000107', 'Serum creatinine level', '2577271000000111', 'Serum creatinine level', '44J3.00', 'Serum creatinine'),
    '997531000000108': T('997531000000108', 'Liver function test', '2572661000000117', 'Liver function test', '44D6.00', 'Liver function test'),
    '1018251000000107': T('1018251000000107', 'Serum alanine aminotransferase level', '478551000006117', 'ALT/SGPT serum level', '44G3.00', 'ALT/SGPT serum level'),
    '1000621000000104': T('1000621000000104', 'Serum alkaline phosphatase level', '2560271000000118', 'Serum alkaline phosphatase level', '44F..00', 'Serum alkaline phosphatase'),
    '999691000000104': T('999691000000104', 'Serum bilirubin level', '2577161000000111', 'Serum bilirubin level', '44E..00', 'Serum bilirubin level'),
    '1000821000000103': T('1000821000000103', 'Serum albumin level', '2571781000000111', 'Serum albumin level', '44M4.00', 'Serum albumin'),
    '1005661000000103': T('1005661000000103', 'Serum lipids level', '2573511000000110', 'Serum lipids level', '44O..00', 'Serum lipids'),
    '1005671000000105': T('1005671000000105', 'Serum cholesterol level', '2551271000000118', 'Serum cholesterol level', '44P..00', 'Serum cholesterol'),
    '1005681000000107': T('1005681000000107', 'Serum high density lipoprotein cholesterol level', '2577901000000110', 'Serum high density lipoprotein cholesterol level', '44P5.00', 'Serum HDL cholesterol level'),
    '1005691000000109': T('1005691000000109', 'Serum triglycerides level', '2551281000000116', 'Serum triglycerides level', '44Q..00', 'Serum triglycerides'),
    '1022191000000100': T('1022191000000100', 'Serum low density lipoprotein cholesterol level', '2566581000000116', 'Serum low density lipoprotein cholesterol level', '44P6.00', 'Serum LDL cholesterol level'),
    '1028551000000102': T('1028551000000102', 'Total cholesterol:HDL (high density lipoprotein) ratio', '2602701000000112', 'Total cholesterol:HDL (high density lipoprotein) ratio', '44PF.00', 'Total cholesterol:HDL ratio'),
    '1022791000000101': T('1022791000000101', 'Serum TSH (thyroid stimulating hormone) level', '2607461000000118', 'Serum TSH (thyroid stimulating hormone) level', '442W.00', 'Serum TSH level'),
    '165581004': T('165581004', 'INR - international normalised ratio', '257472014', 'International normalised ratio', '42QE.00', 'International normalised ratio'),
    '1003141000000105': T('1003141000000105', 'Plasma fasting glucose level', '2560571000000116', 'Plasma fasting glucose level', '44g1.00', 'Plasma fasting glucose level'),
    '1001371000000100': T('1001371000000100', 'Serum CRP (C reactive protein) level', '2607141000000111', 'Serum CRP (C reactive protein) level', '44CS.00', 'Serum C reactive protein level'),
}
ALLERGIES = {
    '91936005': T('91936005', 'Allergy to penicillin', '811091000006112', 'Allergy to penicillin', '14L1.00', 'H/O: penicillin allergy'),
    '293586001': T('293586001', 'Aspirin allergy', '433808014', 'Aspirin allergy', '14LK.00', 'H/O: aspirin allergy'),
    '300916003': T('300916003', 'Allergy to latex', '442112014', 'Latex allergy', 'SN53100', 'Latex allergy'),
    '91935009': T('91935009', 'Allergy to peanut', '152306018', 'Allergy to peanuts', 'SN58200', 'Peanut allergy'),
    '91931000': T('91931000', 'Allergy to erythromycin', '152300012', 'Allergy to erythromycin', '14LA.00', 'H/O: erythromycin allergy'),
    '292939004': T('292939004', 'Trimethoprim adverse reaction', '433104013', 'Trimethoprim adverse reaction', 'TJ0yC00', 'Adverse reaction to trimethoprim'),
    '293433001': T('293433001', 'Adverse reaction caused by simvastatin', '3321965015', 'Adverse reaction caused by simvastatin', 'TJC2400', 'Adverse reaction to simvastatin'),
}
IMMUNISATIONS = {
    '38598009': T('38598009', 'Measles-mumps-rubella vaccination', '65004017', 'Measles-mumps-rubella vaccination', '65M1.00', 'Measles/mumps/rubella vaccn.'),
    '247631000000101': T('247631000000101', 'First pneumococcal conjugated vaccination', '405281000000118', 'First pneumococcal conjugated vaccination', '657L.00', 'First pneumococcal conjugated vaccination'),
    '247641000000105': T('247641000000105', 'Second pneumococcal conjugated vaccination', '405301000000117', 'Second pneumococcal conjugated vaccination', '657M.00', 'Second pneumococcal conjugated vaccination'),
    '314414007': T('314414007', 'Administration of first dose of meningitis C vaccine', '458773016', 'First meningitis C vaccination', '657E.00', 'First meningitis C vaccination'),
    '314415008': T('314415008', 'Administration of second dose of meningitis C vaccine', '458774010', 'Second meningitis C vaccination', '657F.00', 'Second meningitis C vaccination'),
    '414259000': T('414259000', 'Administration of first dose of diphtheria and Haemophilus influenza B and five component acellular pertussis and inactivated poliomyelitis and tetanus vaccine', '2533976011', 'First diphtheria tetanus and five component acellular pertussis, haemophilus influenzae type b, inactivated polio vaccination', '65a0.00', '1st dipht tet acell pertus, haem influ b, inactiv polio vacc'),
    '415507003': T('415507003', 'Administration of second dose of diphtheria and Haemophilus influenza B and five component acellular pertussis and inactivated poliomyelitis and tetanus vaccine', '2533977019', 'Second diphtheria tetanus and five component acellular pertussis, haemophilus influenzae type b, inactivated polio vaccination', '65a1.00', '2nd dipht tet acell pertus, haem influ b, inactiv polio vacc'),
    '415712004': T('415712004', 'Administration of third dose of diphtheria and Haemophilus influenza B and five component acellular pertussis and inactivated poliomyelitis and tetanus vaccine', '2534071010', 'Third diphtheria tetanus and five component acellular pertussis, haemophilus influenzae type b, inactivated polio vaccination', '65a2.00', '3rd dipht tet acell pertus, haem influ b, inactiv polio vacc'),
}
REFERRALS = {
    '183545006': T('183545006', 'Referral to orthopaedic service', '283646018', 'Orthopaedic referral', '8H54.00', 'Orthopaedic referral'),
    '183844002': T('183844002', 'Refer for vascular studies', '284048013', 'Refer for vascular studies', '8HR7.00', 'Refer for vascular studies'),
    '183481006': T('183481006', 'Non-urgent hospital admission', '283553018', 'Non-urgent hospital admission', '8H3..00', 'Non-urgent hospital admission'),
    '306098008': T('306098008', 'Self-referral', '448978012', 'Self-referral', '8Hh..00', 'Self-referral'),
}
DIARY = {
    '182836005': T('182836005', 'Review of medication', '282653015', 'Medication review', '8B31400', 'Medication review'),
    '88551000000109': T('88551000000109', 'Medication review with patient', '137851000000113', 'Medication review with patient', '8B3x.00', 'Medication review with patient'),
}
DOCUMENT_TYPES = {
    '25611000000107': T('25611000000107', 'Referral letter', '63301000000111', 'Referral letter', '9b0g.00', 'Referral letter'),
    '371532007': T('371532007', 'Progress report', '1210168013', 'Progress report', '9Ee0C00', 'Progress report'),
}
IMMUNISATIONS["86198006"] = T("86198006", "Administration of influenza vaccine", "142934010",
                              "Influenza vaccination", "65E..00", "Influenza vaccination")

# Consultation narrative (GP Connect: "Comment note") and the degrade codes of the medication and
# allergy guidance (original term in CodeableConcept.text).
COMMENT_NOTE = T("37331000000100", "Comment note", None, None, None, None)
DEGRADED_ENTRY = T("196411000000103", "Transfer-degraded record entry", None, None, None, None)
DEGRADED_MEDICATION = T("196421000000109", "Transfer-degraded medication entry", None, None, None, None)
DEGRADED_DRUG_ALLERGY = T("196461000000101", "Transfer-degraded drug allergy", None, None, None, None)

# Repeat medication for a long-term patient, and acute courses.
REPEATS = (
    Drug("318421004", "Atenolol 100mg tablets", "ATTA230", None, None, "One tablet once a day", "28", "tablet"),
    Drug("318906001", "Ramipril 10mg capsules", "RACA57NEMIS", None, None, "One capsule once a day", "28",
         "capsule"),
    Drug("320030001", "Atorvastatin 20mg tablets", None, "10688002", None, "One tablet at night", "28",
         "tablet"),
    Drug("319773006", "Aspirin 75mg dispersible tablets", "ASDI224", None, None,
         "One tablet once a day, dissolved in water", "28", "tablet"),
    Drug("330062008", "Allopurinol 300mg tablets", "ALTA78", None, None, "One tablet once a day after food",
         "28", "tablet"),
    Drug("317291008", "Omeprazole 20mg gastro-resistant capsules", "OMCA10940BRIDL", None, None,
         "One capsule once a day before breakfast", "28", "capsule"),
    Drug("39113611000001102", "Salbutamol 100micrograms/dose inhaler CFC free", "SACF26553EMIS", None, None,
         "Two puffs up to four times a day when required", "1", "inhaler"),
    Drug("320537007", "Beclometasone 100micrograms/dose inhaler", "BEIN17538NEMIS", None, None,
         "Two puffs twice a day", "1", "inhaler"),
    Drug("325242002", "Gliclazide 80mg tablets", "GLTA4960", "03716001", None, "One tablet twice a day", "56",
         "tablet"),
    Drug("317971007", "Furosemide 20mg tablets", "FUTA17675NEMIS", None, None, "One tablet each morning", "28",
         "tablet"),
    Drug("327438003", "Ferrous sulfate 200mg tablets", "FETA1173", None, "Ferrous sulphate 200mg tablets",
         "One tablet twice a day", "56", "tablet"),
    Drug("2940411000001108", "Beconase Aqueous 50micrograms/dose nasal spray (GlaxoSmithKline UK Ltd)",
         "BENAEGTON7181", None, "Beconase Aqueous 50micrograms/dose nasal spray (GlaxoSmithKline)",
         "Two sprays into each nostril once a day", "1", "spray"),
)
# Confidential repeat (mental health): sent only with sensitive information.
CONFIDENTIAL_REPEATS = (
    Drug("9751511000001104", "Sertraline 100mg tablets", None, "06157009", None, "One tablet once a day", "28",
         "tablet"),
    Drug("321989000", "Citalopram 10mg tablets", "CITA32611EMIS", None, None, "One tablet once a day", "28",
         "tablet"),
)
ACUTES = (
    Drug("324059006", "Doxycycline 100mg capsules", "DOCA17639NEMIS", None, None,
         "Two capsules on the first day then one capsule a day", "8", "capsule"),
    Drug("322366004", "Co-codamol 30mg/500mg capsules", "COCA27288EMIS", None, None,
         "One or two capsules up to four times a day when required", "100", "capsule"),
    Drug("330295009", "Chloramphenicol 1% eye ointment", "CHEY4714", None, None,
         "Apply to the affected eye three times a day", "4", "gram"),
    Drug("320818006", "Cetirizine 10mg tablets", "CETA8573EGTON", None, None, "One tablet once a day", "30",
         "tablet"),
    Drug("322280009", "Paracetamol 500mg capsules", "PACA35207EMIS", None, None,
         "Two capsules up to four times a day", "32", "capsule"),
    Drug("321177003", "Zopiclone 3.75mg tablets", "ZOTA29572EMIS", None, None, "One tablet at night", "7",
         "tablet"),
)

# SDS job roles (CareConnect-SDSJobRoleName-1, STU3-FHIR-Assets) of the clinicians in a record.
ROLES = {
    "gp": ("R0260", "General Medical Practitioner"),
    "registrar": ("R6200", "GP Registrar"),
    "nurse": ("R0600", "Specialist Nurse Practitioner"),
    "staff-nurse": ("R0620", "Staff Nurse"),
    "pharmacist": ("R1290", "Pharmacist"),
    "phlebotomist": ("R1590", "Phlebotomist"),
    "consultant": ("R0050", "Consultant"),
    "scientist": ("R1420", "Biomedical Scientist"),
}


# Look-ups by code (what a record style needs to render a coding with its translations).
TERMS = {t.concept: t for table in (PROBLEMS, FINDINGS, SENSITIVE_FINDINGS, MEASURES, LABS, ALLERGIES, IMMUNISATIONS,
                                    REFERRALS, DIARY, DOCUMENT_TYPES) for t in table.values()}
DRUGS = {d.dmd: d for d in (*REPEATS, *CONFIDENTIAL_REPEATS, *ACUTES)}


def code_text(term: T) -> str:
    """A term as a persona record writes a code: ``"<concept id>|<display>"``."""
    return f"{term.concept}|{term.display}"
