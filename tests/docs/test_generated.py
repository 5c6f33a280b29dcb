"""Tables that mirror code are generated from it (tools/docs_generate.py, make docs-generate), and a
page that differs from what the code says fails here: run `make docs-generate` and commit."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .conftest import DOCS, ROOT, load_tool


@pytest.fixture(scope="module")
def generate():
    return load_tool("docs_generate")


def test_every_generated_page_says_what_the_code_says(generate):
    differ = [str(page.relative_to(ROOT)) for page in generate.stale(generate.expected())]
    assert not differ, f"run `make docs-generate` and commit: {differ}"


def test_every_generated_part_is_on_exactly_one_page(generate):
    import re
    seen = {}
    for page in DOCS.rglob("*.md"):
        for name in re.findall(r"<!-- generated: ([a-z0-9_-]+)", page.read_text(encoding="utf-8")):
            seen.setdefault(name, []).append(page)
    assert set(seen) == set(generate.generators())
    assert all(len(pages) == 1 for pages in seen.values()), seen


def _page(generate, relative):
    return generate.expected()[DOCS / relative]


def test_changing_a_default_in_code_changes_the_configuration_page(generate, monkeypatch):
    from mockprovider import config

    @dataclass(frozen=True)
    class Changed(config.Settings):
        journal_size: int = field(default=501, metadata=config.FIELDS["journal_size"].metadata)
        retrieve_document_limit_bytes: int = field(default=6 * config.MB,
                                                   metadata=config.FIELDS["retrieve_document_limit_bytes"].metadata)

    before = _page(generate, "configuration.md")
    monkeypatch.setattr(config, "Settings", Changed)
    after = _page(generate, "configuration.md")
    assert after != before
    assert "| `MOCKPROVIDER_JOURNAL_SIZE` |" in after and "`501`" in after and "(6 MiB)" in after


def test_a_new_setting_fault_kind_and_error_code_appear_without_editing_the_generator(generate, monkeypatch):
    from mockprovider import config, errors
    from mockprovider.state import faults

    @dataclass(frozen=True)
    class More(config.Settings):
        brand_new: str = field(default="x", metadata={"runtime": False, "choices": None, "doc": "a new one"})

    monkeypatch.setattr(config, "Settings", More)
    monkeypatch.setattr(faults, "KINDS", faults.KINDS + ("stutter",))
    monkeypatch.setitem(faults.KIND_DOCS, "stutter", "the body twice")
    monkeypatch.setitem(faults.KIND_FIELDS, "stutter", ())
    monkeypatch.setitem(errors.TABLE, "BRAND_NEW", errors.SpineCode("BRAND_NEW", 418, "invalid", "New", "New"))
    assert "`MOCKPROVIDER_BRAND_NEW`" in generate.settings_table()
    assert "`stutter`" in generate.fault_kinds_table()
    assert "`BRAND_NEW`" in generate.spine_errors_table()


def test_a_stale_page_is_reported(generate):
    wanted = generate.expected()
    page = DOCS / "interactions" / "errors.md"
    assert generate.stale(wanted) == []
    wanted[page] = wanted[page].replace("| `NO_RECORD_FOUND` | 404 |", "| `NO_RECORD_FOUND` | 410 |")
    assert generate.stale(wanted) == [page]
