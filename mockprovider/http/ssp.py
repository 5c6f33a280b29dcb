"""The Spine Secure Proxy's own refusals, for requests in the proxy form ``/https://host/{ODS}/...``.

With the run-time flag ``ssp_checks`` on, a request in the proxy form passes the checks the proxy
makes before it forwards anything (the GP Connect error-handling guidance, "Spine Secure Proxy (SSP)
errors"; the SSP page), in this order, each answered in the SSP's own OperationOutcome shape
(mockprovider.fhir.outcome.proxy_outcome; errors.SSP_REFUSALS):

1. the embedded service root is not an address SDS publishes for the practice (any of its
   interactions; no ODS on SDS publishes none)
   -> 400 ``ENDPOINT_<published>_CPAID_<MHS id>_VARIES_FROM_TARGETURL_<target>``;
2. ``Ssp-From`` is not a registered consumer system for the interaction ``Ssp-InteractionID`` names
   (mockprovider.registry.practices.Registry.consumer_allowed)
   -> 403 ``ASID_CHECK_FAILED_MESSAGESENDER_<Ssp-From>``;
3. ``Ssp-To`` is not the practice's ASID, or the practice does not offer that interaction
   -> 403 ``PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_<Ssp-To>``.

Whatever the flag, a practice the registry marks ``unreachable`` cannot be reached through the proxy:
-> 502 ``ERROR_COMMUNICATING_TO_ENDPOINT_URL_<target URL>`` (a direct request is served: the mock
itself is reachable). A request not in the proxy form never meets the proxy, so none of this applies.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..fhir.outcome import proxy_outcome
from ..fhir.render import to_json_bytes
from ..registry.practices import BY_INTERACTION_ID
from . import gate, routes
from .responses import fhir_response

_PROXIED = re.compile(r"^/(https?):/+([^/]+)\Z")


@dataclass(frozen=True)
class Refusal:
    status: int
    text: str            # the coded text: display and diagnostics


def check(runtime, environ, headers, flags) -> Refusal | None:
    """The proxy's refusal of this request, or None (not proxied, or it passes)."""
    path = environ.get("PATH_INFO", "/")
    target = routes.resolve(path)
    if target is None or not target.proxy_prefix:
        return None
    registry = runtime.practices
    practice = registry.get(target.ods)
    m = _PROXIED.match(target.proxy_prefix)
    scheme, host = (m.group(1), m.group(2)) if m else ("https", "")
    embedded = f"{scheme}://{host}/{target.ods}/STU3/1/{target.root}"
    target_url = f"{scheme}://{host}{path[len(target.proxy_prefix):]}"
    if flags.get("ssp_checks"):
        refused = _checks(registry, practice, target, host, embedded, target_url, headers)
        if refused is not None:
            return refused
    if practice is not None and "unreachable" in practice.quirks:
        return Refusal(502, f"ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target_url}")
    return None


def _checks(registry, practice, target, host, embedded, target_url, headers) -> Refusal | None:
    published = _published(practice, host) if practice is not None and practice.on_sds else []
    if embedded.rstrip("/") not in {address for address, _ in published} and \
            not _same_path(practice, target, published):
        shown = published[0][0] if published else f"(none: {target.ods} is not on SDS)"
        cpa = practice.mhs_id if practice is not None and practice.on_sds else "(none)"
        return Refusal(400, f"ENDPOINT_{shown}_CPAID_{cpa}_VARIES_FROM_TARGETURL_{embedded}")
    name = BY_INTERACTION_ID.get(headers.get("Ssp-InteractionID") or "")
    sender = headers.get("Ssp-From")
    if name is None or not registry.consumer_allowed(sender, name):
        return Refusal(403, f"ASID_CHECK_FAILED_MESSAGESENDER_{sender or ''}")
    receiver = headers.get("Ssp-To")
    if receiver != practice.asid or not practice.offers(name) or name not in practice.roots:
        return Refusal(403, f"PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{receiver or ''}")
    return None


def _published(practice, host) -> list[tuple[str, str]]:
    """(address without a trailing slash, interaction) for every interaction the practice publishes,
    on its registered host, else on the host the consumer put in the proxy form."""
    origin = f"https://{host}"
    return [(practice.address(name, origin).rstrip("/"), name) for name in practice.roots]


def _same_path(practice, target, published) -> bool:
    """A practice without a registered host is published on whatever host the consumer called SDS
    on: only the path of the embedded root is compared (its scheme and host are the consumer's)."""
    if practice is None or practice.host or not published:
        return False
    return f"{target.ods}/STU3/1/{target.root}" in {f"{practice.ods}/STU3/1/{practice.roots[n]}"
                                                     for _, n in published}


def refusal(refused: Refusal, entry: dict, runtime, started: float, environ):
    """The SSP's answer (JSON: the proxy does not negotiate) and its journal entry."""
    body = to_json_bytes(proxy_outcome(refused.status, refused.text, display=refused.text))
    answer = fhir_response(body, status=refused.status)
    entry["interaction"] = gate.identify(environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"],
                                         environ.get("HTTP_SSP_INTERACTIONID"))
    entry["status"] = refused.status
    entry["ssp"] = refused.text
    entry["diagnostics"] = refused.text
    entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
    try:
        runtime.control.record(entry)
    except Exception:   # the journal must never break a response
        pass
    return answer
