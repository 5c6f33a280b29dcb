"""Running the app under gunicorn, in-process (the app is built once, before the workers fork)."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        return self.application


def gunicorn_options(settings) -> dict:
    options = {
        "bind": f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "sync",
        "preload_app": True,
        "timeout": 120,          # a 250 MB document streams for a while on a slow client
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 16384,
        # gunicorn >= 25.1 opens a control socket under $HOME/.gunicorn by default; the mock has its
        # own control API, servers side by side would share that path, and the image's user has no
        # home. Older gunicorn has no such setting and load_config skips it.
        "control_socket_disable": True,
    }
    if settings.tls_certfile:
        options.update(certfile=settings.tls_certfile, keyfile=settings.tls_keyfile or None)
        if settings.tls_ca_certs:
            import ssl
            options.update(ca_certs=settings.tls_ca_certs, cert_reqs=ssl.CERT_REQUIRED)
    return options


def run_gunicorn(app, settings) -> None:
    _Gunicorn(app, gunicorn_options(settings)).run()
