"""Who is registered where: the facts the national look-ups and the provider share (issue #26).

- ``practices``: the practices registry (``personas/practices.toml``, ``MOCKPROVIDER_PRACTICES``):
  which practices the mock serves (their roots, ASIDs, quirks), what SDS publishes for each, which
  consumer systems it knows;
- ``pds_facts``: what PDS holds for a persona (on PDS, invalidated, superseded; its registered GP)
  and the relationship rule that reads the same facts.

A package of its own because it is neither a persona nor control state: the registry is
configuration read once at start-up, describing practices, and the same answers reach three doors
(the provider, SDS, PDS). ``pds_facts`` sits beside it because its answers are registration
facts too (a persona's registered practice falls back to its home practice in the registry).

Imports: ``personas`` (only ``PersonaError``, for the mistakes a persona makes against the
registry), ``spec``, ``config``; never ``state``, ``process``, ``record``, ``fhir``, ``interactions``,
``http``, ``app``, ``cli`` or ``server``. The fault rules (``state.faults``) import this package for the
quirks a rule may add, never the reverse.
"""
