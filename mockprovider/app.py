"""create_app(): settings -> persona store -> control state -> HTTP layer.

The only way to make an app; ``mockprovider serve`` (gunicorn) and the tests call it too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Flask

from .config import Settings
from .domain.control import SqliteControlStore
from .domain.personas import PersonaStore


@dataclass
class Runtime:
    """Everything a request may need, hung off ``app.extensions["mockprovider"]``."""
    settings: Settings
    personas: PersonaStore
    control: SqliteControlStore
    handled: frozenset = frozenset()
    caches: dict = field(default_factory=dict)   # build once, serve many: name -> cache object


def create_app(overrides: dict | None = None, environ=None) -> Flask:
    settings = Settings.from_env(environ, **(overrides or {}))
    personas = PersonaStore.load(settings.personas)
    control = SqliteControlStore(settings.runtime_defaults(), settings.state_dir, settings.journal_size)

    from .http import control_api, fhir_views   # Flask lives only in the HTTP layer

    app = Flask("mockprovider")
    app.url_map.merge_slashes = False     # keep the Spine-proxy form /https://host/... intact
    app.url_map.strict_slashes = False
    app.extensions["mockprovider"] = Runtime(settings, personas, control,
                                             handled=frozenset(fhir_views.HANDLERS))
    app.register_blueprint(control_api.bp)
    app.register_blueprint(fhir_views.bp)
    if settings.control_token == "" and settings.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("mockprovider").warning(
            "the control API on %s:%s has no token: anyone who can reach it can change the mock; "
            "set MOCKPROVIDER_CONTROL_TOKEN", settings.host, settings.port)
    return app
