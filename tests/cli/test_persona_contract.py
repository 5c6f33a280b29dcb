"""One persona contract (issue #24, "one record pipeline"): the same bad persona fed to every
surface that checks personas -- start-up (`mockprovider serve`), `mockprovider personas validate`,
`POST /_control/personas/reload` and `PUT /_control/personas/{nhs}` -- gets the same complete list
of mistakes, each with its JSON path and the same words."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockprovider.app import create_app
from mockprovider.config import BUILT_IN_PERSONAS
from tests.live.conftest import free_port

NHS = "9690990527"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("MOCKPROVIDER_")}
# Every mistake below, by path: structure (the schema's), links between items, a file, the tags.
EXPECTED_PATHS = [
    "$.address.postcode",
    "$.documents[0].file",
    "$.gender",
    "$.record.medications[0].problem",
    "$.record.problems[0].code",
    "$.record.problems[0].date",
    "$.record.problems[0].status",
    "$.tags[0]",
    "$.usual_gp.sds_user_id",
]


def bad_persona() -> dict:
    data = json.loads((Path(BUILT_IN_PERSONAS) / "9690937286.json").read_text())
    data["nhs_number"] = NHS
    data["tags"] = ["deceased"]                                   # declared, but the data does not show it
    data["gender"] = "x"                                          # not one of the genders
    data["address"]["postcode"] = "ab1 2cd"                       # wrong format
    data["usual_gp"]["sds_user_id"] = "bad id!"                   # wrong format
    problem = data["record"]["problems"][0]                       # three mistakes in one item
    problem["code"] = "38341003"
    problem["date"] = "someday"
    problem["status"] = "closed"
    data["record"]["medications"][0]["problem"] = "nope"          # no such problem
    data["documents"][0]["file"] = "files/missing.pdf"            # no such file
    return data


@pytest.fixture
def folder(tmp_path):
    cast = tmp_path / "cast"
    cast.mkdir()
    shutil.copytree(Path(BUILT_IN_PERSONAS) / "files", cast / "files")
    return cast


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-c", "from mockprovider.cli import cli; cli()", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def from_lines(text: str, file: str) -> list:
    """(path, reason) of every ``error: FILE: PATH: REASON`` line."""
    out = []
    for line in text.splitlines():
        if line.startswith(f"error: {file}: "):
            path, _, reason = line[len(f"error: {file}: "):].partition(": ")
            out.append((path, reason))
    return out


def test_every_surface_names_every_mistake_in_the_same_words(folder, tmp_path):
    body = bad_persona()
    client = create_app({"state_dir": str(tmp_path / "state"), "personas": str(folder)}).test_client()
    bad_file = folder / f"{NHS}.json"
    bad_file.write_text(json.dumps(body, indent=1))

    validate = cli("personas", "validate", folder, "--no-render")
    assert validate.returncode == 1
    by_validate = from_lines(validate.stderr, str(bad_file))

    serve = cli("serve", "--port", free_port(), "--personas", folder)
    assert serve.returncode == 1 and "Traceback" not in serve.stderr
    by_serve = from_lines(serve.stderr, str(bad_file))
    assert serve.stderr.strip().splitlines()[-1].startswith("Error: "), serve.stderr

    reload = client.post("/_control/personas/reload")
    assert reload.status_code == 400
    by_reload = [(row["path"], row["reason"]) for row in reload.get_json()["errors"]]

    bad_file.unlink()
    put = client.put(f"/_control/personas/{NHS}", data=json.dumps(body), content_type="application/json")
    assert put.status_code == 400
    by_put = [(row["path"], row["reason"]) for row in put.get_json()["errors"]]

    assert sorted(path for path, _ in by_validate) == EXPECTED_PATHS, by_validate
    assert all(reason for _, reason in by_validate)
    assert by_serve == by_validate
    assert by_reload == by_validate
    assert by_put == by_validate


def test_one_mistake_is_worded_alike_wherever_it_is_found(folder, tmp_path):
    """A value outside its choices reads the same in the schema's part and the links' part."""
    body = bad_persona()
    (folder / f"{NHS}.json").write_text(json.dumps(body))
    lines = dict(from_lines(cli("personas", "validate", folder, "--no-render").stderr, str(folder / f"{NHS}.json")))
    assert lines["$.gender"] == "'x' must be one of male, female, other, unknown"
    assert lines["$.record.problems[0].status"] == "'closed' must be one of active, inactive"
    assert lines["$.record.medications[0].problem"] == "'nope' is not the key of a problem"
    assert lines["$.documents[0].file"].startswith("'files/missing.pdf' does not exist")
