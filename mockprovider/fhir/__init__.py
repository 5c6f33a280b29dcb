"""Persona -> FHIR STU3 resources and Bundles, OperationOutcomes, serialisation. No Flask.

Imports: ``record``, ``personas``, ``registry``, ``spec``, ``errors``, ``config``; never ``state`` (a
builder gets what it needs passed in), ``interactions``, ``http``, ``app``, ``cli`` or ``server``.
"""
