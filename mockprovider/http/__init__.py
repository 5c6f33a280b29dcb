"""The HTTP layer: the only package (with app.py) that imports Flask.

Imports: ``interactions``, ``fhir``, ``record``, ``personas``, ``state``, ``registry``, ``process``,
``spec``, ``errors``, ``config`` and Flask; never ``cli`` or ``server``.
"""
