"""create_app(): settings -> persona store -> control state -> HTTP layer.

The only way to make an app; ``mockprovider serve`` (gunicorn) and the tests call it too.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import threading
from dataclasses import dataclass, field

from flask import Flask

from .config import BUILT_IN_PERSONAS, Settings
from .personas.layer import LayeredCast
from .personas.store import PersonaStore
from .process.memory import give_back_memory, map_large_blocks
from .registry import practices as practice_registry
from .state.control import ControlStore, SqliteControlStore


@dataclass
class Runtime:
    """Everything a request may need, hung off ``app.extensions["mockprovider"]``."""
    settings: Settings
    personas: PersonaStore
    control: ControlStore
    handled: frozenset = frozenset()
    caches: dict = field(default_factory=dict)   # build once, serve many: name -> cache object
    cast: LayeredCast | None = None     # folder + run-time layer; ``personas`` is its current store
    practices: practice_registry.Registry | None = None   # the practices registry (registry.practices)
    # The layer version ``personas`` reflects: published only after ``personas`` and ``caches`` are
    # swapped, so a thread that sees it current never reads the old cast (gthread workers).
    personas_version: int = 0
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sync_personas(self, version: int | None = None) -> None:
        """Bring ``personas`` up to the control store's persona layer (one int compare when
        unchanged; versions only grow). A changed cast gets fresh response caches: they are keyed
        by persona. Other threads of this worker wait here until the swap is complete."""
        cast = self.cast
        if cast is None:
            return
        if version is None:
            version = self.control.current().personas_version
        if version <= self.personas_version:
            return
        with self._sync_lock:
            if version <= self.personas_version:
                return
            if cast.sync(version):
                # a new dict, not clear(): a request still on the old cast writes into the old one
                self.caches = {}
                self.personas = cast.store
                changed = True
            else:
                changed = False
            self.personas_version = max(version, cast.version)
        if changed:
            give_back_memory()



def create_app(overrides: dict | None = None, environ=None) -> Flask:
    settings = Settings.from_env(environ, **(overrides or {}))
    registry = practice_registry.load(settings)           # RegistryError: one line naming file and key
    # The settings read the default practice (a changed MOCKPROVIDER_ODS_CODE / _PROVIDER_ASID renamed it).
    settings = settings.with_changes(ods_code=registry.default.ods, provider_asid=registry.default.asid)
    map_large_blocks()          # large personas and Bundles come and go without fragmenting the heap
    personas = PersonaStore.load(settings.personas)
    mistakes = practice_registry.check_store(registry, personas)
    if mistakes:
        raise mistakes[0]                                  # a PersonaError: file, JSON path, reason
    control = open_store(settings)

    from .http import console, control_api, control_details, control_lookups, fhir_views, routes, \
        security   # Flask: HTTP layer only
    routes.check_registry(registry)

    app = Flask("mockprovider")
    app.url_map.merge_slashes = False     # keep the Spine-proxy form /https://host/... intact
    app.url_map.strict_slashes = False
    builtin = os.path.realpath(settings.personas) == os.path.realpath(BUILT_IN_PERSONAS)
    runtime = app.extensions["mockprovider"] = Runtime(settings, personas, control,
                                                       handled=frozenset(fhir_views.HANDLERS),
                                                       cast=LayeredCast(personas, control, builtin),
                                                       practices=registry)
    app.register_blueprint(control_api.bp)
    app.register_blueprint(control_details.bp)
    app.register_blueprint(control_lookups.bp)
    app.register_blueprint(console.bp)
    security.init_app(app)
    fhir_views.init_app(app, runtime, settings)     # FHIR paths: plain WSGI before Flask
    warn_if_unprotected(settings)
    return app


def open_store(settings: Settings) -> ControlStore:
    """The control-state backend the settings name: Redis when ``state_url`` is set, else SQLite."""
    if settings.state_url:
        from .state.control_redis import RedisControlStore
        return RedisControlStore(settings.runtime_defaults(), settings.state_url, settings.journal_size,
                                 replica=settings.replica, state_dir=settings.state_dir)
    return SqliteControlStore(settings.runtime_defaults(), settings.state_dir, settings.journal_size,
                              replica=settings.replica)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False      # a host name or 0.0.0.0 / :: : reachable from elsewhere


def warn_if_unprotected(settings: Settings) -> bool:
    """Log a clear warning when the control API is reachable beyond this machine without a token."""
    if settings.control_token or is_loopback(settings.host):
        return False
    logging.getLogger("mockprovider").warning(
        "WARNING: the control API (/_control/*) on %s:%s has no token: anyone who can reach this "
        "port can change flags, inject faults and read the request journal. "
        "Set MOCKPROVIDER_CONTROL_TOKEN to require 'Authorization: Bearer <token>'.",
        settings.host, settings.port)
    return True
