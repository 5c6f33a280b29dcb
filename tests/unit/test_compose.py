"""docker-compose.yml (3 replicas, Redis, nginx) is checked by construction: no Docker engine here.

What can be checked without one: the file parses as YAML with the services, images and settings
a user expects; every setting it passes is one the mock reads; nginx's upstreams are exactly the
replicas on the port they listen on; the Redis it starts keeps an append-only file. The nginx
config itself runs in front of three real servers in tests/live/test_replicas.py.
"""
import re
from dataclasses import fields
from pathlib import Path

import yaml

from mockprovider.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
REPLICAS = ["mock-1", "mock-2", "mock-3"]


def test_services():
    assert set(SERVICES) == {"redis", "proxy", *REPLICAS}
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert SERVICES["proxy"]["image"].startswith("nginx:")


def test_replicas_share_redis_and_name_themselves():
    names = set()
    for name in REPLICAS:
        service = SERVICES[name]
        assert service["build"] == "." and service["image"] == "mockprovider:latest"
        env = service["environment"]
        assert env["MOCKPROVIDER_STATE_URL"] == "redis://redis:6379/0"
        assert env["MOCKPROVIDER_HOST"] == "0.0.0.0" and env["MOCKPROVIDER_PORT"] == "8080"
        names.add(env["MOCKPROVIDER_REPLICA"])
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert names == set(REPLICAS)


def test_every_setting_passed_is_one_the_mock_reads():
    known = {"MOCKPROVIDER_" + f.name.upper() for f in fields(Settings)}
    for name in REPLICAS:
        assert set(SERVICES[name]["environment"]) <= known


def test_redis_persists_and_is_health_checked():
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "redis-cli" in redis["healthcheck"]["test"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_proxy_mounts_the_nginx_config_whose_upstreams_are_the_replicas():
    proxy = SERVICES["proxy"]
    mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    conf = (ROOT / mount.split(":")[0]).read_text()
    upstreams = re.findall(r"server ([\w-]+):(\d+);", conf)
    assert upstreams == [(name, SERVICES[name]["environment"]["MOCKPROVIDER_PORT"]) for name in REPLICAS]
    assert "listen 8080;" in conf and proxy["ports"] == ["8080:8080"]
    assert "proxy_next_upstream off;" in conf        # a fault is never retried on another replica
    assert set(proxy["depends_on"]) == set(REPLICAS)
