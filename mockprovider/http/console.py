"""The web console: ``GET /_console``, a page over the public control API only.

Static files inside the package (``mockprovider/console/static/``: one HTML page, one stylesheet,
the scripts in ``ASSETS``: ``console-kit.js`` with the helpers the others share, loaded first, then
the views' scripts), no build step, nothing fetched from elsewhere (the Content-Security-Policy
allows this origin only). Everything the page does it does with ``/_control/*`` calls a script
could make with curl; this module only serves the files (each with its content type, from
``ASSETS``: a file not listed there is a 404).

When ``MOCKPROVIDER_CONTROL_TOKEN`` is set the page needs the token too: as the password of HTTP
Basic authentication (the browser asks; any user name) or as ``Authorization: Bearer <token>``.
The page then carries the token in a ``<meta>`` element for its own control calls, which are sent
as ``Authorization: Bearer`` (the control API never accepts cookies or Basic credentials, so
another site cannot make a browser act on it). Every console response is ``no-store`` and may not
be framed.
"""
from __future__ import annotations

import base64
import hmac
import html
from pathlib import Path

from flask import Blueprint, Response, current_app, request

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
ASSETS = {"console-kit.js": "text/javascript; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8",
          "lookups.js": "text/javascript; charset=utf-8",
          "retrieve-query.js": "text/javascript; charset=utf-8"}
TOKEN_META = '<meta name="mockprovider-control-token" content="">'

bp = Blueprint("console", __name__, url_prefix="/_console")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _token() -> str:
    return current_app.extensions["mockprovider"].settings.control_token


def _sent_token() -> str | None:
    """The token the request carries (Bearer, or the password of Basic), or None."""
    sent = request.headers.get("Authorization", "")
    scheme, _, value = sent.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None
    return None


@bp.before_request
def _authorise():
    token = _token()
    if not token:
        return None
    sent = _sent_token()
    if sent is not None and hmac.compare_digest(sent.encode(), token.encode()):
        return None
    response = Response("The console needs the control token: sign in with any user name and the token "
                        "(MOCKPROVIDER_CONTROL_TOKEN) as the password.\n", status=401,
                        content_type="text/plain; charset=utf-8")
    response.headers["WWW-Authenticate"] = 'Basic realm="mockprovider console", charset="UTF-8"'
    return response


@bp.after_request
def _headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


@bp.get("")
@bp.get("/")
def page():
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    token = _token()
    if token:
        text = text.replace(TOKEN_META, f'<meta name="mockprovider-control-token" content="{html.escape(token)}">', 1)
    return Response(text, content_type="text/html; charset=utf-8")


@bp.get("/<name>")
def asset(name):
    if name not in ASSETS:
        return Response("no such console file\n", status=404, content_type="text/plain; charset=utf-8")
    return Response((STATIC / name).read_bytes(), content_type=ASSETS[name])
