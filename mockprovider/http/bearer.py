"""The bearer JWT (../shared/spec/jwt.md): decoded as pyjwt decodes it, every claim checked.

Returns :class:`Claims` or raises SpineError: 400 BAD_REQUEST for a missing, malformed, expired or
wrong claim; 422 INVALID_RESOURCE for an embedded Device/Organization/Practitioner of the wrong
resource type or with an element STU3 does not define (what the assurance suite's JWT.feature
expects, over the guidance page's BAD_REQUEST bullet).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from .. import spec
from ..errors import SpineError

# STU3 top-level elements of the three embedded resources (unknown element -> 422).
_DOMAIN = {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained",
           "extension", "modifierExtension"}
ELEMENTS = {
    "Device": _DOMAIN | {"identifier", "udi", "status", "type", "lotNumber", "manufacturer",
                         "manufactureDate", "expirationDate", "model", "version", "patient", "owner",
                         "contact", "location", "url", "note", "safety"},
    "Organization": _DOMAIN | {"identifier", "active", "type", "name", "alias", "telecom", "address",
                               "partOf", "contact", "endpoint"},
    "Practitioner": _DOMAIN | {"identifier", "active", "name", "telecom", "address", "gender",
                               "birthDate", "photo", "qualification", "communication"},
}


@dataclass(frozen=True)
class Claims:
    payload: dict
    reason: str
    resource_scope: str
    confidentiality: str          # "N" or "R" ("N" when the scope names none)
    requesting_ods: str | None    # ODS code of requesting_organization
    practitioner_present: bool


def bad(diagnostics: str) -> SpineError:
    return SpineError("BAD_REQUEST", diagnostics)


def _segment(part: str, what: str) -> tuple[dict, bool]:
    """One JWT segment -> (its JSON object, whether it is canonical base64url as pyjwt requires)."""
    try:
        if "+" in part or "/" in part or "=" in part:
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode((part + "=" * (-len(part) % 4)).encode("ascii"))
        value = json.loads(raw)
    except (ValueError, UnicodeError, binascii.Error):
        raise bad(f"JWT {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise bad(f"JWT {what} is not a JSON object")
    return value, _canonical_b64url(part)


@lru_cache(maxsize=64)
def _header_segment(part: str) -> tuple[dict, bool]:
    """The JOSE header segment, decoded once per distinct text: consumers send the same header
    (``{"alg":"none","typ":"JWT"}``) on every token, so nothing a fresh JWT changes is cached
    (the payload, with its iat/exp and claims, is decoded and checked on every request)."""
    return _segment(part, "header")


def _b64json(part: str, what: str) -> dict:
    return _segment(part, what)[0]


# pyjwt checks each character of a segment in a Python loop (about 0.1 ms a token, a third of the
# gate's cost). For the usual header (only alg and typ) the same segment rules are applied here
# with C-speed steps (_segment's canonical flag); any other header (kid, crit, b64, ...) still goes
# through pyjwt itself, so what is accepted or refused, and why, is unchanged.
_B64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_PLAIN_HEADER = frozenset({"alg", "typ"})


# A canonical segment's last character leaves the unused low bits zero: 4 bits when the length
# is 2 mod 4, 2 bits when it is 3 mod 4. The characters that do, by that length.
_ZERO_TAIL = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def _canonical_b64url(part: str) -> bool:
    """pyjwt's rules for one segment: base64url alphabet, no impossible length, canonical encoding
    (the bytes re-encode to the same text: the same as no non-zero unused bits in the last
    character, checked here without re-encoding)."""
    tail = len(part) % 4
    if tail == 1 or not _B64URL_SEGMENT.fullmatch(part):
        return False
    return tail == 0 or part[-1] in _ZERO_TAIL[tail]


def _decode(token: str, parts: list, header: dict, payload: dict, canonical: bool | None = None) -> dict:
    """The payload as ``pyjwt.decode(verify_signature=False)`` returns it (or its refusal).

    ``canonical``: both segments already known canonical (from :func:`_segment`), or None to check.
    """
    if canonical is None:
        canonical = _canonical_b64url(parts[0]) and _canonical_b64url(parts[1])
    if canonical and _PLAIN_HEADER.issuperset(header):
        return payload      # the very bytes pyjwt would decode, already parsed
    # Imported here, not at start-up: pyjwt pulls in cryptography when it is installed (~50 ms of
    # cold start) and only the unusual tokens need it.
    import jwt as pyjwt
    try:
        return pyjwt.decode(token, options={"verify_signature": False, "verify_exp": False,
                                            "verify_iat": False, "verify_nbf": False,
                                            "verify_aud": False, "verify_iss": False})
    except pyjwt.PyJWTError as exc:
        raise bad(f"JWT could not be decoded: {exc}") from None


def _resource(payload: dict, claim: str, expected: str) -> dict:
    value = payload[claim]
    if not isinstance(value, dict):
        raise bad(f"JWT claim {claim} is not a JSON object")
    kind = value.get("resourceType")
    if kind != expected:
        raise SpineError("INVALID_RESOURCE", f"JWT claim {claim} has resourceType {kind!r}, expected {expected}")
    unknown = sorted(k for k in value if k.lstrip("_") not in ELEMENTS[expected])
    if unknown:
        raise SpineError("INVALID_RESOURCE", f"JWT claim {claim} ({expected}) has unknown element(s): "
                                             + ", ".join(unknown))
    return value


def _identifier_value(resource: dict, system: str) -> str | None:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list):
        return None
    for ident in identifiers:
        if isinstance(ident, dict) and ident.get("system") == system:
            value = ident.get("value")
            if isinstance(value, str) and value.strip():
                return value
    return None


def check(header_value: str | None, interaction, strict: bool = True, leeway: int = 0,
          now: float | None = None) -> Claims:
    if not header_value:
        raise bad("Authorization header is missing")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():    # the scheme is case-insensitive (RFC 9110 §11.1)
        raise bad("Authorization header is not 'Bearer <JWT>'")
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise bad("JWT must have three dot-separated parts (header.payload. with an empty signature)")
    if parts[2] != "":
        raise bad("JWT signature part must be empty: GP Connect tokens are unsigned (alg none)")
    header, header_canonical = _header_segment(parts[0]) if len(parts[0]) <= 256 else _segment(parts[0], "header")
    decoded, payload_canonical = _segment(parts[1], "payload")  # with our own diagnostics
    if header.get("alg") != "none":
        raise bad(f"JWT header alg must be 'none', not {header.get('alg')!r}")
    if "typ" in header and header["typ"] != "JWT":
        raise bad(f"JWT header typ must be 'JWT', not {header.get('typ')!r}")
    payload = _decode(token, parts, header, decoded, header_canonical and payload_canonical)

    # Every claim present and not null.
    for claim in spec.JWT_CLAIMS:
        if claim == "requesting_practitioner" and not interaction.practitioner_required \
                and payload.get(claim) is None:
            continue
        if claim == "aud" and not strict and payload.get(claim) is None:
            continue
        if payload.get(claim) is None:
            raise bad(f"JWT claim {claim} is missing or null")
    for claim in ("iss", "sub"):
        if not isinstance(payload[claim], str) or not payload[claim].strip():
            raise bad(f"JWT claim {claim} must be a non-empty string")
    aud = payload.get("aud")
    if strict:
        if not isinstance(aud, str) or not aud.strip():
            raise bad("Empty JWT aud claim" if aud == "" else "JWT claim aud must be a non-empty string")
        if not aud.startswith(("http://", "https://")):
            raise bad("JWT claim aud must be the provider's service root URL")

    # Lifetime: integers, exp exactly iat + 300, not expired; a future iat is tolerated.
    exp, iat = payload["exp"], payload["iat"]
    for name, value in (("exp", exp), ("iat", iat)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise bad(f"JWT claim {name} must be a positive whole number of seconds")
    if exp - iat != spec.JWT_LIFETIME_SECONDS:
        raise bad(f"JWT exp must be exactly iat + {spec.JWT_LIFETIME_SECONDS} (found exp - iat = {exp - iat})")
    now = time.time() if now is None else now
    if now >= exp + leeway:
        raise bad("JWT has expired (exp is in the past)")

    reason = payload["reason_for_request"]
    if reason not in spec.REASONS:
        raise bad(f"JWT claim reason_for_request {reason!r} is not directcare or migration")
    if reason not in interaction.reasons:
        raise bad(f"JWT claim reason_for_request must be {' or '.join(interaction.reasons)} "
                  f"for this interaction, not {reason!r}")

    scope = payload["requested_scope"]
    if not isinstance(scope, str):
        raise bad("JWT claim requested_scope must be a string")
    words = scope.split()
    resource_scopes = [w for w in words if w in spec.RESOURCE_SCOPES]
    conf_scopes = [w for w in words if w in spec.CONFIDENTIALITY_SCOPES]
    unknown = [w for w in words if w not in spec.RESOURCE_SCOPES and w not in spec.CONFIDENTIALITY_SCOPES]
    if unknown or len(resource_scopes) != 1 or len(conf_scopes) > 1:
        raise bad(f"JWT claim requested_scope {scope!r} must be one resource scope and at most one of "
                  "conf/N, conf/R")
    if resource_scopes[0] not in interaction.scopes:
        raise bad(f"JWT requested_scope {resource_scopes[0]!r} is not allowed here; expected "
                  + " or ".join(interaction.scopes))

    _resource(payload, "requesting_device", "Device")
    organization = _resource(payload, "requesting_organization", "Organization")
    ods = _identifier_value(organization, spec.ODS_ORG_SYSTEM)
    if strict and ods is None:
        raise bad(f"JWT requesting_organization has no identifier with system {spec.ODS_ORG_SYSTEM}")
    practitioner_present = payload.get("requesting_practitioner") is not None
    if practitioner_present:
        practitioner = _resource(payload, "requesting_practitioner", "Practitioner")
        if practitioner.get("id") != payload["sub"]:
            raise bad("JWT claim sub must equal requesting_practitioner.id")
        if strict and _identifier_value(practitioner, spec.SDS_USER_SYSTEM) is None:
            raise bad(f"JWT requesting_practitioner has no identifier with system {spec.SDS_USER_SYSTEM}")

    return Claims(payload=payload, reason=reason, resource_scope=resource_scopes[0],
                  confidentiality=conf_scopes[0][-1] if conf_scopes else "N",
                  requesting_ods=ods, practitioner_present=practitioner_present)
