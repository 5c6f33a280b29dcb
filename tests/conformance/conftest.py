import pytest

from mockprovider.app import create_app
from tests.conformance import cast
from tests.conformance.profiles import Checker


@pytest.fixture(scope="session")
def checker():
    return Checker()


def _cast(tmp_path_factory, overrides):
    app = create_app({"state_dir": str(tmp_path_factory.mktemp("state")), **overrides})
    return cast.payloads(app.test_client(), app.extensions["mockprovider"].personas)


@pytest.fixture(scope="session")
def default_cast(tmp_path_factory):
    """Every payload with start-up defaults (the seed's readings)."""
    return _cast(tmp_path_factory, {})


@pytest.fixture(scope="session")
def profile_cast(tmp_path_factory):
    """Every payload with the compatibility settings that give the profiles' readings."""
    return _cast(tmp_path_factory, cast.PROFILE_READING)
