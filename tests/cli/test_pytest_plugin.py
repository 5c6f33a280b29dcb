"""The gpconnect_provider pytest plugin, as a consumer team uses it: installed with the package
(entry point pytest11), a test file of their own, a plain `python -m pytest` (issue #15)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parents[2]

CONSUMER_TESTS = '''
import json, urllib.request
from tests import helpers as h

PERSONA = {"nhs_number": "9000000009", "name": {"family": "Plugin"}, "gender": "female",
           "birth_date": "1980-01-01"}


def migrate(provider, nhs):
    request = urllib.request.Request(provider.structured_root + "/Patient/$gpc.migratestructuredrecord",
                                     data=json.dumps(h.migrate_body(nhs)).encode(),
                                     headers=h.migrate_headers(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_put_persona_is_served(gpconnect_provider):
    gpconnect_provider.control.put_persona("9000000009", PERSONA)
    status, bundle = migrate(gpconnect_provider, "9000000009")
    assert status == 200 and bundle["resourceType"] == "Bundle"
    assert gpconnect_provider.control.requests(1)[0]["interaction"] == "migrate_structured"


def test_the_next_test_starts_from_the_start_up_cast(gpconnect_provider):
    assert gpconnect_provider.control.requests() == []          # the journal was emptied too
    assert migrate(gpconnect_provider, "9000000009")[0] == 404


def test_roots_and_session_scope(gpconnect_provider, request):
    p = gpconnect_provider
    assert p.structured_root == p.url + "/B82617/STU3/1/gpconnect/structured/fhir"
    assert p.documents_root == p.url + "/B82617/STU3/1/gpconnect/documents/fhir"
    assert p.single_root == p.url + "/B82617/STU3/1/gpconnect/fhir"
    assert p is request.getfixturevalue("gpconnect_provider")
    assert "mockprovider serving " + p.url in p.output()
'''


def test_a_consumer_suite_uses_the_fixture(tmp_path):
    (tmp_path / "test_consumer.py").write_text(textwrap.dedent(CONSUMER_TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\ngpconnect_provider_workers = 2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKPROVIDER_", "PYTEST_"))}
    env["PYTHONPATH"] = str(REPO)          # only for tests.helpers (headers); the plugin comes from the install
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_the_plugin_is_registered_as_an_entry_point():
    from importlib.metadata import entry_points
    found = [e for e in entry_points(group="pytest11") if e.name == "gpconnect_provider"]
    assert [e.value for e in found] == ["mockprovider.pytest_plugin"]
