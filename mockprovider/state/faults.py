"""Fault rules: what a rule may say, how it is checked, and which rules a request gets.

A closed list of named kinds (after WireMock's faults), applied by one small injector
(mockprovider.http.faults). No Flask here.

A rule (JSON)::

    {"kind": "error", "code": "NO_RECORD_FOUND",          # or "status": 502 | 503 | 504
     "match": {"interaction": "migrate_structured", "nhs_number": "9690937286"},
     "times": 2,                                           # optional: expires after 2 uses
     "ms": 300}                                            # optional: delay first (any kind)

Kinds:
- ``error``: a spec-exact OperationOutcome for a Spine ``code`` (status from the error table), or a
  proxy-style failure with ``status`` 502/503/504 (errors.md §2 "SSP errors"); optional ``diagnostics``;
- ``delay``: wait ``ms`` before answering (combines with any other kind: every matching delay rule
  adds its wait, and any rule may carry its own ``ms``);
- ``reset``: TCP reset, no response; ``empty``: connection closed with no response;
- ``malformed``: 200 with a body that is not JSON;
- ``truncated``: Content-Length promises more bytes than are sent, then the connection closes;
- ``drip``: the real body trickles out over ``duration_ms``;
- ``quirk``: an SDS answer published with a registry quirk (``quirk``: an empty address, no
  nhsMHSId, …; mockprovider.registry.practices.SDS_QUIRKS) while the rule lasts.

Rules apply to SDS and PDS requests too (match them by ``interaction``, ``ods`` or ``path``): an
``error`` with a ``status`` answers in that API's own error format; an ``error`` with a Spine ``code``
is a GP Connect answer, so it applies to provider requests only; a ``quirk`` to SDS requests only.

Which rules a request gets: rules are tried oldest first; every matching ``delay`` rule applies,
and so does the FIRST matching rule of any other kind (later ones wait their turn), so rules added
one after another form a queue: "503 twice, then a reset, then normal answers". Only the rules
applied are charged a use of their ``times``.
"""
from __future__ import annotations

import re
import uuid

from ..errors import PROXY_STATUSES, TABLE
from ..registry.practices import SDS_QUIRKS

KINDS = ("error", "delay", "reset", "empty", "malformed", "truncated", "drip", "quirk")
SOCKET_KINDS = ("reset", "empty", "truncated", "drip")

# The interaction names as the routes table (mockprovider/http/routes.py) and the journal write
# them. tests/unit/test_faults.py checks this list against the routes table.
INTERACTIONS = ("migrate_structured", "migrate_document", "retrieve_document", "find_patient",
                "read_patient", "search_documents", "metadata", "metadata_structured", "metadata_documents",
                "retrieve_structured")
# The look-up calls (mockprovider.http.lookups), journaled and matched under these names.
LOOKUP_INTERACTIONS = ("sds_device", "sds_endpoint", "pds_read_patient", "pds_search_patient", "pds_token")
MATCH_FIELDS = ("interaction", "nhs_number", "document_id", "from_asid", "ods", "path")
# Which requests a rule can apply to: "provider" (GP Connect), "sds", "pds" (and its token endpoint).
APIS = ("provider", "sds", "pds")

