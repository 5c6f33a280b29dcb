"""Serialisation: one deterministic JSON form for every FHIR body.

Builders produce plain dicts whose key order is the order they are written in; this module turns
them into compact UTF-8 JSON. The same dict always gives the same bytes.
"""
from __future__ import annotations

import json
import threading

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def to_json_bytes(resource: dict) -> bytes:
    return _encoder.encode(resource).encode("utf-8")


def to_bytes(resource: dict, fmt: str = "json") -> bytes:
    """The resource in ``fmt`` (json | xml)."""
    if fmt == "xml":
        from .xml import to_xml_bytes
        return to_xml_bytes(resource)
    return to_json_bytes(resource)


class SplicedBody:
    """A Spliced body with its per-request value: what an interaction replies with, so that the
    HTTP layer picks plain or gzip pieces (both exact in length) without rebuilding anything."""

    __slots__ = ("spliced", "value")

    def __init__(self, spliced: "Spliced", value: str):
        self.spliced, self.value = spliced, value

    def pieces(self) -> tuple[tuple[bytes, ...], int]:
        return self.spliced.pieces(self.value)

    def gzip_pieces(self) -> tuple[tuple[bytes, ...], int]:
        return self.spliced.gzip_pieces(self.value)

    def render(self) -> bytes:
        return self.spliced.render(self.value)


_XML_TWINS: dict = {}
_XML_TWINS_MAX = 256


def in_format(json_body: bytes, fmt: str) -> bytes:
    """A cached JSON body (built once, the same bytes object every time) in ``fmt``: its XML twin
    is built on first use and remembered (bounded)."""
    if fmt != "xml":
        return json_body
    twin = _XML_TWINS.get(json_body)
    if twin is None:
        from .xml import to_xml_bytes
        twin = to_xml_bytes(json.loads(json_body))
        if len(_XML_TWINS) >= _XML_TWINS_MAX:
            _XML_TWINS.clear()
        _XML_TWINS[json_body] = twin
    return twin


TRACE_PLACEHOLDER = "00000000-trace-placeholder-0000000000"


class Spliced:
    """A body built once with a placeholder id, served many times with a per-request value.

    ``Bundle.id`` must equal the request's Ssp-TraceID (a UUID, already validated by the gate);
    everything else in the body is deterministic, so the bytes around it are built once.

    :meth:`render` gives the whole body as one bytes object. :meth:`pieces` gives the same bytes
    as a few pieces for the server to write one after another: for a large body (a 3 MB record)
    that spares a copy of every byte on every request; the value travels joined with up to
    :data:`EDGE` bytes either side, so no piece is tiny.
    """

    __slots__ = ("_head", "_head_edge", "_tail_edge", "_tail", "_xml", "_placeholder", "_gzip")

    EDGE = 8192                 # bytes joined either side of the value
    PIECES_FROM = 256 * 1024    # smaller bodies are joined: one write is cheaper than the copy

    def __init__(self, body: bytes, placeholder: str = TRACE_PLACEHOLDER):
        self._xml = self._gzip = None
        self._placeholder = placeholder
        # The value sits between double quotes in both forms: "id":"<value>" and <id value="<value>"/>
        marker = json.dumps(placeholder).encode()
        head, found, tail = body.partition(marker)
        if not found:
            raise ValueError("placeholder not found in body")
        if marker in tail:
            raise ValueError("placeholder occurs more than once in body")
        cut = max(0, len(head) - self.EDGE)
        self._head, self._head_edge = head[:cut], head[cut:]
        self._tail_edge, self._tail = tail[:self.EDGE], tail[self.EDGE:]

    @property
    def head(self) -> bytes:
        return self._head + self._head_edge

    @property
    def tail(self) -> bytes:
        return self._tail_edge + self._tail

    def render(self, value: str) -> bytes:
        return b"".join((self._head, self._head_edge, json.dumps(value).encode(), self._tail_edge, self._tail))

    def pieces(self, value: str) -> tuple[tuple[bytes, ...], int]:
        """(the body as pieces, its length): the same bytes as ``render(value)``."""
        middle = b"".join((self._head_edge, json.dumps(value).encode(), self._tail_edge))
        length = len(self._head) + len(middle) + len(self._tail)
        if length < self.PIECES_FROM:
            return (b"".join((self._head, middle, self._tail)),), length
        return tuple(p for p in (self._head, middle, self._tail) if p), length

    _xml_lock = threading.Lock()

    def gzip_pieces(self, value: str) -> tuple[tuple[bytes, ...], int]:
        """(the gzip of ``render(value)`` as pieces, its length): everything but the value is
        compressed once, on first use (mockprovider.fhir.compress.SplicedGzip)."""
        packed = self._gzip
        if packed is None:
            with self._xml_lock:
                packed = self._gzip
                if packed is None:
                    from .compress import SplicedGzip
                    packed = self._gzip = SplicedGzip(self.head, self.tail)
        return packed.pieces(json.dumps(value).encode())

    def as_format(self, fmt: str) -> "Spliced":
        """This body in ``fmt``: itself for JSON; for XML its twin, built on first use and kept."""
        if fmt != "xml":
            return self
        twin = self._xml
        if twin is None:
            with self._xml_lock:
                twin = self._xml
                if twin is None:
                    from .xml import to_xml_bytes
                    twin = Spliced(to_xml_bytes(json.loads(self.render(self._placeholder))), self._placeholder)
                    self._xml = twin
        return twin

    def __len__(self):
        return len(self._head) + len(self._head_edge) + len(self._tail_edge) + len(self._tail)
