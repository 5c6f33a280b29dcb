"""Turning Replies and SpineErrors into Flask responses: FHIR headers on every one."""
from __future__ import annotations

from flask import Response

from .. import spec
from ..errors import SpineError
from ..fhir.outcome import operation_outcome
from ..fhir import compress
from ..fhir.render import SplicedBody, to_bytes

FHIR_HEADERS = {"Content-Type": spec.FHIR_JSON_UTF8, "Cache-Control": "no-store"}


def fhir_response(body, status=200, headers=None, content_length=None, fmt="json") -> Response:
    # Content type given to the constructor (werkzeug otherwise probes its headers for one, which
    # raises and catches a KeyError on every response); the same headers, in the same order.
    response = Response(body, status=status, content_type=spec.CONTENT_TYPES[fmt],
                        direct_passthrough=not isinstance(body, (bytes, str)))
    response.headers.add("Cache-Control", "no-store")
    if headers:
        response.headers.update(headers)
    if content_length is not None:
        response.headers["Content-Length"] = str(content_length)
    return response


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, with q > 0)."""
    if not accept_encoding or "gzip" not in accept_encoding and "*" not in accept_encoding:
        return False
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if name in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    if float(q[2:]) <= 0:
                        continue
                except ValueError:
                    continue
            return True
    return False


_GZIPPED: dict = {}
_GZIPPED_MAX = 256


def _gzip_cached(body: bytes) -> bytes:
    """A body built once (the same bytes every time, e.g. a CapabilityStatement) gzipped once."""
    packed = _GZIPPED.get(body)
    if packed is None:
        packed = compress.gzip_bytes(body)
        if len(_GZIPPED) >= _GZIPPED_MAX:
            _GZIPPED.clear()
        _GZIPPED[body] = packed
    return packed


def reply_response(body, status=200, headers=None, content_length=None, fmt="json", gzip_ok=False) -> Response:
    """An interaction's reply as a response: gzip when the request accepts it and the body is over
    :data:`~mockprovider.fhir.compress.THRESHOLD` bytes (``Content-Encoding: gzip``), with an exact
    ``Content-Length`` whenever the length is known (a gzipped stream has none: chunked)."""
    encoded = False
    if isinstance(body, SplicedBody):
        if gzip_ok and len(body.spliced) >= compress.THRESHOLD:
            body, content_length = body.gzip_pieces()
            encoded = True
        else:
            body, content_length = body.pieces()
    elif isinstance(body, bytes):
        if gzip_ok and len(body) >= compress.THRESHOLD:
            body, encoded = _gzip_cached(body), True
        content_length = None
    elif gzip_ok and (content_length is None or content_length >= compress.THRESHOLD):
        body, content_length, encoded = compress.gzip_stream(body), None, True
    response = fhir_response(body, status, headers, content_length, fmt)
    response.headers["Vary"] = "Accept-Encoding"
    if encoded:
        response.headers["Content-Encoding"] = "gzip"
    return response


def error_response(error: SpineError, display_mode: str = "codesystem", fmt: str = "json") -> Response:
    return fhir_response(to_bytes(operation_outcome(error, display_mode), fmt), status=error.status, fmt=fmt)
