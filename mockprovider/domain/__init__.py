"""Domain state with no HTTP in it: personas, ids, control state (flags, faults, journal)."""

# Persona section validators register themselves in personas.SECTION_VALIDATORS on import.
from . import persona_record  # noqa: E402,F401  (address, telecom, usual_gp, registration, record)
from . import documents  # noqa: E402,F401  (documents; builds the document-id index at load)
