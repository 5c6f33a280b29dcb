"""Domain state with no HTTP in it: personas, ids, control state (flags, faults, journal).

Imports: ``spec``, ``errors``, ``config``; never ``record``, ``fhir``,
``interactions``, ``http``, ``app``, ``cli`` or ``server``, and never Flask.
"""

# Persona section validators register themselves in persona_format.SECTION_VALIDATORS on import
# (the record section's: mockprovider.record, wired in by mockprovider/__init__.py).
from . import persona_admin  # noqa: E402,F401  (address, telecom, usual_gp, registration)
from . import documents  # noqa: E402,F401  (documents; builds the document-id index at load)
from . import fhir_record  # noqa: E402,F401  (fhir_record, supplier_record: FHIR as a supplier sends it)
from . import persona_contract  # noqa: E402,F401  (the rules across fields, in persona_format.PERSONA_CHECKS)
