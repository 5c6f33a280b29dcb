"""Control state: what ``/_control`` changes while the mock runs, shared by every worker and replica.

=================  ===================================================================
module             holds
=================  ===================================================================
control            the :class:`ControlStore` interface (flags, fault rules, the run-time persona
                   layer as JSON text, the journal) and its SQLite backend, the default
control_redis      the Redis backend (``MOCKPROVIDER_STATE_URL=redis://...``): replicas as one
journal_file       the SQLite backend's request journal: JSON lines appended to one file
change_counter     8 bytes of shared memory every writer bumps, so readers re-read only on change
faults             fault rules: the closed list of kinds, a rule's checks, which rules a request gets
=================  ===================================================================

The store keeps run-time personas as text and never parses them: turning that text into personas
is the persona code's work (``personas.layer`` reads the store through the object it is given).
So ``state`` and ``personas`` never import each other.

Imports: ``registry`` (the SDS quirks a ``quirk`` fault rule may add), ``errors``, ``config``;
never ``personas``, ``process``, ``record``, ``fhir``, ``interactions``, ``http``, ``app``, ``cli``
or ``server``, and never Flask. ``redis`` is imported only when the Redis backend is chosen.
"""
