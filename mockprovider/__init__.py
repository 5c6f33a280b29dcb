"""mockprovider: a mock NHS GP Connect provider (FHIR STU3).

Public surface: :func:`mockprovider.app.create_app` and the ``mockprovider`` click CLI.

Imports point one way (tests/unit/test_layers.py checks it, and that no module imports another
in a circle): ``http`` -> ``interactions`` -> ``fhir`` -> ``record`` -> ``personas`` -> ``process``
-> ``spec``, ``errors``, ``config``. Beside ``personas``, below ``fhir``: ``state`` (control state)
and ``registry`` (practices, PDS facts), one way: ``state`` -> ``registry`` -> ``personas``;
``personas`` never imports either. The top-level modules that start or drive the mock (``app``, ``cli``,
``server``, ``preflight``, ``example``, ``control_client``, ``pytest_plugin``) sit above them.
"""

__version__ = "0.1.0"

# Wire the record section's checks (mockprovider.record, one clinical area a module) into the
# persona loader (mockprovider.personas), so every entry point validates a record the same way.
from . import record  # noqa: E402,F401

# ``python -m mockprovider.personas.documents SIZE SEED`` (the sha256 of a generated document) runs a
# module this package has already imported (the persona loader needs it): runpy's warning about
# that says nothing useful to the person who asked for a checksum.
import warnings as _warnings  # noqa: E402
_warnings.filterwarnings("ignore", category=RuntimeWarning,
                         message=r"'mockprovider\.personas\.documents' found in sys\.modules")
