"""GPConnect-Searchset-Bundle-1: the Bundle of the documents searches (find patient, search documents).

``Bundle.id`` is the request's Ssp-TraceID; everything else is deterministic, so a searchset is
built once with :data:`~mockprovider.fhir.render.TRACE_PLACEHOLDER` as its id and served through
:class:`~mockprovider.fhir.render.Spliced`.
"""
from __future__ import annotations

from .. import spec
from .render import TRACE_PLACEHOLDER, Spliced, to_json_bytes


def searchset(base: str, matches: list[dict], includes: list[dict] = ()) -> dict:
    """A searchset of ``matches`` then ``includes`` (no ``total``, no ``entry.search``: the profile forbids them).

    base: absolute URL of the service root the resources live under (fullUrl = base/Type/id).
    """
    # GPConnect-Searchset-Bundle-1 sets Bundle.total and entry.search to max 0 (the Access Document
    # pages are silent and their example searchsets carry neither), so matches and includes are told
    # apart by resource type only.
    entries = []
    for resource in [*matches, *includes]:
        entries.append({"fullUrl": f"{base.rstrip('/')}/{resource['resourceType']}/{resource['id']}",
                        "resource": resource})
    bundle = {"resourceType": "Bundle", "id": TRACE_PLACEHOLDER,
              "meta": {"profile": [spec.PROFILE_SEARCHSET_BUNDLE]}, "type": "searchset"}
    if entries:
        bundle["entry"] = entries
    return bundle


def spliced(bundle: dict) -> Spliced:
    return Spliced(to_json_bytes(bundle))
