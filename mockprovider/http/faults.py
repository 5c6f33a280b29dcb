"""The fault injector: the one place a fault rule changes a FHIR answer.

:func:`take` runs in ``fhir_views.dispatch`` after the gate has passed (so the interaction is
known) and before the interaction: it matches the rules (mockprovider.state.faults) against the
request's facts and charges their uses. The returned :class:`Injected` then waits (``ms``), may
answer instead of the interaction (``error``, ``malformed``, ``reset``, ``empty``) and may reshape
the answer's delivery (``truncated``, ``drip``).

Socket-level kinds work on the client socket the server hands to the app: ``gunicorn.socket``
under gunicorn (what ``mockprovider serve`` runs), ``werkzeug.socket`` under Flask's development
server (``serve --dev``). They are response bodies whose first step acts on the socket and then
raises a ConnectionError, which both servers treat as "the client went away" (no 500, no log
noise). Under gunicorn a ``reset`` is a real TCP RST (SO_LINGER 0, then close). Under the dev
server (which cannot close the socket under werkzeug's feet without a traceback) a ``reset`` sets
SO_LINGER 0 and shuts the connection down, so the client sees it closed without a response (an
EOF, possibly followed by a RST) rather than a clean reset; every other kind behaves the same on
both servers. With no socket at all (Flask's test client) the ConnectionError reaches the caller.

With no rules matching, this costs one pass over the (usually empty) cached rule list.
"""
from __future__ import annotations

import errno
import json
import socket
import struct
import time

from ..errors import SpineError
from ..fhir.outcome import proxy_outcome
from ..fhir.render import to_bytes
from ..spec import NHS_NUMBER_SYSTEM
from ..state.faults import applies, rule_matches
from .responses import Answer, fhir_response

# 200 with a FHIR content type and a body that is not JSON: what a misbehaving proxy or captive
# portal sends.
MALFORMED_BODY = (b"<html><head><title>200 OK</title></head><body>mockprovider: injected "
                  b"'malformed' fault, this body is not JSON</body></html>\n")
DRIP_PIECES = 10


class Facts:
    """What a rule may match, worked out only when a rule asks (the NHS number needs the body)."""

    def __init__(self, interaction: str, params: dict, from_asid, body: bytes, query, ods=None, path=None,
                 nhs_number=None):
        self._values = {"interaction": interaction, "document_id": params.get("document_id"),
                        "from_asid": from_asid, "ods": ods, "path": path}
        if nhs_number is not None:
            self._values["nhs_number"] = nhs_number
        self._body, self._query = body, query

    def get(self, name):
        if name == "nhs_number" and name not in self._values:
            self._values[name] = nhs_number_of(self._body, self._query)
        return self._values.get(name)


def nhs_number_of(body: bytes, query=()) -> str | None:
    """The patient's NHS number from a migrate Parameters body (``patientNHSNumber``) or a
    find-patient ``identifier=https://fhir.nhs.uk/Id/nhs-number|<n>`` query; None when absent or
    unreadable (a malformed body is the interaction's business, not the injector's)."""
    for name, value in query or ():
        if name == "identifier" and value.startswith(NHS_NUMBER_SYSTEM + "|"):
            return value[len(NHS_NUMBER_SYSTEM) + 1:] or None
    if not body:
        return None
    try:
        parameters = json.loads(body)
        for parameter in parameters.get("parameter") or ():
            if isinstance(parameter, dict) and parameter.get("name") == "patientNHSNumber":
                value = (parameter.get("valueIdentifier") or {}).get("value")
                return value if isinstance(value, str) else None
    except (ValueError, AttributeError, TypeError):
        return None
    return None


