"""Checks ``mockprovider serve`` makes before it starts, so a bad start-up option is one line.

Each raises :class:`Refused` with a sentence naming the option and what is wrong; the CLI prints it
as ``Error: ...`` and exits 1. No Flask here.
"""
from __future__ import annotations

import os
import socket
import ssl


class Refused(ValueError):
    """A start-up option the server cannot start with."""


def check_tls(settings) -> None:
    """Missing, unreadable or mismatched TLS files; a key or CA bundle without a certificate."""
    named = (("--certfile / MOCKPROVIDER_TLS_CERTFILE", settings.tls_certfile),
             ("--keyfile / MOCKPROVIDER_TLS_KEYFILE", settings.tls_keyfile),
             ("--ca-certs / MOCKPROVIDER_TLS_CA_CERTS", settings.tls_ca_certs))
    for option, path in named:
        if path and not os.path.isfile(path):
            raise Refused(f"{option}: {path} does not exist or is not a file")
        if path and not os.access(path, os.R_OK):
            raise Refused(f"{option}: {path} cannot be read")
    if (settings.tls_keyfile or settings.tls_ca_certs) and not settings.tls_certfile:
        raise Refused("TLS needs a certificate: give --certfile (MOCKPROVIDER_TLS_CERTFILE) as well")
    if not settings.tls_certfile:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile or None)
    except (ssl.SSLError, OSError) as exc:
        raise Refused(f"TLS certificate {settings.tls_certfile} and key {settings.tls_keyfile or '(in the same file)'} "
                      f"cannot be used: {_reason(exc)}") from None
    if settings.tls_ca_certs:
        try:
            context.load_verify_locations(settings.tls_ca_certs)
        except (ssl.SSLError, OSError) as exc:
            raise Refused(f"TLS CA bundle {settings.tls_ca_certs} cannot be used: {_reason(exc)}") from None


def _reason(exc) -> str:
    return " ".join(str(getattr(exc, "reason", None) or exc).split())


def check_personas_folder(settings) -> None:
    folder = settings.personas
    if not os.path.isdir(folder):
        raise Refused(f"personas folder {folder} does not exist (--personas / MOCKPROVIDER_PERSONAS)")


def check_port(settings) -> None:
    """The address must be free now (gunicorn would otherwise retry for several seconds, then fail)."""
    host = settings.host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise Refused(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):        # EADDRINUSE on Linux, macOS, Windows
                raise Refused(f"port {settings.port} on {settings.host} is already in use; "
                              "choose another with --port (MOCKPROVIDER_PORT)") from None
            raise Refused(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
