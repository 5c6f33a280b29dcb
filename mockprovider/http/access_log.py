"""What the server prints on stdout: one start-up line, then one access-log line per request.

``MOCKPROVIDER_LOG_FORMAT=text`` (default) or ``json`` (one JSON object a line, for log shippers);
``MOCKPROVIDER_ACCESS_LOG=false`` turns the per-request lines off (the start-up line stays).

An access line carries: time (UTC), method, path, status, ms, trace id (``Ssp-TraceID``), the
interaction and the Spine code of an error answer (the same facts as the request journal), then
how the answer went out: ``total_ms``, ``bytes_sent`` and ``complete``. ``ms`` is the time until
the answer was ready to send (status and headers: the first byte); ``total_ms`` runs until the
last body byte was written to the socket, or until the answer was cut (the client went away, a
``truncated`` fault, the server shutting down), and ``complete`` says which. The line is written
when the answer is over (:class:`Tracked`, the WSGI body every answer goes out in), so a 70 s
download is one line written after 70 s. Control and console calls have no trace id,
interaction or Spine code.

A line is written with one ``write`` call, so lines from several workers never interleave, and a
path is escaped so that it can never break its line.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time

from ..state.control import now_iso

_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f)}
_UNSAFE[ord(" ")] = "%20"


def _text_value(value) -> str:
    if value is None or value == "":
        return "-"
    text = str(value)
    if text.isprintable() and " " not in text:     # the usual case: nothing to escape
        return text
    return text.translate(_UNSAFE)


def emit(fields: dict, log_format: str, text: str) -> None:
    line = json.dumps(fields, ensure_ascii=False, separators=(",", ":")) if log_format == "json" else text
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):     # stdout closed or gone: the answer matters more than the log
        pass


def write_line(log_format: str, method, path, status, ms, trace_id, interaction, spine_code,
               total_ms=None, bytes_sent=None, complete=None) -> None:
    """One access line from its fields, only the chosen format built."""
    if log_format == "json":
        emit({"time": now_iso(), "method": method, "path": path, "status": status, "ms": ms,
              "trace_id": trace_id, "interaction": interaction, "spine_code": spine_code,
              "total_ms": total_ms, "bytes_sent": bytes_sent, "complete": complete}, log_format, "")
    else:
        emit(None, log_format,
             f"{now_iso()} {_text_value(method)} {_text_value(path)} {_text_value(status)} "
             f"{ms}ms trace={_text_value(trace_id)} interaction={_text_value(interaction)} "
             f"spine={_text_value(spine_code)} total={total_ms}ms sent={_text_value(bytes_sent)} "
             f"complete={'-' if complete is None else 'yes' if complete else 'no'}")


class JsonFormatter(logging.Formatter):
    """Warnings and errors on stderr as one JSON object a line (``MOCKPROVIDER_LOG_FORMAT=json``):
    ``{"time", "level", "logger", "message"}``, plus ``"exception"`` (the traceback) when there is one."""

    def format(self, record):
        out = {"time": now_iso(), "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


# Answers still going out in this process (for :func:`cut_all` when the worker stops).
_IN_FLIGHT: set = set()
_IN_FLIGHT_LOCK = threading.Lock()


class Tracked:
    """A WSGI response body that knows how it went out: bytes written, whether it ended, how long.

    The server iterates it and calls :meth:`close` whatever happened (the WSGI contract: after the
    last chunk, after a write that failed because the client went away, after the app raised
    mid-body). A chunk counts as sent once the server asks for the next one (its write returned);
    the body is complete when the iterator ran out. ``done(total_ms, bytes_sent, complete)`` is
    called exactly once: from :meth:`close`, or from :func:`cut_all` when the worker stops first."""

    __slots__ = ("_body", "_iter", "_pending", "_sent", "_started", "_done", "_ended", "_lock", "__weakref__")

    def __init__(self, body, started: float, done):
        self._body = body
        self._iter = None
        self._pending = 0
        self._sent = 0
        self._started = started
        self._done = done
        self._ended = False
        self._lock = threading.Lock()
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add(self)

    def __iter__(self):
        if self._iter is None:        # iter() again (werkzeug's test client chains it) goes on, not over
            self._iter = iter(self._body)
        return self

    def __next__(self):
        self._sent += self._pending
        self._pending = 0
        try:
            chunk = next(self._iter)
        except StopIteration:
            self._ended = True
            raise
        self._pending = len(chunk)
        return chunk

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self.finish()

    def finish(self, cut: bool = False) -> None:
        with self._lock:
            done, self._done = self._done, None
        if done is None:
            return
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(self)
        try:
            done(round((time.perf_counter() - self._started) * 1000, 1), self._sent, self._ended and not cut)
        except Exception:           # the log and the journal must never break an answer
            pass


def cut_all() -> int:
    """Report every answer still going out as cut (the worker is stopping); returns how many."""
    with _IN_FLIGHT_LOCK:
        pending = list(_IN_FLIGHT)
    for body in pending:
        body.finish(cut=True)
    return len(pending)


def startup_fields(settings, personas: int, personas_source: str, state_store: str, scheme: str,
                   server: str = "gunicorn") -> dict:
    """``server``: ``gunicorn`` (workers x threads) or ``flask-dev`` (``serve --dev``: Flask's
    development server, one process, no workers or threads to speak of)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    dev = server == "flask-dev"
    return {"event": "start", "url": f"{scheme}://{host}:{settings.port}", "practice": settings.ods_code,
            "provider_asid": settings.provider_asid, "personas": personas, "personas_source": personas_source,
            "personas_folder": settings.personas, "validation": settings.validation,
            "state_store": state_store, "workers": None if dev else settings.workers,
            "threads": None if dev else getattr(settings, "threads", None),
            "control_api": "protected" if settings.control_token else "open", "server": server}


def plural(count: int, word: str) -> str:
    """``1 persona``, ``2 personas``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def startup_text(f: dict) -> str:
    runs = "Flask development server" if f.get("server") == "flask-dev" else \
        plural(f["workers"], "worker") + (f" x {plural(f['threads'], 'thread')}" if f.get("threads") else "")
    return (f"mockprovider serving {f['url']} practice {f['practice']} (ASID {f['provider_asid']}), "
            f"{plural(f['personas'], 'persona')} ({f['personas_source']}: {f['personas_folder']}), "
            f"validation {f['validation']}, state {f['state_store']}, {runs}"
            + (", control API protected (token)" if f.get("control_api") == "protected"
               else ", control API open (no token)"))
