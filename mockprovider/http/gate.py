"""The request gate: the checks every FHIR request passes before any interaction runs.

Order (what the assurance suite's expectations imply, errors.md §3):
  1. path        -> 501 NOT_IMPLEMENTED for an unknown path, 400 BAD_REQUEST for a wrong verb
  2. body size   -> 400 BAD_REQUEST over the limit (read no further)
  3. media types -> 415 UNSUPPORTED_MEDIA_TYPE (FHIR JSON or XML; _format wins over Accept, then the
                    body's Content-Type; JSON by default)
  4. Ssp-* headers -> 400 BAD_REQUEST (Ssp-InteractionID picks the interaction among those on the path)
  5. bearer JWT  -> 400 BAD_REQUEST / 422 INVALID_RESOURCE (mockprovider.http.bearer)

Lenient validation (flag ``validation = lenient``) relaxes exactly what docs/interactions/index.md lists; every
relaxation used is returned as a finding for the request journal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from ..errors import SpineError
from ..registry import practices
from . import bearer, routes

UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z")
ASID_RE = re.compile(r"^[0-9]{1,20}\Z")

JSON_TYPES = {"application/fhir+json", "application/json+fhir", "application/json", "json",
              "*/*", "application/*"}
XML_TYPES = {"application/fhir+xml", "application/xml+fhir", "application/xml", "xml", "text/xml"}


@dataclass
class Passed:
    """What a request that passed the gate carries into its interaction."""
    interaction: routes.Interaction
    params: dict
    target: routes.Target
    trace_id: str
    from_asid: str | None
    claims: bearer.Claims
    findings: list = field(default_factory=list)
    format: str = "json"           # the answer's format: json | xml
    body_format: str = "json"      # the request body's format: json | xml
    practice: object = None        # the registry's Practice the path names (mockprovider.registry.practices)


def bad(diagnostics: str) -> SpineError:
    return SpineError("BAD_REQUEST", diagnostics)


def resolve_path(path: str, method: str, registry):
    """Step 1: the path and verb -> (target, ((interaction, params), ...) for this verb, practice).

    The practice is the registry's practice at the path's ODS code (mockprovider.registry.practices):
    an ODS no served practice has, a root it does not publish or an interaction it does not offer is
    501 NOT_IMPLEMENTED, as any path the mock does not serve. A pure function of its arguments, so
    a path resolved once is remembered (bounded: paths are whatever clients send); a refusal raises
    every time. The params are read-only."""
    return _resolve_path(path, method, registry)


@lru_cache(maxsize=1024)
def _resolve_path(path: str, method: str, registry):
    target = routes.resolve(path)
    default = registry.default.ods
    if target is None:
        raise SpineError("NOT_IMPLEMENTED", f"No FHIR service at {path!r}; this mock serves "
                         f"/{default}/STU3/1/gpconnect/structured/fhir, .../documents/fhir and .../fhir")
    practice = registry.served(target.ods)
    if practice is None:
        if len(registry.practices) == 1:
            raise SpineError("NOT_IMPLEMENTED", f"This mock serves practice {default}, not {target.ods!r}")
        served = ", ".join(p.ods for p in registry.practices if p.served)
        raise SpineError("NOT_IMPLEMENTED", f"This mock serves practices {served}, not {target.ods!r}")
    if not practice.serves_root(target.root):
        roots = sorted(set(practice.roots.values()))
        raise SpineError("NOT_IMPLEMENTED", f"Practice {practice.ods} publishes no service root {target.root}; "
                                            f"its roots: {', '.join(roots)}")
    found = [(i, p) for i, p in routes.candidates(target) if practice.offers(i.name)]
    if not found:
        raise SpineError("NOT_IMPLEMENTED", f"{target.rest or '/'!s} is not an operation or resource "
                         f"this provider implements under {target.root}")
    same_verb = tuple((i, MappingProxyType(p)) for i, p in found
                      if i.method == method or (method == "HEAD" and i.method == "GET"))
    if not same_verb:
        allowed = sorted({i.method for i, _ in found})
        raise bad(f"HTTP verb {method} is not valid for {target.rest}; use {' or '.join(allowed)}")
    return target, same_verb, practice


def identify(path: str, method: str, interaction_id: str | None) -> str | None:
    """The interaction a request's path names, for the journal of a refused request: the one
    interaction at that path (for this verb, when any has it), or the one among several that
    Ssp-InteractionID picks; None when the path names none or it stays ambiguous."""
    target = routes.resolve(path)
    if target is None:
        return None
    found = [i for i, _ in routes.candidates(target)]
    same_verb = [i for i in found if i.method == method or (method == "HEAD" and i.method == "GET")]
    found = same_verb or found
    if len(found) > 1 and interaction_id:
        found = [i for i in found if interaction_id in i.ids] or found
    return found[0].name if len(found) == 1 else None


def _media_words(value: str) -> list[str]:
    return [part.split(";")[0].strip().lower() for part in value.split(",") if part.strip()]


def _format_word(word: str) -> str | None:
    if word in JSON_TYPES:
        return "json"
    if word in XML_TYPES:
        return "xml"
    return None


def _query_word(fmt: str) -> str:
    # An unencoded '+' in a query string arrives as a space (application/fhir json).
    return fmt.split(";")[0].strip().lower().replace(" ", "+")


def preferred_format(accept: str | None, fmt: str | None, content_type: str | None = None) -> str:
    """The format an answer (an error too) goes out in, never raising: ``_format`` wins over
    ``Accept``; with neither, the request body's format; JSON when nothing names a supported one."""
    if fmt is not None:
        return _format_word(_query_word(fmt)) or "json"
    for word in _media_words(accept or ""):
        found = _format_word(word)
        if found:
            return found
    if not accept and content_type:
        return _format_word((_media_words(content_type) or [""])[0]) or "json"
    return "json"


