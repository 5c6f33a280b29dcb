"""FHIR answers: :class:`Answer`, a plain WSGI response, with the FHIR headers on every one.

An Answer is a status, a header list and a body (bytes, or an iterable of bytes with a known or
unknown length). It is its own WSGI application, so the FHIR front (``fhir_views``) sends it
without building a framework response object; a Flask view may return one too (Flask calls it).
"""
from __future__ import annotations

from functools import lru_cache

from werkzeug.http import HTTP_STATUS_CODES

from .. import spec
from ..errors import SpineError
from ..fhir.outcome import operation_outcome
from ..fhir import compress
from ..fhir.render import SplicedBody, to_bytes

# The status line as werkzeug writes it ("400 BAD REQUEST"), so nothing a client sees changes.
_STATUS_LINES: dict = {}
_NO_BODY = frozenset({204, 304})


def status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    return line


class Answer:
    """One FHIR answer. ``body`` is bytes or an iterable of bytes; ``length`` is the exact
    ``Content-Length`` of an iterable body when known (bytes give their own)."""

    __slots__ = ("status", "headers", "body", "length")

    def __init__(self, status: int, headers: list, body, length: int | None = None):
        self.status, self.headers, self.body, self.length = status, headers, body, length

    # werkzeug-style names, for the fault injector and tests
    @property
    def status_code(self) -> int:
        return self.status

    @property
    def content_length(self) -> int | None:
        return len(self.body) if isinstance(self.body, bytes) else self.length

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        """Replace every header of that name (any case) by one, at the end."""
        lower = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lower]
        self.headers.append((name, value))

    def chunks(self):
        """(total length or None, iterator of the body's bytes), never reading a stream into memory."""
        if isinstance(self.body, bytes):
            return len(self.body), iter((self.body,))
        return self.length, iter(self.body)

    def __call__(self, environ, start_response):
        body, headers = self.body, self.headers
        length = len(body) if isinstance(body, bytes) else self.length
        if length is not None:
            headers = headers + [("Content-Length", str(length))]
        start_response(status_line(self.status), headers)
        if environ.get("REQUEST_METHOD") == "HEAD" or self.status < 200 or self.status in _NO_BODY:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return []
        return (body,) if isinstance(body, bytes) else body


def fhir_response(body, status=200, headers=None, content_length=None, fmt="json") -> Answer:
    """Content-Type (the negotiated FHIR format) and Cache-Control, then the reply's own headers
    (replacing any of the same name), in that order."""
    out = [("Content-Type", spec.CONTENT_TYPES[fmt]), ("Cache-Control", "no-store")]
    answer = Answer(status, out, body, None if isinstance(body, (bytes, str)) else content_length)
    if isinstance(body, str):
        answer.body = body.encode("utf-8")
    if headers:
        for name, value in headers.items():
            answer.set_header(name, value)
    if content_length is not None and not isinstance(answer.body, bytes):
        answer.length = content_length
    return answer


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


def reply_response(body, status=200, headers=None, content_length=None, fmt="json", gzip_ok=False) -> Answer:
    """An interaction's reply as an answer: gzip when the request accepts it and the body is over
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
    answer = fhir_response(body, status, headers, content_length, fmt)
    answer.headers.append(("Vary", "Accept-Encoding"))
    if encoded:
        answer.headers.append(("Content-Encoding", "gzip"))
    return answer


@lru_cache(maxsize=512)
def _outcome_bytes(code: str, diagnostics, display_mode: str, fmt: str) -> bytes:
    """An OperationOutcome's bytes depend on nothing but these (no clock, no ids): the same
    refusal repeated (a client retrying, a load test) is rendered once."""
    return to_bytes(operation_outcome(SpineError(code, diagnostics), display_mode), fmt)


def error_response(error: SpineError, display_mode: str = "codesystem", fmt: str = "json") -> Answer:
    try:
        body = _outcome_bytes(error.code, error.diagnostics, display_mode, fmt)
    except TypeError:            # an unhashable diagnostics value: render it directly
        body = to_bytes(operation_outcome(error, display_mode), fmt)
    return fhir_response(body, status=error.status, fmt=fmt)
