"""A request's journal entry across its life: recorded when the answer is ready (so a consumer that
reads the journal next finds its request), finished when the answer is over (total time, bytes sent,
whether the body completed: issue #28). One place for the GP Connect front
(:mod:`mockprovider.http.fhir_views`) and the look-up APIs (:mod:`mockprovider.http.lookups`).
"""
from __future__ import annotations

import logging

log = logging.getLogger("mockprovider")

# Where a request's journal entry and its store token wait in the WSGI environ until the answer is over.
ENTRY_KEY = "mockprovider.journal_entry"
TOKEN_KEY = "mockprovider.journal_token"


def record(runtime, environ, entry: dict) -> None:
    """Journal the entry now (its "how it went out" fields null until :func:`finish`)."""
    entry["total_ms"] = entry["bytes_sent"] = entry["complete"] = None
    environ[ENTRY_KEY] = entry
    try:
        environ[TOKEN_KEY] = runtime.control.record(entry)
    except Exception:  # the journal must never break a response
        log.exception("could not record the request in the journal")


def finish(runtime, environ, total_ms, sent, complete) -> None:
    """Add how the answer went out to its journal entry (total_ms, bytes_sent, complete)."""
    entry = environ.get(ENTRY_KEY)
    fields = {"total_ms": total_ms, "bytes_sent": sent, "complete": complete}
    entry.update(fields)
    token = environ.get(TOKEN_KEY)
    done = getattr(runtime.control, "finish", None)
    if token is not None and done is not None:
        try:
            done(token, fields)
        except Exception:           # the journal must never break a response
            log.exception("could not finish the request's journal entry")