class Injected:
    """The rules one request got, and what they do to it."""

    def __init__(self, rules: list[dict], environ):
        self.rules = rules
        self.environ = environ
        self.wait_ms = sum(rule.get("ms", 0) for rule in rules)
        outcome = [rule for rule in rules if rule["kind"] != "delay"]
        self.rule = outcome[0] if outcome else None
        self.kind = self.rule["kind"] if self.rule else "delay"

    def record(self) -> dict:
        """The journal's ``fault`` field."""
        fault = {"kind": self.kind, "rules": [rule["id"] for rule in self.rules]}
        if self.wait_ms:
            fault["ms"] = self.wait_ms
        if self.rule is not None:
            for name in ("code", "status", "duration_ms", "quirk"):
                if name in self.rule:
                    fault[name] = self.rule[name]
        return fault

    def wait(self) -> None:
        if self.wait_ms:
            time.sleep(self.wait_ms / 1000)

    def answer(self, request_url: str, fmt: str = "json") -> Answer | None:
        """The answer that replaces the interaction's, or None to run the interaction.
        A coded ``error`` raises its SpineError (rendered where every SpineError is)."""
        rule, kind = self.rule, self.kind
        if kind == "error":
            if "code" in rule:
                raise SpineError(rule["code"], rule.get("diagnostics")
                                 or f"Fault injected by mockprovider (rule {rule['id']})")
            status = rule["status"]
            if status == 502:
                # The SSP's 502 example puts the unreachable URL in display and diagnostics.
                text = rule.get("diagnostics") or f"ERROR_COMMUNICATING_TO_ENDPOINT_URL_{request_url}"
                body = proxy_outcome(502, text, display=text)
            else:
                body = proxy_outcome(status, rule.get("diagnostics")
                                     or f"Fault injected by mockprovider (rule {rule['id']})")
            return fhir_response(to_bytes(body, fmt), status=status, fmt=fmt)
        if kind == "malformed":
            return fhir_response(MALFORMED_BODY, status=200)
        if kind == "reset":
            sock = self.environ.get("gunicorn.socket")
            return _socket_response(_reset(sock or self.environ.get("werkzeug.socket"), close=sock is not None))
        if kind == "empty":
            return _socket_response(_empty(self._socket()))
        return None

    def deliver(self, response: Answer) -> Answer:
        """Reshape how the answer is sent (``truncated``, ``drip``); others pass through."""
        if self.kind == "truncated":
            return _truncated(response, self._socket())
        if self.kind == "drip":
            return _drip(response, self.rule["duration_ms"])
        return response

    def _socket(self):
        return self.environ.get("gunicorn.socket") or self.environ.get("werkzeug.socket")


def take(control, rules: list[dict], facts: Facts, environ, api: str = "provider") -> Injected | None:
    """The rules this request gets (charged one use each), or None: the cheap common case.
    ``api``: provider, sds or pds (which rules can apply: mockprovider.state.faults.applies)."""
    if not rules:
        return None
    candidates = [rule for rule in rules if applies(rule, api) and rule_matches(rule, facts)]
    if not candidates:
        return None
    taken = control.take_faults(candidates)
    return Injected(taken, environ) if taken else None


# --- socket-level kinds ----------------------------------------------------------------------------------
def _socket_response(body) -> Answer:
    # The body runs only when the server starts sending, before any header goes out.
    return Answer(200, [], body)


def _reset(sock, close: bool):
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if close:   # gunicorn: with SO_LINGER 0 the kernel sends RST, not FIN
            sock.close()
        else:       # werkzeug would keep the connection open for the next request: end it
            _shutdown(sock)
    raise ConnectionResetError(errno.ECONNRESET, "mockprovider: injected 'reset' fault")
    yield b""  # pragma: no cover - makes this a generator


def _empty(sock):
    _shutdown(sock)
    raise BrokenPipeError(errno.EPIPE, "mockprovider: injected 'empty' fault")
    yield b""  # pragma: no cover


def _shutdown(sock) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _length_and_chunks(response: Answer):
    """(total length, iterator of body bytes) without reading a streamed body of known length
    into memory (a stream of unknown length, such as a gzipped one, is read whole)."""
    total, chunks = response.chunks()
    if total is None:
        data = b"".join(chunks)
        return len(data), iter((data,))
    return total, chunks


def _copy(response: Answer, body, length: int) -> Answer:
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    return Answer(response.status, headers, body, length)


def _truncated(response: Answer, sock) -> Answer:
    """Headers promise the full length; half the bytes are sent; then the connection closes."""
    total, chunks = _length_and_chunks(response)
    send = total // 2
    promised = max(total, send + 1)

    def body():
        left = send
        for chunk in chunks:
            if left <= 0:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece
        _close_iter(chunks)
        _shutdown(sock)
        raise BrokenPipeError(errno.EPIPE, "mockprovider: injected 'truncated' fault")
    return _copy(response, body(), promised)


def _drip(response: Answer, duration_ms: int) -> Answer:
    """The whole body, in DRIP_PIECES pieces spread evenly over duration_ms (headers at once)."""
    total, chunks = _length_and_chunks(response)
    size = max(1, -(-total // DRIP_PIECES))
    pause = duration_ms / 1000 / DRIP_PIECES

    def body():
        yield b""                      # headers go out now
        buffer = b""
        for chunk in chunks:
            buffer += chunk
            while len(buffer) >= size:
                time.sleep(pause)
                yield buffer[:size]
                buffer = buffer[size:]
        if buffer:
            time.sleep(pause)
            yield buffer
        _close_iter(chunks)
    return _copy(response, body(), total)


def _close_iter(chunks) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
