"""PUT /_control/personas/{nhs} with a GP Connect structured Bundle (application/fhir+json): the
Bundle is imported as a run-time persona (mockprovider.personas.bundle_import, issue #14) and served
back by migrate structured; a Bundle that cannot be imported is 400 with every problem."""
import collections
import json

from tests import helpers as h

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
SOURCE = "9690937286"
NEW_NHS = "9000000009"


def migrate(client, nhs):
    return client.post(MIGRATE, data=json.dumps(h.migrate_body(nhs, sensitive=True)),
                       headers=h.migrate_headers(sensitive=True))


def kinds(bundle):
    return collections.Counter(e["resource"]["resourceType"] for e in bundle["entry"])


def test_a_served_bundle_imports_as_a_new_persona_and_is_served_back(client):
    original = migrate(client, SOURCE)
    assert original.status_code == 200
    r = client.put(f"/_control/personas/{NEW_NHS}", data=original.data, content_type="application/fhir+json")
    assert r.status_code == 201, r.get_data(as_text=True)[:600]
    assert r.get_json()["source"] == "run-time"
    served = migrate(client, NEW_NHS)
    assert served.status_code == 200, served.get_data(as_text=True)[:600]
    bundle = served.get_json()
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert any(i.get("value") == NEW_NHS for i in patient["identifier"])
    assert set(kinds(bundle)) >= set(kinds(original.get_json())) - {"Binary"}


def test_the_cli_puts_a_bundle_file_under_its_patients_nhs_number(tmp_path, monkeypatch):
    """`mockprovider control persona put record.json`: a Bundle goes as application/fhir+json, under
    the NHS number of its Patient unless --nhs-number says otherwise."""
    from click.testing import CliRunner
    from mockprovider import control_client
    from mockprovider.app import create_app
    from mockprovider.cli import cli

    # no access lines: CliRunner captures this process's stdout, where they would land
    client = create_app({"state_dir": str(tmp_path / "state"), "access_log": False}).test_client()
    calls = []

    def call(self, method, path, payload=None, *, data=None, content_type="application/json"):
        calls.append((method, path, content_type))
        answer = client.open("/_control" + path, method=method, data=data, content_type=content_type)
        if answer.status_code >= 400:
            raise control_client.ControlError(answer.get_json()["error"], answer.status_code, answer.get_json())
        return answer.get_json()

    monkeypatch.setattr(control_client.ControlClient, "call", call)
    record = tmp_path / "record.json"
    record.write_bytes(migrate(client, SOURCE).data)
    result = CliRunner().invoke(cli, ["control", "persona", "put", str(record)])
    assert result.exit_code == 0, result.output
    assert calls[-1] == ("PUT", f"/personas/{SOURCE}?source=record.json", "application/fhir+json")
    result = CliRunner().invoke(cli, ["control", "persona", "put", str(record), "--nhs-number", NEW_NHS])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["nhs_number"] == NEW_NHS and migrate(client, NEW_NHS).status_code == 200


def test_a_bundle_that_cannot_be_imported_is_400_and_changes_nothing(client):
    before = client.get("/_control/personas").get_json()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}
    r = client.put(f"/_control/personas/{NEW_NHS}", data=json.dumps(bundle), content_type="application/fhir+json")
    assert r.status_code == 400
    errors = r.get_json()["errors"]
    assert errors and all(e["path"].startswith("$") and e["reason"] for e in errors)
    assert client.get("/_control/personas").get_json() == before
