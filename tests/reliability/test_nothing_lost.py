"""Nothing lost: the server never writes to its personas folder; control state survives a worker
restart; an interrupted ``mockprovider personas generate`` leaves either the old personas or the
complete new ones, never a mix (the generator's own SIGKILL test is tests/unit/test_generate.py).
"""
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mockprovider.config import Settings
from mockprovider.personas import documents
from mockprovider.personas.store import PersonaStore
from tests import helpers as h
from tests.reliability import fuzzing as fz
from tests.reliability.liveserver import MOCKPROVIDER, LiveServer

pytestmark = pytest.mark.live


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: path -> (size, mtime_ns, sha256) or 'dir'."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), folder)] = "dir"
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            found[os.path.relpath(path, folder)] = (stat.st_size, stat.st_mtime_ns, digest)
    return found


def test_the_server_never_writes_to_its_personas_folder(tmp_path):
    personas = tmp_path / "personas"
    shutil.copytree(Settings.from_env({}).personas, personas)
    store = PersonaStore.load(str(personas))
    doc_ids = sorted(documents.index(store).by_id)[:3]
    before = snapshot(personas)
    with LiveServer(tmp_path / "state", workers=2, env={"MOCKPROVIDER_PERSONAS": str(personas)}) as server:
        answered = 0
        for nhs in sorted(p.nhs_number for p in store):
            for kind in fz.KINDS:
                for doc_id in doc_ids or ["x"]:
                    method, path, headers, body = fz.base_request(kind, nhs, doc_id)
                    answered += server.request(method, path, body, headers)[0] > 0
        server.control("PATCH", "/flags", {"validation": "lenient", "documents_enabled": False})
        server.request("GET", h.DOCUMENTS + "/metadata", headers=h.metadata_headers())
        server.control("POST", "/reset")
        server.control("DELETE", "/requests")
        assert answered > 0
    assert snapshot(personas) == before


def test_control_state_survives_a_worker_restart(tmp_path):
    with LiveServer(tmp_path / "state", workers=2) as server:
        status, _ = server.control("PATCH", "/flags", {"documents_enabled": False, "validation": "lenient"})
        assert status == 200
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = server.worker_pids()
            if len(pids) == 2 and victim not in pids:
                break
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not respawn the killed worker: " + server.log())
        # Every following request, whichever worker (old or respawned) takes it, sees the flags.
        for _ in range(30):
            status, flags = server.control("GET", "/flags")
            assert status == 200 and flags["documents_enabled"] is False and flags["validation"] == "lenient"
            # lenient: no Ssp-From / Ssp-To needed; the metadata answer still comes back
            assert server.request("GET", h.STRUCTURED + "/metadata",
                                  headers=h.metadata_headers(Ssp_From=None, Ssp_To=None))[0] == 200


GENERATE = [MOCKPROVIDER, "personas", "generate", "--seed", "soak"]


def test_a_generate_killed_mid_write_leaves_the_old_personas(tmp_path):
    """SIGKILL the CLI once its temporary folder exists (it is writing files): old set intact."""
    out = tmp_path / "out"
    subprocess.run(GENERATE + ["--count", "5", "--out", str(out)], check=True, capture_output=True)
    old = snapshot(out)
    new = None
    for pause in (0.0, 0.05, 0.15):
        child = subprocess.Popen(GENERATE + ["--count", "300", "--seed", "new", "--force", "--out", str(out)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".out.tmp-*")) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert child.poll() is None, "generate finished before it could be interrupted; raise --count"
        time.sleep(pause)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        # Writing 300 small files can finish within the pause: then the new set has taken the
        # folder's place in one rename. Never anything in between (a mix or a part of the new set).
        now = snapshot(out)
        if now != old:
            assert len(now) == 300 and not set(now) & set(old), "a killed generate left a partial folder"
            # Compare contents (size, sha256), not mtimes: each completed run writes its files anew.
            content = {k: v if v == "dir" else (v[0], v[2]) for k, v in now.items()}
            assert new is None or content == new, "two runs with one seed wrote different files"
            new = content
        for leftover in tmp_path.glob(".out.tmp-*"):   # hidden, never read as personas
            shutil.rmtree(leftover)
    assert len(PersonaStore.load(str(out))) in (5, 300)
