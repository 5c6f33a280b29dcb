"""Golden files: every built-in persona that renders, byte for byte.

Each built-in persona is migrated at its home practice (both sensitivity choices, default flags, the
JWT ODS set to its PDS registered practice) with a fixed Ssp-TraceID; a 200 body must equal
``tests/golden/migrate_structured/<NHS number>-<sensitive|standard>.json`` exactly.

A body over :data:`BIG` bytes (the ~3 MB large-record persona) is pinned by its SHA-256 in
``<name>.sha256`` instead, so megabytes of JSON are not committed; the check is still byte for byte.

Regenerate after an intended change to personas or rendering, then review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/api/test_golden_structured.py
"""
import hashlib
import json
import os
from pathlib import Path


from tests import helpers as h

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "migrate_structured"
TRACE_ID = "2b1e6c0a-5f4d-4c7e-9a3b-0d8f1e2c3b4a"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
URL = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
BIG = 512 * 1024


def pinned(name: str, body: bytes) -> tuple[str, bytes]:
    """The golden file's name and content for one rendered body."""
    if len(body) > BIG:
        return name.replace(".json", ".sha256"), (hashlib.sha256(body).hexdigest() + "\n").encode()
    return name, body


def render_all(client, personas, app=None):
    out = {}
    for persona in personas:
        # each persona at its home practice (the registry's; B82617's structured root for all but the
        # personas of the other practices, so the URL and every byte are as before for those)
        home = h.home_migrate(app, persona) if app is not None else (URL, h.PROVIDER_ASID)
        if home is None:
            continue
        url, provider_asid = home
        for sensitive in (False, True):
            headers = h.migrate_headers(sensitive, ods=persona.registered_practice_ods or h.CONSUMER_ODS)
            headers["Ssp-TraceID"] = TRACE_ID
            headers["Ssp-To"] = provider_asid
            r = client.post(url, data=json.dumps(h.migrate_body(persona.nhs_number, sensitive)), headers=headers)
            if r.status_code == 200:
                name, content = pinned(f"{persona.nhs_number}-{'sensitive' if sensitive else 'standard'}.json",
                                       r.data)
                out[name] = content
    return out


def test_golden_files(client, app):
    rendered = render_all(client, app.extensions["mockprovider"].personas, app)
    assert rendered
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in [*GOLDEN.glob("*.json"), *GOLDEN.glob("*.sha256")]:
            if old.name not in rendered:
                old.unlink()
        for name, body in rendered.items():
            (GOLDEN / name).write_bytes(body)
    existing = {p.name for p in [*GOLDEN.glob("*.json"), *GOLDEN.glob("*.sha256")]}
    hint = "regenerate with UPDATE_GOLDEN=1 (see this file's docstring) and review the diff"
    assert existing == set(rendered), f"golden files differ from rendering personas: {hint}"
    for name, body in sorted(rendered.items()):
        assert (GOLDEN / name).read_bytes() == body, f"{name} changed: {hint}"