# What each kind takes, for people and forms (GET /_control/catalogue, the console): one line per
# kind, and the fields check_rule accepts for it besides the common ``match``, ``times`` and ``ms``
# (tests/unit/test_faults.py checks these against check_rule).
KIND_DOCS = {
    "error": "a spec-exact OperationOutcome for a Spine code, or a proxy-style 502/503/504",
    "delay": "wait ms before answering (adds to any other rule that applies)",
    "reset": "TCP reset: the client gets no response at all",
    "empty": "the connection closes with no response",
    "malformed": "200 with a body that is not JSON",
    "truncated": "Content-Length promises more bytes than are sent, then the connection closes",
    "drip": "the real body trickles out over duration_ms",
    "quirk": "SDS answers as if the practice had this registry quirk (SDS requests only)",
}
KIND_FIELDS = {      # kind -> ((field, required, meaning), ...); error needs exactly one of code / status
    "error": (("code", "one of code/status", "a Spine error code (HTTP status from the error table)"),
              ("status", "one of code/status", "502, 503 or 504: a proxy-style failure"),
              ("diagnostics", False, "the OperationOutcome's diagnostics text")),
    "delay": (("ms", True, "milliseconds to wait"),),
    "reset": (), "empty": (), "malformed": (), "truncated": (),
    "drip": (("duration_ms", True, "milliseconds over which the body trickles out"),),
    "quirk": (("quirk", True, "one of " + ", ".join(SDS_QUIRKS)),),
}
COMMON_FIELDS = (("times", False, "expires after this many uses (none: until deleted)"),
                 ("ms", False, "milliseconds to wait first (any kind)"))
MATCH_DOCS = {"interaction": "the interaction's short name", "nhs_number": "the patient's NHS number",
              "document_id": "the Binary id", "from_asid": "the consumer's Ssp-From ASID",
              "ods": "the practice's ODS code (the path's; SDS: the organization searched)",
              "path": "the request path, exactly (no query)"}

# A request's total injected time must stay under the gunicorn worker timeout (120 s), or the
# worker is killed mid-request; each wait is capped here.
MAX_MS = 60_000

_DIGITS = re.compile(r"^[0-9]{1,20}\Z")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-\.]{1,64}\Z")
_FIELDS = {"id", "kind", "match", "times", "ms", "code", "status", "diagnostics", "duration_ms", "quirk"}
_ODS = re.compile(r"^[A-Z0-9]{3,10}\Z")


