"""Serialisation: one deterministic JSON form for every FHIR body.

Builders produce plain dicts whose key order is the order they are written in; this module turns
them into compact UTF-8 JSON. The same dict always gives the same bytes.
"""
from __future__ import annotations

import json

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def to_json_bytes(resource: dict) -> bytes:
    return _encoder.encode(resource).encode("utf-8")


TRACE_PLACEHOLDER = "00000000-trace-placeholder-0000000000"


class Spliced:
    """A body built once with a placeholder id, served many times with a per-request value.

    ``Bundle.id`` must equal the request's Ssp-TraceID (a UUID, already validated by the gate);
    everything else in the body is deterministic, so the bytes around it are built once.
    """

    __slots__ = ("head", "tail")

    def __init__(self, body: bytes, placeholder: str = TRACE_PLACEHOLDER):
        marker = json.dumps(placeholder).encode()
        head, found, tail = body.partition(marker)
        if not found:
            raise ValueError("placeholder not found in body")
        if marker in tail:
            raise ValueError("placeholder occurs more than once in body")
        self.head, self.tail = head, tail

    def render(self, value: str) -> bytes:
        return b"".join((self.head, json.dumps(value).encode(), self.tail))

    def __len__(self):
        return len(self.head) + len(self.tail)
