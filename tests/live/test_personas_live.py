"""Run-time personas on a real server with 4 gunicorn workers: a put is seen by every worker at
once, a delete likewise, and reset brings back the start-up cast (issue #15)."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from mockprovider.cli import cli
from tests import helpers as h

pytestmark = pytest.mark.live

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
NEW_NHS = "9000000009"


def migrate(server, nhs=NEW_NHS):
    return server.request("POST", MIGRATE, h.migrate_headers(), json.dumps(h.migrate_body(nhs)).encode())


def fifty(server, nhs=NEW_NHS):
    """50 requests, 8 at a time on new connections, so the 4 workers share them."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: migrate(server, nhs), range(50)))


def family(answer) -> str:
    bundle = json.loads(answer.body)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    return patient["name"][0]["family"]


@pytest.fixture(scope="module")
def four_workers():
    from tests.live.conftest import LiveServer
    server = LiveServer(workers=4)
    yield server
    server.stop()


def test_a_put_is_served_by_every_worker_then_a_delete_is_gone_everywhere(four_workers):
    server = four_workers
    server.control.reset()
    before = fifty(server)                      # every worker answers, and caches, "not found"
    assert {a.status for a in before} == {404}

    persona = {"nhs_number": NEW_NHS, "name": {"family": "Everywhere", "given": ["Eve"]},
               "gender": "female", "birth_date": "1970-01-01"}
    put = server.request("PUT", f"/_control/personas/{NEW_NHS}", {"Content-Type": "application/json"},
                         json.dumps(persona).encode())
    assert put.status == 201, put.body
    server.control.clear_requests()
    answers = fifty(server)
    assert [a.status for a in answers] == [200] * 50
    assert {family(a) for a in answers} == {"Everywhere"}
    # gthread: one worker may accept many connections; more batches (each all new) until several served
    workers = {row["worker"] for row in server.control.requests(50)}
    for _ in range(4):
        if len(workers) >= 2:
            break
        server.control.clear_requests()
        assert {(a.status, family(a)) for a in fifty(server)} == {(200, "Everywhere")}
        workers |= {row["worker"] for row in server.control.requests(50)}
    assert len(workers) >= 2, "the requests should have been shared by several workers"

    persona["name"]["family"] = "Replaced"
    assert server.control.put_persona(NEW_NHS, persona)["source"] == "run-time"
    assert {family(a) for a in fifty(server)} == {"Replaced"}

    assert server.control.delete_persona(NEW_NHS) == {"status": "deleted", "nhs_number": NEW_NHS}
    gone = fifty(server)
    assert {a.status for a in gone} == {404}
    codes = {json.loads(a.body)["issue"][0]["details"]["coding"][0]["code"] for a in gone}
    assert codes == {"PATIENT_NOT_FOUND"}


def test_reset_restores_the_start_up_cast_on_every_worker(four_workers):
    server = four_workers
    server.control.reset()
    start = server.control.personas()
    built_in = "9690937286"
    server.control.delete_persona(built_in)
    server.control.put_persona(NEW_NHS, {"nhs_number": NEW_NHS, "name": {"family": "Temp"},
                                         "gender": "male", "birth_date": "1990-01-01"})
    assert {a.status for a in fifty(server, built_in)} == {404}
    server.control.reset()
    assert server.control.personas() == start
    assert {a.status for a in fifty(server, built_in)} == {200}
    assert {a.status for a in fifty(server)} == {404}


def test_the_cli_puts_lists_deletes_and_reloads(four_workers, tmp_path):
    server = four_workers
    server.control.reset()
    runner = CliRunner()
    base = ["control", "--url", server.url, "persona"]
    file = tmp_path / "p.json"
    file.write_text(json.dumps({"nhs_number": NEW_NHS, "name": {"family": "Cli"}, "gender": "other",
                                "birth_date": "2001-01-01"}))
    result = runner.invoke(cli, [*base, "put", str(file)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["source"] == "run-time"
    listed = runner.invoke(cli, [*base, "list"])
    assert listed.exit_code == 0 and any(line.startswith(f"{NEW_NHS}  run-time") for line in listed.output.splitlines())
    assert migrate(server).status == 200

    file.write_text(json.dumps({"nhs_number": NEW_NHS, "name": {"family": 1}, "gender": "no",
                                "birth_date": "2001-01-01"}))
    result = runner.invoke(cli, [*base, "put", str(file)])
    assert result.exit_code == 1
    assert "error: $.name.family:" in result.output and "error: $.gender:" in result.output

    assert runner.invoke(cli, [*base, "delete", NEW_NHS]).exit_code == 0
    assert migrate(server).status == 404
    assert runner.invoke(cli, [*base, "delete", NEW_NHS]).exit_code == 1
    reloaded = runner.invoke(cli, [*base, "reload"])
    assert reloaded.exit_code == 0 and json.loads(reloaded.output)["status"] == "reloaded"


def test_a_chunked_put_is_read_whole(four_workers):
    import http.client
    server = four_workers
    server.control.reset()
    body = json.dumps({"nhs_number": NEW_NHS, "name": {"family": "Chunked"}, "gender": "male",
                       "birth_date": "1990-01-01"}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("PUT", f"/_control/personas/{NEW_NHS}", body=iter([body[:20], body[20:]]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        answer = connection.getresponse()
        assert answer.status == 201, answer.read()
    finally:
        connection.close()
    assert {family(a) for a in fifty(server)} == {"Chunked"}
