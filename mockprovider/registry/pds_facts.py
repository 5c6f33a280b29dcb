"""What PDS holds for a persona, and the relationship rule that reads the same facts.

One place for the questions the PDS mock (mockprovider.interactions.pds) and the provider's
relationship checks (migrate structured, migrate a document) both ask, so the journey agrees with
itself:

- :func:`record_state`: is the patient on PDS, invalidated, superseded by another record?
- :func:`general_practitioner`: the practice PDS shows as registered GP: the persona's
  ``pds.registered_practice_ods``; else ``MOCKPROVIDER_CONSUMER_ODS`` when set; else its home practice
  (the registry's); none when ``pds.no_current_gp`` is set;
- :func:`expected_requesting_ods`: the practice a requester must be for NO_RELATIONSHIP not to apply:
  the first two of the above only (a persona with neither accepts any requesting practice, as the mock
  always has; its PDS record then shows its home practice, where a direct-care consumer finds it).

Dissent and the provider's local NHS-number status are not PDS facts: they never show on PDS.
"""
from __future__ import annotations

PRESENT, ABSENT, INVALIDATED, SUPERSEDED = "present", "absent", "invalidated", "superseded"


def record_state(persona, data: dict | None = None) -> str:
    """``data``: the persona's demographics when the caller has them already (saves a parse)."""
    pds = (data if data is not None else persona.demographics).get("pds") or {}
    if pds.get("on_pds") is False:
        return ABSENT
    if pds.get("invalidated"):
        return INVALIDATED
    if pds.get("superseded_by"):
        return SUPERSEDED
    return PRESENT


def expected_requesting_ods(persona, settings) -> str | None:
    """The practice a requester must be: the persona's PDS registered practice, else the
    consumer_ods setting, else None (any requesting practice counts)."""
    return persona.registered_practice_ods or settings.consumer_ods or None


def general_practitioner(persona, registry, settings, data: dict | None = None) -> str | None:
    """The ODS code PDS shows in ``generalPractitioner`` (None: no current GP)."""
    if ((data if data is not None else persona.demographics).get("pds") or {}).get("no_current_gp"):
        return None
    return expected_requesting_ods(persona, settings) or registry.home_of(persona).ods
