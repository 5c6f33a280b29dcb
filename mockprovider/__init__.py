"""mockprovider: a mock NHS GP Connect provider (FHIR STU3).

Public surface: :func:`mockprovider.app.create_app` and the ``mockprovider`` click CLI.
"""

__version__ = "0.1.0"
