"""Personas: the patients the mock serves, from the file on disk to the cast a request sees.

=================  ===================================================================
module             holds
=================  ===================================================================
format             the format's shared parts: patterns, PersonaError, the Checker, tags
schema             ``personas/schema.json`` checked with ``jsonschema`` (every mistake)
contract           the persona contract: the rules a schema cannot express, every mistake
persona            one persona file: parse, validate, the :class:`Persona` it becomes
admin              the administrative sections' validators (address, telecom, usual_gp, ...)
documents          the ``documents`` section, the document-id index, generated content
fhir_record        the ``fhir_record`` and ``supplier_record`` sections
store              :class:`PersonaStore`: a folder loaded and indexed by NHS number
pool               loading a large folder on every CPU
layer              the cast a request sees: the folder with the run-time layer on top
cast               ``cast.toml``: what each persona exercises, the clinical variants
generate           ``mockprovider personas generate``: Faker people, a plausible record
supplier_records   EMIS- and TPP-shaped records made from a seed
clinical_codes     the SNOMED CT and dm+d table generated personas draw from
terminology        the supplier records' terminology (description ids, Read v2, drug codes)
bundle_import      ``mockprovider personas import``: a structured Bundle as a persona
ids                deterministic resource ids
nhs_number         NHS numbers: format and Modulus 11 check digit
=================  ===================================================================

The record section's fields, checks and builders live beside their FHIR in ``mockprovider.record``,
one clinical area a module; they register their checks here (``format.SECTION_VALIDATORS``,
``contract.RECORD_RULES``) when ``mockprovider`` is imported.

Imports: ``process`` (the forked-child step for a large run-time persona), ``spec``, ``errors``,
``config``; never ``state`` (the run-time layer reads the control store through the object it is
given), ``registry``, ``record``, ``fhir``, ``interactions``, ``http``, ``app``, ``cli`` or
``server``, and never Flask.
"""

# Persona section validators register themselves in format.SECTION_VALIDATORS on import
# (the record section's: mockprovider.record, wired in by mockprovider/__init__.py).
from . import admin  # noqa: E402,F401  (address, telecom, usual_gp, registration)
from . import documents  # noqa: E402,F401  (documents; builds the document-id index at load)
from . import fhir_record  # noqa: E402,F401  (fhir_record, supplier_record: FHIR as a supplier sends it)
from . import contract  # noqa: E402,F401  (the rules across fields, in format.PERSONA_CHECKS)