def check_media(method: str, accept: str | None, fmt: str | None, content_type: str | None,
                has_body: bool, strict: bool, findings: list) -> tuple[str, str]:
    """Step 3: (response format, request body format), each "json" or "xml".

    General API guidance: ``_format`` overrides ``Accept``; with neither, answer in the request's
    Content-Type format; otherwise JSON. A format the mock does not serve is 415."""
    body_format = "json"
    if method == "POST":
        if not content_type:
            if strict:
                raise SpineError("UNSUPPORTED_MEDIA_TYPE",
                                 "Content-Type is missing; send application/fhir+json;charset=utf-8 "
                                 "or application/fhir+xml;charset=utf-8")
            findings.append("Content-Type missing (lenient); body read as JSON")
        else:
            # (a Content-Type of only commas or spaces names no type at all: 415 as well)
            word = (_media_words(content_type) or [""])[0]
            body_format = _format_word(word) if word not in ("*/*", "application/*") else None
            if body_format is None:
                raise SpineError("UNSUPPORTED_MEDIA_TYPE", f"Content-Type {content_type!r} is not supported; "
                                                           "use application/fhir+json or application/fhir+xml")
    if fmt is not None:
        answer = _format_word(_query_word(fmt))
        if answer is None:
            raise SpineError("UNSUPPORTED_MEDIA_TYPE", f"_format={fmt!r} is not a FHIR format; use "
                                                       "application/fhir+json or application/fhir+xml")
        return answer, body_format
    if accept:
        for word in _media_words(accept):
            answer = _format_word(word)
            if answer:
                return answer, body_format
        if strict:
            raise SpineError("UNSUPPORTED_MEDIA_TYPE", f"Accept {accept!r} names no supported format; "
                                                       "use application/fhir+json or application/fhir+xml")
        findings.append(f"Accept {accept!r} ignored (lenient); answered in JSON")
        return "json", body_format
    return (body_format if method == "POST" else "json"), body_format


