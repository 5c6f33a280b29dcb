"""Records in the shape the two largest GP system suppliers send through GP Connect.

``supplier_record(persona, ods_code) -> {"entries", "attachments", "confidential"}``: the record
of a persona's ``supplier_record`` section (``{"style": "emis"|"tpp", "seed", "volume"}``), made
on first use and kept (a heavy record is ~2,000+ resources). Served like an imported Bundle
(:mod:`mockprovider.fhir.served_record`). Styles: :mod:`.styles`; content: :mod:`.builder`;
terminology: :mod:`.terms`.

Imports: as the rest of ``fhir`` (``record``, ``domain``, ``spec``, ``errors``, ``config``).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict

from .builder import VOLUMES, build
from .styles import STYLES

__all__ = ["STYLES", "VOLUMES", "supplier_record"]

_CACHE_MAX = 8          # records kept (a heavy one is a few MB of dicts); the Bundle cache keeps bytes
_cache: "OrderedDict[tuple, dict]" = OrderedDict()
_lock = threading.Lock()


def supplier_record(persona, ods_code: str) -> dict:
    data = persona.data
    spec = data["supplier_record"]
    key = (data["nhs_number"], json.dumps(spec, sort_keys=True), ods_code,
           json.dumps(data.get("documents") or [], sort_keys=True))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    record = build(data, spec, ods_code)
    with _lock:
        _cache[key] = record
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)
    return record
