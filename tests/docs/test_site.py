"""The documentation site builds strictly (a broken link, a missing anchor, page or snippet fails),
offline, and covers every section a consumer team looks for."""
from __future__ import annotations

import os
import subprocess
import sys

import yaml

from .conftest import DOCS, ROOT, load_tool

# The sections issue #27 names, each a page of the nav.
SECTIONS = ["getting-started.md", "interactions/index.md", "interactions/migrate-structured.md",
            "interactions/migrate-document.md", "interactions/retrieve-document.md", "interactions/find-patient.md",
            "interactions/read-patient.md", "interactions/search-documents.md", "interactions/metadata.md",
            "interactions/errors.md", "personas/index.md", "personas/format.md", "personas/cast.md",
            "personas/variants.md", "personas/import.md", "personas/generate.md", "personas/suppliers.md",
            "control/index.md", "control/faults.md", "control/journal.md", "console.md", "pytest-plugin.md",
            "gp2gp.md", "deployment.md", "configuration.md", "conformance.md", "reliability.md", "benchmarks.md",
            "architecture.md"]


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)     # mkdocs' !relative and friends


def config() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)


def nav_pages(items) -> list[str]:
    out = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_the_site_builds_strictly_and_offline(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    for page in nav_pages(config()["nav"]):
        assert (site / page.replace(".md", ".html")).is_file(), page
    html = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    cast = (site / "personas" / "cast.html").read_text(encoding="utf-8")
    assert "9690938576" in cast and "NO_PATIENT_CONSENT" in cast          # the cast table, from the README
    control = (site / "control" / "index.html").read_text(encoding="utf-8")
    assert "sensitive=true|false" in control and "true\\|false" not in control   # the hook's unescape


def test_the_build_fetches_nothing():
    """Material's web fonts are off and no plugin that downloads (privacy, social) is enabled."""
    cfg = config()
    assert cfg["theme"]["name"] == "material" and cfg["theme"]["font"] is False
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in cfg.get("plugins", [])]
    assert not {"privacy", "social", "material/privacy", "material/social"} & set(plugins)
    assert cfg["strict"] is True


def test_every_section_the_issue_names_is_in_the_nav_and_every_page_too():
    pages = nav_pages(config()["nav"])
    assert set(SECTIONS) <= set(pages)
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk == set(pages), "every page of docs/ is in mkdocs.yml's nav, and every nav entry exists"


def test_pipes_in_table_code_are_unescaped_for_the_site_only():
    hooks = load_tool("mkdocs_hooks")
    text = "| `a\\|b` | x \\| y |\n```\n| `c\\|d` |\n```\n`e\\|f`"
    assert hooks.unescape_table_code(text) == "| `a|b` | x \\| y |\n```\n| `c\\|d` |\n```\n`e\\|f`"


def test_console_screenshots_live_once_where_the_site_shows_them():
    pictures = sorted(p.name for p in ROOT.rglob("*.png") if ".venv" not in p.parts and "node_modules" not in p.parts
                      and "site" not in p.parts and "personas" not in p.parts)
    assert pictures and len(pictures) == len(set(pictures)), pictures
    shown = (DOCS / "console.md").read_text()
    for picture in (DOCS / "images" / "console").glob("*.png"):
        assert f"images/console/{picture.name}" in shown
    from tests.console import conftest as console
    assert console.SCREENSHOTS == DOCS / "images" / "console"
