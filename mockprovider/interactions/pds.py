"""PDS FHIR API decisions: read a patient, search for patients, and the OAuth 2.0 token endpoint.

``GET /Patient/{id}`` (NHSDigital/personal-demographics-service-api, patient-get.yaml), in order:
  1. no NHS number                                     -> 400 UNSUPPORTED_SERVICE
  2. not 10 digits with a valid Mod-11 check digit     -> 400 INVALID_RESOURCE_ID
  3. no persona, or one PDS does not hold (pds.on_pds = false)     -> 404 RESOURCE_NOT_FOUND
  4. invalidated (pds.invalidated)                     -> 404 INVALIDATED_RESOURCE
  5. superseded (pds.superseded_by): 200 with the retained record, under its own id
  6. 200 the Patient (mockprovider.fhir.pds), ETag W/"<versionId>"
(The header rules, X-Request-ID and the bearer token, are the HTTP layer's: mockprovider.http.lookups.)

``GET /Patient?…`` (patient-search.yaml), a small search: parameters from the spec's list only
(400 ADDITIONAL_PROPERTIES), none at all (400 UNSUPPORTED_SERVICE), dates ``[eq|ge|le]YYYY-MM-DD``
and gender from its four values (400 INVALID_VALUE); a non-fuzzy search needs ``birthdate``
(400 MISSING_VALUE) and ``family`` (400 INVALID_SEARCH_DATA); a fuzzy one one of the three combinations
(400 INVALID_SEARCH_DATA). Names match case-insensitively, ``*`` a wildcard after two characters;
invalidated and absent records never match, a superseded one is answered as its retained record,
a restricted one is left out when the postcode or GP was searched. More matches than
``_max-results`` (default 50): 200 with a TOO_MANY_MATCHES OperationOutcome.

``POST /oauth2/token`` (the API platform's client-credentials flow with a signed JWT client
assertion; NHSDigital/identity-service-api's tests give its error bodies): the form's
``grant_type``, ``client_assertion_type`` and ``client_assertion`` (a JWT) are always checked; its
claims (kid, alg RS512, iss = sub, jti, aud = this URL, exp within 5 minutes) only when the flag
``pds_auth`` is ``required``; its signature never (a mock). The access token is deterministic (from
the assertion's ``iss`` and ``exp``), ``expires_in`` "599", ``issued_at`` the assertion's exp minus
its 5 minutes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time

from ..fhir import pds as pds_fhir
from ..fhir.lookups_outcome import outcome
from ..lookup_errors import oauth, pds as pds_error
from ..personas import nhs_number
from ..registry import pds_facts

SEARCH_PARAMETERS = ("_fuzzy-match", "_exact-match", "_history", "_max-results", "family", "given", "gender",
                     "birthdate", "death-date", "address-postalcode", "address-postcode", "general-practitioner",
                     "email", "phone")
GENDERS = ("male", "female", "other", "unknown")
DATE_RE = re.compile(r"^(eq|ge|le)?(\d{4}-\d{2}-\d{2})\Z")
MAX_RESULTS = 50


# --- read ---------------------------------------------------------------------------------------------
def read(number: str, personas, registry, settings) -> tuple[dict, dict]:
    """(the Patient PDS answers for ``number``, journal facts); raises the PDS error."""
    if not number:
        raise pds_error("UNSUPPORTED_SERVICE", "No NHS number in the path: GET /Patient/{NHS number}")
    if not nhs_number.is_valid(number):
        raise pds_error("INVALID_RESOURCE_ID", f"{number!r} is not a valid NHS number "
                                               "(10 digits, Mod-11 check digit)")
    persona = personas.get(number)
    state = pds_facts.record_state(persona) if persona is not None else pds_facts.ABSENT
    if state == pds_facts.ABSENT:
        raise pds_error("RESOURCE_NOT_FOUND", None)
    if state == pds_facts.INVALIDATED:
        raise pds_error("INVALIDATED_RESOURCE", None)
    retained = persona
    if state == pds_facts.SUPERSEDED:
        retained = personas.get(persona.superseded_by)
        if retained is None or pds_facts.record_state(retained) != pds_facts.PRESENT:
            raise pds_error("RESOURCE_NOT_FOUND", None)
    resource = pds_fhir.patient(retained, pds_facts.general_practitioner(retained, registry, settings))
    return resource, {"nhs_number": number, "pds_id": resource["id"], "pds_state": state}


# --- search -------------------------------------------------------------------------------------------
def _date_checks(query, name) -> list[tuple[str, str]]:
    out = []
    for value in (v for n, v in query if n == name):
        m = DATE_RE.match(value)
        if not m:
            raise pds_error("INVALID_VALUE", f"Invalid value - '{value}' in field '{name}': use "
                                             "[eq|ge|le]YYYY-MM-DD")
        out.append((m.group(1) or "eq", m.group(2)))
    return out


def _date_matches(value: str | None, checks) -> bool:
    if value is None:
        return False
    return all((op == "eq" and value == day) or (op == "ge" and value >= day) or (op == "le" and value <= day)
               for op, day in checks)


def _name_pattern(value: str, field: str, fuzzy: bool):
    text = value.strip().lower()
    if len(text) > 35:
        raise pds_error("INVALID_VALUE", f"Invalid value - '{value}' in field '{field}': at most 35 characters")
    if "*" in text:
        if fuzzy or "*" in text[:2]:
            raise pds_error("INVALID_VALUE", f"Invalid value - '{value}' in field '{field}': a wildcard may "
                                             "not be in the first two characters, nor in a fuzzy search")
        return re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + r"\Z")
    return re.compile("^" + re.escape(text) + r"\Z")


def _flag(query, name) -> bool:
    values = [v for n, v in query if n == name]
    if not values:
        return False
    if values[-1].lower() not in ("true", "false"):
        raise pds_error("INVALID_VALUE", f"Invalid value - '{values[-1]}' in field '{name}': true or false")
    return values[-1].lower() == "true"


def search(query: list, personas, registry, settings, origin: str) -> tuple[dict, int, dict]:
    """(the body, its HTTP status, journal facts): a searchset, or TOO_MANY_MATCHES (200)."""
    names = [n for n, _ in query]
    if not names:
        raise pds_error("UNSUPPORTED_SERVICE", "No search parameters were given")
    unknown = sorted({n for n in names if n not in SEARCH_PARAMETERS})
    if unknown:
        raise pds_error("ADDITIONAL_PROPERTIES", "Invalid request with error - unexpected parameter(s): "
                                                 + ", ".join(f"'{n}'" for n in unknown))
    births, deaths = _date_checks(query, "birthdate"), _date_checks(query, "death-date")
    one = {n: v for n, v in query if n != "given"}          # the last value of each single parameter
    gender = one.get("gender")
    if gender is not None and gender not in GENDERS:
        raise pds_error("INVALID_VALUE", f"Invalid value - '{gender}' in field 'gender'")
    fuzzy = _flag(query, "_fuzzy-match")
    _flag(query, "_exact-match"), _flag(query, "_history")   # accepted; the mock matches exactly anyway
    maximum = MAX_RESULTS
    if "_max-results" in one:
        raw = one["_max-results"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_RESULTS:
            raise pds_error("INVALID_VALUE", f"Invalid value - '{raw}' in field '_max-results': 1 to {MAX_RESULTS}")
        maximum = int(raw)
    family, givens = one.get("family"), [v for n, v in query if n == "given"]
    postcode = one.get("address-postalcode") or one.get("address-postcode")
    if fuzzy:
        combos = ((givens, family, births), (family, births, gender, postcode), (givens, births, gender, postcode))
        if not any(all(combo) for combo in combos):
            raise pds_error("INVALID_SEARCH_DATA", "Invalid search data provided - a fuzzy search needs given, "
                                                   "family and birthdate, or birthdate, gender and postcode with "
                                                   "family or given")
    else:
        if not births:
            raise pds_error("MISSING_VALUE", "Missing value - 'birthdate' (or a birthdate range)")
        if not family:
            raise pds_error("INVALID_SEARCH_DATA", "Invalid search data provided - no search was performed: the "
                                                   "criteria do not meet the minimum (family and birthdate)")
    family_re = _name_pattern(family, "family", fuzzy) if family else None
    given_res = [_name_pattern(g, "given", fuzzy) for g in givens]
    hides_restricted = bool(postcode or one.get("general-practitioner"))
    found: dict[str, dict] = {}
    for persona in personas:
        data = persona.demographics              # parsed once a persona (never a generated record)
        state = pds_facts.record_state(persona, data)
        if state in (pds_facts.ABSENT, pds_facts.INVALIDATED):
            continue
        if family_re and not family_re.match(data["name"]["family"].lower()):
            continue
        names_given = [g.lower() for g in data["name"].get("given", [])]
        if any(i >= len(names_given) or not p.match(names_given[i]) for i, p in enumerate(given_res)):
            continue
        if gender and data["gender"] != gender:
            continue
        if births and not _date_matches(data["birth_date"], births):
            continue
        if deaths and not _date_matches(data.get("deceased"), deaths):
            continue
        if postcode and not _postcode_matches(postcode, data.get("address")):
            continue
        if one.get("general-practitioner") and \
                one["general-practitioner"] != pds_facts.general_practitioner(persona, registry, settings, data):
            continue
        if one.get("email") and not _telecom(data, "email", one["email"].lower()):
            continue
        if one.get("phone") and not _telecom(data, "phone", one["phone"]):
            continue
        if hides_restricted and persona.sensitive:
            continue
        retained = persona
        if state == pds_facts.SUPERSEDED:
            retained = personas.get(persona.superseded_by)
            if retained is None or pds_facts.record_state(retained) != pds_facts.PRESENT:
                continue
        found[retained.nhs_number] = pds_fhir.patient(
            retained, pds_facts.general_practitioner(retained, registry, settings))
    patients = [found[n] for n in sorted(found)]
    facts = {"entries": len(patients)}
    if len(patients) > maximum:
        return outcome(pds_error("TOO_MANY_MATCHES", None)), 200, {**facts, "error": "TOO_MANY_MATCHES"}
    return pds_fhir.search_bundle(patients, origin), 200, facts


def _postcode_matches(wanted: str, address) -> bool:
    if not address:
        return False
    have = address["postcode"].replace(" ", "").lower()
    want = wanted.replace(" ", "").lower()
    if "*" in want:
        return re.match("^" + ".*".join(re.escape(p) for p in want.split("*")) + r"\Z", have) is not None
    return have == want


def _telecom(data, system: str, value: str) -> bool:
    return any(t["system"] == system and (t["value"].lower() if system == "email" else t["value"].replace(" ", ""))
               == (value if system == "email" else value.replace(" ", "")) for t in data.get("telecom") or ())


# --- the token endpoint and bearer tokens -------------------------------------------------------------------
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXPIRES_IN = 599
_KEY = b"mockprovider-pds-token"       # a mock: tokens are checkable, not secret


def _b64json(part: str):
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def issue_token(form: dict, *, strict: bool, token_url: str, now: float | None = None) -> tuple[dict, dict]:
    """(the token response, journal facts); raises the OAuth error."""
    grant = form.get("grant_type")
    if not grant:
        raise oauth("invalid_request", "grant_type is missing")
    if grant != "client_credentials":
        raise oauth("unsupported_grant_type", "grant_type is invalid: only client_credentials is supported")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise oauth("invalid_request", f"Missing or invalid client_assertion_type - must be '{ASSERTION_TYPE}'")
    assertion = form.get("client_assertion")
    if not assertion:
        raise oauth("invalid_request", "Missing client_assertion")
    parts = assertion.split(".")
    header, claims = (_b64json(parts[0]), _b64json(parts[1])) if len(parts) == 3 else (None, None)
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise oauth("invalid_request", "Malformed JWT in client_assertion")
    now = time.time() if now is None else now
    if strict:
        _check_assertion(header, claims, token_url, now)
    exp = claims.get("exp")
    issued = (exp - 300) if isinstance(exp, int) and not isinstance(exp, bool) else 0
    subject = claims.get("iss") if isinstance(claims.get("iss"), str) else ""
    payload = base64.urlsafe_b64encode(json.dumps({"iss": subject, "exp": issued + EXPIRES_IN},
                                                  separators=(",", ":")).encode()).rstrip(b"=").decode()
    signature = hmac.new(_KEY, payload.encode(), hashlib.sha256).hexdigest()[:32]
    body = {"access_token": f"{payload}.{signature}", "expires_in": str(EXPIRES_IN), "token_type": "Bearer",
            "issued_at": str(issued * 1000)}
    return body, {"client": subject or None}


def _check_assertion(header: dict, claims: dict, token_url: str, now: float) -> None:
    if not header.get("kid"):
        raise oauth("invalid_request", "Missing 'kid' header in client_assertion JWT")
    if header.get("alg") != "RS512":
        raise oauth("invalid_request", "Invalid 'alg' header in client_assertion JWT - must be 'RS512'")
    if not claims.get("iss") or claims.get("iss") != claims.get("sub"):
        raise oauth("invalid_request", "Missing or non-matching iss/sub claims in client_assertion JWT")
    if "jti" not in claims:
        raise oauth("invalid_request", "Missing 'jti' claim in client_assertion JWT")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise oauth("invalid_request", "Invalid 'jti' claim in client_assertion JWT - must be a unique string")
    if claims.get("aud") != token_url:
        raise oauth("invalid_request", f"Missing or invalid aud claim in JWT: it must be {token_url}", status=401)
    exp = claims.get("exp")
    if exp is None:
        raise oauth("invalid_request", "Missing 'exp' claim in client_assertion JWT")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise oauth("invalid_request", "Invalid 'exp' claim in client_assertion JWT - must be an integer")
    if exp < now:
        raise oauth("invalid_request", "Invalid 'exp' claim in client_assertion JWT - it has expired")
    if exp > now + 300:
        raise oauth("invalid_request", "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes ahead")


def check_bearer(authorization: str | None, *, strict: bool, now: float | None = None) -> None:
    """The PDS request's ``Authorization``: lenient, absent is fine and any bearer passes; a header
    that is not ``Bearer <token>`` is refused either way. Strict (``pds_auth = required``): a token this
    mock issued, not expired. Raises 401 ACCESS_DENIED."""
    if authorization is None:
        if strict:
            raise pds_error("ACCESS_DENIED", "Missing access token: get one from POST /oauth2/token")
        return
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise pds_error("ACCESS_DENIED", "Missing access token: Authorization must be 'Bearer <token>'")
    if not strict:
        return
    payload, _, signature = token.strip().partition(".")
    expected = hmac.new(_KEY, payload.encode(), hashlib.sha256).hexdigest()[:32]
    claims = _b64json(payload) if hmac.compare_digest(signature, expected) else None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise pds_error("ACCESS_DENIED", "Invalid access token: it was not issued by POST /oauth2/token")
    if claims["exp"] < (time.time() if now is None else now):
        raise pds_error("ACCESS_DENIED", "Access token expired: get a new one from POST /oauth2/token")
