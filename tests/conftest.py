import pytest

from mockprovider.app import create_app


@pytest.fixture
def app(tmp_path):
    return create_app({"state_dir": str(tmp_path / "state")})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def control(app):
    return app.extensions["mockprovider"].control
