"""Persona -> FHIR STU3 resources and Bundles, OperationOutcomes, serialisation. No Flask.

Imports: ``record``, ``domain``, ``spec``, ``errors``, ``config``; never ``interactions``, ``http``,
``app``, ``cli`` or ``server``.
"""