class FaultRuleError(ValueError):
    """A rule that cannot be used; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _whole(rule: dict, name: str, low: int, high: int | None = None, required=False):
    value = rule.get(name)
    if value is None:
        if required:
            raise FaultRuleError(name, f"{name!r} is required for kind {rule.get('kind')!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        limit = f"from {low} to {high}" if high is not None else f">= {low}"
        raise FaultRuleError(name, f"{name!r} must be a whole number {limit}")
    return value


def _match(raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FaultRuleError("match", "'match' must be a JSON object")
    match = {}
    for key, value in raw.items():
        where = f"match.{key}"
        if key not in MATCH_FIELDS:
            raise FaultRuleError(where, f"unknown match field {key!r}; use {', '.join(MATCH_FIELDS)}")
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise FaultRuleError(where, f"{where!r} must be a non-empty string")
        if key == "interaction" and value not in INTERACTIONS + LOOKUP_INTERACTIONS:
            raise FaultRuleError(where, f"unknown interaction {value!r}; use "
                                        f"{', '.join(INTERACTIONS + LOOKUP_INTERACTIONS)}")
        if key == "ods" and not _ODS.match(value):
            raise FaultRuleError(where, f"{where!r} must be an ODS code (3-10 capital letters and digits)")
        if key == "path" and (not value.startswith("/") or len(value) > 2048):
            raise FaultRuleError(where, f"{where!r} must be a request path starting with /")
        if key in ("nhs_number", "from_asid") and not _DIGITS.match(value):
            raise FaultRuleError(where, f"{where!r} must be digits")
        if key == "document_id" and not _FHIR_ID.match(value):
            raise FaultRuleError(where, f"{where!r} must be a FHIR id")
        match[key] = value
    return match


def check_rule(raw) -> dict:
    """Validate a rule from JSON; returns the stored form (with a new ``id``) or raises FaultRuleError."""
    if not isinstance(raw, dict):
        raise FaultRuleError("rule", "a fault rule must be a JSON object")
    for name in raw:
        if name not in _FIELDS or name == "id":
            raise FaultRuleError(name, f"unknown field {name!r} in a fault rule")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise FaultRuleError("kind", f"'kind' must be one of {', '.join(KINDS)}")
    rule = {"id": str(uuid.uuid4()), "kind": kind}
    match = _match(raw.get("match"))
    if match:
        rule["match"] = match
    times = _whole(raw, "times", 1)
    if times is not None:
        rule["times"] = times
    ms = _whole(raw, "ms", 0, MAX_MS, required=(kind == "delay"))
    if ms is not None:
        rule["ms"] = ms

    code, status = raw.get("code"), raw.get("status")
    if kind == "error":
        if (code is None) == (status is None):
            raise FaultRuleError("code", "an error rule needs exactly one of 'code' (a Spine error code) "
                                         "or 'status' (502, 503 or 504)")
        if code is not None:
            if not isinstance(code, str) or code not in TABLE:   # (a list or object is not hashable)
                raise FaultRuleError("code", f"unknown Spine error code {code!r}; use one of {', '.join(TABLE)}")
            rule["code"] = code
        else:
            if isinstance(status, bool) or not isinstance(status, int) or status not in PROXY_STATUSES:
                raise FaultRuleError("status", "'status' must be 502, 503 or 504")
            rule["status"] = status
        diagnostics = raw.get("diagnostics")
        if diagnostics is not None:
            if not isinstance(diagnostics, str) or not diagnostics.strip():
                raise FaultRuleError("diagnostics", "'diagnostics' must be a non-empty string")
            rule["diagnostics"] = diagnostics
    else:
        for name in ("code", "status", "diagnostics"):
            if raw.get(name) is not None:
                raise FaultRuleError(name, f"{name!r} only applies to kind 'error'")

    if kind == "drip":
        rule["duration_ms"] = _whole(raw, "duration_ms", 1, MAX_MS, required=True)
    elif raw.get("duration_ms") is not None:
        raise FaultRuleError("duration_ms", "'duration_ms' only applies to kind 'drip'")
    if kind == "quirk":
        quirk = raw.get("quirk")
        if not isinstance(quirk, str) or quirk not in SDS_QUIRKS:
            raise FaultRuleError("quirk", f"'quirk' must be one of {', '.join(SDS_QUIRKS)}")
        rule["quirk"] = quirk
        if match.get("interaction") not in (None, "sds_device", "sds_endpoint"):
            raise FaultRuleError("match.interaction", "a quirk rule applies to SDS requests: match "
                                                      "sds_device or sds_endpoint (or leave it out)")
    elif raw.get("quirk") is not None:
        raise FaultRuleError("quirk", "'quirk' only applies to kind 'quirk'")
    if kind == "error" and "code" in rule and match.get("interaction") in LOOKUP_INTERACTIONS:
        raise FaultRuleError("code", "SDS and PDS answer in their own error formats: give an error rule "
                                     "for them a 'status' (502, 503 or 504), not a GP Connect Spine code")
    return rule


def applies(rule: dict, api: str) -> bool:
    """Whether the rule can apply to a request of ``api`` (provider, sds or pds): a GP Connect
    ``code`` answers provider requests only, a ``quirk`` SDS requests only."""
    if rule["kind"] == "quirk":
        return api == "sds"
    if rule["kind"] == "error" and "code" in rule:
        return api == "provider"
    return True


def rule_matches(rule: dict, facts) -> bool:
    """Every field of the rule's match equals the request's fact (``facts.get(name)``)."""
    match = rule.get("match")
    if not match:
        return True
    return all(facts.get(key) == value for key, value in match.items())


def choose(candidates: list[dict], is_live=lambda rule: True) -> list[dict]:
    """The rules a request gets, from its matching rules (oldest first): every delay rule and
    the first live rule of another kind."""
    chosen, outcome = [], False
    for rule in candidates:
        if rule["kind"] != "delay":
            if outcome:
                continue
        if not is_live(rule):
            continue
        if rule["kind"] != "delay":
            outcome = True
        chosen.append(rule)
    return chosen
