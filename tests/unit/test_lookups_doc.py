"""docs/lookups.md cannot drift: its persona table is what PDS, SDS and the provider answer now (every
built-in persona, asked through the HTTP layer by tools/lookup_table.py), and every error code, flag,
quirk and interaction the code knows is documented there."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mockprovider import lookup_errors
from mockprovider.state import faults
from mockprovider.registry import practices
from mockprovider.http.control_details import FLAG_GROUPS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "lookups.md"


def _tool():
    spec = importlib.util.spec_from_file_location("lookup_table", ROOT / "tools" / "lookup_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_persona_table_is_what_pds_sds_and_the_provider_answer():
    tool = _tool()
    page = DOC.read_text(encoding="utf-8")
    assert tool.current_table(page) == tool.table(), \
        "docs/lookups.md's persona table is stale: run .venv/bin/python tools/lookup_table.py --write"


def test_the_table_has_every_built_in_persona():
    from mockprovider.config import Settings
    from mockprovider.personas.store import PersonaStore
    page = DOC.read_text(encoding="utf-8")
    table = _tool().current_table(page)
    for persona in PersonaStore.load(Settings().personas):
        assert f"| {persona.nhs_number} |" in table


def test_every_code_flag_quirk_and_interaction_is_documented():
    page = DOC.read_text(encoding="utf-8")
    codes = {row.code for row in lookup_errors.SDS.values()} | set(lookup_errors.PDS) | set(lookup_errors.OAUTH)
    missing = sorted(c for c in codes if f"`{c}`" not in page)
    assert not missing, f"undocumented codes: {missing}"
    flags = [name for name, group in FLAG_GROUPS.items() if group == "Lookups"]
    assert flags and all(f"`{name}`" in page for name in flags)
    assert all(f"`{quirk}`" in page for quirk in practices.QUIRKS)
    assert all(f"`{name}`" in page for name in practices.SERVICES)
    assert all(f"`{name}`" in page for name in faults.LOOKUP_INTERACTIONS)
    assert all(f"`{key}`" in page for key in practices.PRACTICE_KEYS | practices.CONSUMER_KEYS)