def check_headers(headers, candidates, provider_asid: str, strict: bool, findings: list):
    """Step 4: Ssp-TraceID, Ssp-From, Ssp-To, Ssp-InteractionID -> (interaction, params, trace, from)."""
    trace = headers.get("Ssp-TraceID")
    if not trace:
        raise bad("Ssp-TraceID header is missing")
    if not UUID_RE.match(trace):
        raise bad(f"Ssp-TraceID {trace!r} is not a UUID")
    from_asid = headers.get("Ssp-From")
    if from_asid is None and not strict:
        findings.append("Ssp-From missing (lenient)")
    elif not from_asid:
        raise bad("Ssp-From header is missing")
    elif not ASID_RE.match(from_asid):
        raise bad(f"Ssp-From {from_asid!r} is not an ASID (digits only)")
    to_asid = headers.get("Ssp-To")
    if to_asid is None and not strict:
        findings.append("Ssp-To missing (lenient)")
    elif not to_asid:
        raise bad("Ssp-To header is missing")
    elif to_asid != provider_asid:
        raise bad(f"Ssp-To {to_asid!r} is not this provider's ASID")
    interaction_id = headers.get("Ssp-InteractionID")
    if not interaction_id:
        raise bad("Ssp-InteractionID header is missing")
    for interaction, params in candidates:
        if interaction_id in interaction.ids:
            return interaction, params, trace, from_asid
    expected = " or ".join(i for c, _ in candidates for i in c.ids)
    raise bad(f"Ssp-InteractionID {interaction_id!r} does not match this request; expected {expected}")


def check_request(*, path, method, headers, query_format, body_length, settings, flags, registry=None) -> Passed:
    """Steps 1 and 3-5 (the body itself is read by the HTTP layer, which applies step 2).
    ``registry``: the practices registry (None: the one the settings name)."""
    strict = flags["validation"] != "lenient"
    findings: list = []
    if registry is None:
        registry = practices.for_settings(settings)
    target, same_verb, practice = resolve_path(path, method, registry)
    try:
        passed = _check_resolved(target, same_verb, method, headers, query_format, body_length, settings,
                                 strict, findings, practice)
        if flags.get("jwt_aud", "url") == "practice-root":
            check_aud(passed, practice, headers)
        return passed
    except SpineError as error:
        # The path is known: name the interaction for the journal from what is already resolved
        # (what identify() would find again), or None when Ssp-InteractionID leaves it ambiguous.
        found = [i for i, _ in same_verb]
        interaction_id = headers.get("Ssp-InteractionID")
        if len(found) > 1 and interaction_id:
            found = [i for i in found if interaction_id in i.ids] or found
        error.interaction = found[0].name if len(found) == 1 else None
        raise


def _check_resolved(target, same_verb, method, headers, query_format, body_length, settings, strict,
                    findings, practice) -> Passed:
    if body_length is not None and body_length > settings.max_body_bytes:
        raise bad(f"Request body of {body_length} bytes is over the limit of {settings.max_body_bytes}")
    answer_format, body_format = check_media(method, headers.get("Accept"), query_format,
                                             headers.get("Content-Type"), bool(body_length), strict, findings)
    interaction, params, trace, from_asid = check_headers(headers, same_verb, practice.asid,
                                                          strict, findings)
    claims = bearer.check(headers.get("Authorization"), interaction, strict=strict,
                          leeway=settings.jwt_leeway_seconds)
    if not strict and claims.payload.get("aud") in (None, ""):
        findings.append("JWT aud missing or empty (lenient)")
    return Passed(interaction, params, target, trace, from_asid, claims, findings, answer_format, body_format,
                  practice)


def check_aud(passed: Passed, practice, headers) -> None:
    """Flag ``jwt_aud = practice-root``: the JWT ``aud`` must be the service root SDS publishes for
    this practice and interaction (jwt.md: "the provider's service root URL ... as returned by SDS").
    For a practice without a registered host any scheme and host are accepted, since SDS publishes
    it on the host the consumer called."""
    name = passed.interaction.name
    if name not in practice.roots:
        return                      # not an interaction SDS publishes (the foundations metadata)
    aud = passed.claims.payload.get("aud")
    root = f"/{practice.ods}/STU3/1/{practice.roots[name]}"
    if isinstance(aud, str):
        given = aud.rstrip("/")
        if practice.host:
            if given == practice.address(name, ""):
                return
        else:
            scheme, sep, rest = given.partition("://")
            if sep and scheme in ("http", "https") and "/" in rest and rest[rest.index("/"):] == root:
                return
    expected = practice.address(name, "") if practice.host else f"<scheme>://<host>{root}"
    raise bad(f"JWT claim aud {aud!r} is not the service root SDS publishes for {name} at practice "
              f"{practice.ods} ({expected}); flag jwt_aud is practice-root")
