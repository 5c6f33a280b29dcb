"""Transport security headers, added in one place to every response.

HSTS: the spec asks providers to "use HSTS on TLS" (documents.md, transport rules). Every response
served over HTTPS -- FHIR, control API and errors alike -- carries ``Strict-Transport-Security``;
plain-HTTP responses never do (browsers ignore it there, and it would mislead).
"""
from __future__ import annotations

from flask import request

HSTS = "max-age=31536000"   # one year


def _hsts(response):
    if request.scheme == "https":
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app) -> None:
    app.after_request(_hsts)
