"""Turning Replies and SpineErrors into Flask responses: FHIR headers on every one."""
from __future__ import annotations

from flask import Response

from .. import spec
from ..errors import SpineError
from ..fhir.outcome import operation_outcome
from ..fhir.render import to_bytes

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


def error_response(error: SpineError, display_mode: str = "codesystem", fmt: str = "json") -> Response:
    return fhir_response(to_bytes(operation_outcome(error, display_mode), fmt), status=error.status, fmt=fmt)
