"""The README: short, its first lines as they were, every link resolving, and its tour working."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PERSONAS_README, README, ROOT, anchors, code_blocks, links, markdown_files

FIRST_LINES = """# mockprovider — a mock GP Connect provider

```sh
make run    # creates .venv, installs, serves the mock on http://127.0.0.1:8080 with the built-in personas
make test   # creates .venv, installs, runs the whole test suite
```
"""


def test_readme_is_short_and_starts_as_it_always_did():
    text = README.read_text(encoding="utf-8")
    assert text.startswith(FIRST_LINES)
    assert len(text.splitlines()) <= 150


def test_readme_names_make_tests_prerequisites_and_how_to_reach_the_cli():
    text = README.read_text(encoding="utf-8").split("## ", 1)[0]      # before the first section
    for needed in ("root", "apt-get", "chromium", "redis-server", "nginx", "nodejs", "npm", "minutes",
                   ".venv/bin/mockprovider", ". .venv/bin/activate"):
        assert needed in text, needed


@pytest.mark.parametrize("page", [README, PERSONAS_README], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(page):
    """Relative links to files that exist and, with a #fragment, to a heading there (GitHub's anchors).
    Links inside docs/ are checked by the strict site build as well."""
    for target in links(page):
        if re.match(r"^[a-z]+://", target):
            pytest.fail(f"{page.name}: link to outside the repository: {target} (name the page in text instead)")
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if fragment:
            assert fragment in anchors(resolved), f"{page.name}: {target}: no heading with that anchor"


def test_no_page_links_outside_what_exists():
    """The docs pages name repository files in code spans; their links stay inside docs/."""
    for page in markdown_files():
        for target in links(page):
            assert not target.startswith(("/", "file:")), f"{page}: {target}"


@pytest.mark.live
def test_the_five_minute_tour_works_as_written(tmp_path):
    from tests.live.conftest import LiveServer

    assert shutil.which("curl")
    text = README.read_text(encoding="utf-8")
    tour = next(block for block in code_blocks(text.split("## A five-minute tour", 1)[1]))
    server = LiveServer(workers=1)
    try:
        script = tour.replace("http://127.0.0.1:8080", server.url).replace(
            ".venv/bin/mockprovider", str(Path(sys.executable).parent / "mockprovider"))
        markers = "\n".join(f"echo '@@{n}'\n{step}" for n, step in enumerate(script.split("\n\n"), 1))
        env = {**os.environ, "MOCKPROVIDER_URL": server.url}
        out = subprocess.run(["bash", "-e", "-c", markers], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        steps = dict(part.split("\n", 1) for part in out.stdout.split("@@")[1:])
        assert json.loads((tmp_path / "record.json").read_text())["resourceType"] == "Bundle"
        assert steps["2"].startswith('{"resourceType":"Binary"')
        assert '"status":503' in steps["3"].replace(" ", "") or "503" in steps["3"]
        assert "OperationOutcome" in steps["3"]
        journal = json.loads(steps["4"])
        assert [row["status"] for row in journal] == [503, 200, 200]
        assert json.loads(steps["5"])
    finally:
        server.stop()
