"""Every shell example of docs/interactions/retrieve-structured.md runs as written against a real server
(only the host changes) and gets the answer it promises: the page cannot drift from the mock."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live.conftest import LiveServer

pytestmark = pytest.mark.live
DOC = Path(__file__).resolve().parents[2] / "docs" / "interactions" / "retrieve-structured.md"


def blocks() -> list[str]:
    """The page's own examples: the helpers block, then one per area (the generated request to copy at
    the top is run by tests/docs/test_cli_lines.py)."""
    text = re.sub(r"<!-- generated:.*?<!-- end generated[^>]*-->", "", DOC.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"```sh\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def server():
    s = LiveServer(workers=1)
    yield s
    s.stop()


def test_the_page_has_a_curl_example_per_area():
    text = "\n".join(blocks()[1:])
    for area in ("includeAllergies", "includeMedication", "includeConsultations", "includeProblems",
                 "includeImmunisations", "includeUncategorisedData", "includeInvestigations", "includeReferrals",
                 "includeDiaryEntries"):
        assert area in text, area
    for example in blocks()[1:-1]:
        for header in ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID", "Authorization: Bearer $(jwt)"):
            assert header in example, (header, example[:80])


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
@pytest.mark.parametrize("index", range(1, len(blocks())))
def test_each_example_answers_a_bundle(server, index):
    helpers = blocks()[0].replace("http://127.0.0.1:8080", server.url)
    script = helpers + "\n" + blocks()[index].replace("http://127.0.0.1:8080", server.url)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["resourceType"] == "Bundle", done.stdout[:500]
    assert any(e["resource"]["resourceType"] == "List" for e in body["entry"])
