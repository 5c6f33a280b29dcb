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


# --- a real Redis, for the shared-state backend (MOCKPROVIDER_STATE_URL) --------------------------
@pytest.fixture(scope="session")
def redis_server():
    from tests.redis_server import RedisServer
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied before the test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture(params=["sqlite", "redis"])
def store_app(request, tmp_path):
    """``store_app(**overrides)``: an app on each control-state backend in turn (tests that must
    behave the same on SQLite and on Redis use it)."""
    made = []

    def make(**overrides):
        if request.param == "redis":
            overrides.setdefault("state_url", request.getfixturevalue("redis_url"))
        else:
            overrides.setdefault("state_dir", str(tmp_path / f"state{len(made)}"))
        app = create_app(overrides)
        made.append(app)
        return app
    yield make
    for app in made:
        close = getattr(app.extensions["mockprovider"].control, "close", None)
        if close:
            close()
