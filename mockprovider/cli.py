"""The ``mockprovider`` command: serve, and (added by later modules) personas, render, control."""
from __future__ import annotations

import os
import sys

import click

from .config import Settings, SettingsError


@click.group()
@click.version_option(package_name="mockprovider")
def cli():
    """A mock GP Connect provider (FHIR STU3) for consumer development and CI."""


@cli.command()
@click.option("--host", envvar="MOCKPROVIDER_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="MOCKPROVIDER_PORT", default=8080, type=int, show_default=True)
@click.option("--workers", envvar="MOCKPROVIDER_WORKERS", default=2, type=int, show_default=True)
@click.option("--personas", envvar="MOCKPROVIDER_PERSONAS", default=None,
              help="folder of persona JSON files [default: the built-in cast]")
@click.option("--certfile", envvar="MOCKPROVIDER_TLS_CERTFILE", default=None, help="TLS certificate (PEM)")
@click.option("--keyfile", envvar="MOCKPROVIDER_TLS_KEYFILE", default=None, help="TLS private key (PEM)")
@click.option("--ca-certs", envvar="MOCKPROVIDER_TLS_CA_CERTS", default=None,
              help="CA bundle; requires a client certificate (mutual TLS)")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn")
def serve(host, port, workers, personas, certfile, keyfile, ca_certs, dev):
    """Run the mock under gunicorn (or Flask's dev server with --dev)."""
    overrides = dict(host=host, port=port, workers=workers, personas=personas,
                     tls_certfile=certfile, tls_keyfile=keyfile, tls_ca_certs=ca_certs)
    try:
        from .app import create_app
        from .domain.personas import PersonaError
        try:
            app = create_app(overrides)
        except PersonaError as exc:
            raise click.ClickException(f"persona error: {exc}")
    except SettingsError as exc:
        raise click.ClickException(str(exc))
    settings = app.extensions["mockprovider"].settings
    if dev:
        ssl_context = (settings.tls_certfile, settings.tls_keyfile) if settings.tls_certfile else None
        app.run(host=settings.host, port=settings.port, threaded=True, ssl_context=ssl_context)
        return
    from .server import run_gunicorn
    run_gunicorn(app, settings)


def main():  # pragma: no cover - console entry point convenience
    sys.exit(cli())
