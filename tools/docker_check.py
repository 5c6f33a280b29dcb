"""`make docker-check`: build the real Dockerfile without a Docker engine and answer its health check.

What it does, in order (each step prints what it runs):

1. Installs what it needs from Debian's packages when missing (buildah, debootstrap, iproute2).
2. Stands in for the image the Dockerfile's FROM names. No container registry is reachable here,
   so ``python:3.11-slim`` is replaced by a Debian bookworm (Python 3.11) tree bootstrapped with
   debootstrap from the same mirror apt uses, with a virtual environment at /usr/local so that
   ``python`` and ``pip`` are on PATH as in the real image. The host's local CA certificates
   (/usr/local/share/ca-certificates) are added to it, so pip inside the build reaches the package
   index the way pip on this machine does. The stand-in is committed to a private buildah store
   under .docker-check/ and reused while its recipe and those certificates are unchanged.
3. Builds the Dockerfile unchanged with ``buildah bud --isolation chroot`` (vfs storage). The
   image is reused while every input of the build (Dockerfile, .dockerignore, each COPY source,
   the base, the build args) is unchanged, so a second run is fast. If pip on this machine is set
   to another package index, that index is passed as ``--build-arg PIP_INDEX_URL``.
4. Runs the image's own CMD in a container of the built image (``buildah run --isolation
   chroot``, as the image's USER, with the image's ENV) inside a fresh network namespace, so the
   server binds 0.0.0.0:8080 exactly as it would under ``docker run`` without touching this
   machine's ports, then runs the image's own HEALTHCHECK command until it passes (or 60 s).
   Exits non-zero when the build fails, the user is root, the health check never passes or the
   server logged an error.

Run it as root (buildah's chroot isolation and debootstrap need it). Standard library only.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".docker-check"
STORE = ["--root", str(WORK / "storage"), "--runroot", str(WORK / "run"), "--storage-driver", "vfs"]
BASE_IMAGE = "docker.io/library/python:3.11-slim"      # what `FROM python:3.11-slim` resolves to
IMAGE = "localhost/mockprovider:docker-check"
SUITE = "bookworm"                                       # Debian 12: python3 is 3.11
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates"]
# Bump when the stand-in's recipe below changes, so a cached stand-in is rebuilt.
RECIPE = "3"
HEALTH_WAIT_SECONDS = 60


def say(msg: str) -> None:
    print(f"docker-check: {msg}", flush=True)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    print("+ " + " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def buildah(*args, capture=False, check=True) -> subprocess.CompletedProcess:
    cmd = ["buildah", *STORE, *args]
    if capture:
        return subprocess.run(cmd, check=check, text=True, capture_output=True)
    print("+ " + " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    return subprocess.run(cmd, check=check)


# ----------------------------------------------------------------------------------------------
# 1. tools
def ensure_tools() -> None:
    if os.geteuid() != 0:
        sys.exit("docker-check: run as root (buildah --isolation chroot and debootstrap need it)")
    wanted = {"buildah": "buildah", "debootstrap": "debootstrap", "ip": "iproute2", "unshare": "util-linux"}
    missing = sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None})
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


# ----------------------------------------------------------------------------------------------
# 2. the stand-in for python:3.11-slim
def apt_mirror() -> str:
    """The Debian mirror apt uses here for bookworm (deb822 .sources or one-line lists)."""
    candidates = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in Path(path).read_text(errors="replace").split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []):
                candidates += fields.get("uris", [])
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if os.path.exists(path):
            for line in Path(path).read_text(errors="replace").splitlines():
                parts = [p for p in line.split() if not p.startswith("[")]
                if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                    candidates.append(parts[1])
    return candidates[0] if candidates else DEFAULT_MIRROR


def apt_proxy_env() -> dict:
    """apt's own HTTP proxy setting, if any, for debootstrap (which reads http_proxy)."""
    out = subprocess.run(["apt-config", "shell", "P", "Acquire::http::Proxy"],
                         text=True, capture_output=True).stdout
    proxy = shlex.split(out.partition("=")[2])[0] if "=" in out else ""
    return {"http_proxy": proxy} if proxy else {}


def local_cas() -> list[Path]:
    return sorted(Path(p) for p in glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True))


def standin_fingerprint(mirror: str) -> str:
    h = hashlib.sha256(f"{RECIPE}|{SUITE}|{mirror}|{' '.join(BASE_PACKAGES)}".encode())
    for ca in local_cas():
        h.update(ca.read_bytes())
    return h.hexdigest()[:16]


def ensure_standin() -> str:
    mirror = apt_mirror()
    fingerprint = standin_fingerprint(mirror)
    found = buildah("inspect", "--type", "image", "--format",
                    '{{index .Docker.Config.Labels "mockprovider.standin"}}', BASE_IMAGE,
                    capture=True, check=False)
    if found.returncode == 0 and found.stdout.strip() == fingerprint:
        say(f"stand-in {BASE_IMAGE} is cached ({fingerprint})")
        return "cached"
    say(f"bootstrapping the stand-in for {BASE_IMAGE}: Debian {SUITE} from {mirror}")
    rootfs = WORK / "rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, rootfs, mirror],
        env=dict(os.environ, **apt_proxy_env()), stdout=subprocess.DEVNULL)

    def chroot(*args):
        run(["chroot", rootfs, *args], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})

    # python and pip on PATH in /usr/local/bin, as the real image has them.
    chroot("python3", "-m", "venv", "/usr/local")
    for name in glob.glob(str(rootfs / "usr/local/bin/[Aa]ctivate*")):
        os.remove(name)
    # Trust what this machine trusts, and let pip use the system bundle (pip's own bundle would not
    # hold a local CA). Nothing else of the host goes in.
    cas = local_cas()
    for ca in cas:
        shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
    if cas:
        chroot("update-ca-certificates")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    chroot("apt-get", "clean")
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)

    tarball = WORK / "rootfs.tar"
    run(["tar", "-C", rootfs, "-cf", tarball, "."])
    shutil.rmtree(rootfs)
    ctr = buildah("from", "scratch", capture=True).stdout.strip()
    buildah("add", ctr, str(tarball), "/")
    buildah("config", "--env", "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env", "LANG=C.UTF-8", "--cmd", "python3",
            "--label", f"mockprovider.standin={fingerprint}", ctr)
    buildah("commit", "--rm", "--format", "docker", "--quiet", ctr, BASE_IMAGE)
    tarball.unlink()
    return "bootstrapped"


# ----------------------------------------------------------------------------------------------
# 3. build
def host_index_url() -> str:
    """The package index pip on this machine is set to, when it is not the public default."""
    url = os.environ.get("PIP_INDEX_URL", "")
    if not url:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             text=True, capture_output=True)
        url = out.stdout.strip() if out.returncode == 0 else ""
    return "" if url.startswith("file:") else url


def copy_sources(dockerfile: str) -> list[str]:
    """The build-context paths the Dockerfile's COPY/ADD instructions read (not --from a stage)."""
    sources = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = words[1:]
        if any(a.startswith("--from") for a in args):
            continue
        paths = [a for a in args if not a.startswith("--")]
        sources += paths[:-1]
    return sources


def build_key(index: str) -> str:
    """Everything the build reads: the Dockerfile, .dockerignore, each COPY source, the base, args."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    h = hashlib.sha256(dockerfile.encode())
    h.update(index.encode())
    ignore = ROOT / ".dockerignore"
    h.update(ignore.read_bytes() if ignore.exists() else b"")
    h.update(buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", BASE_IMAGE,
                     capture=True).stdout.encode())
    for source in copy_sources(dockerfile):
        top = ROOT / source
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def build(force: bool) -> str:
    index = host_index_url()
    key = build_key(index)
    stamp = WORK / "built.key"
    have = buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", IMAGE,
                   capture=True, check=False)
    if not force and have.returncode == 0 and stamp.exists() and stamp.read_text() == f"{key} {have.stdout.strip()}":
        say(f"{IMAGE} was built from exactly these inputs; reusing it (--rebuild to build anyway)")
        return "reused"
    # No --layers: with vfs storage every cached layer is a full copy of the tree, which made a
    # rebuild after a source change ~4x slower here than one build in one working container.
    args = ["bud", "--isolation", "chroot", "--format", "docker", "--pull-never",
            "-f", str(ROOT / "Dockerfile"), "-t", IMAGE]
    if index:
        args += ["--build-arg", f"PIP_INDEX_URL={index}"]
    buildah(*args, str(ROOT))
    image_id = buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", IMAGE, capture=True).stdout.strip()
    stamp.write_text(f"{key} {image_id}")
    prune()
    return "built"


def prune() -> None:
    """Drop images of earlier builds that nothing uses any more (vfs keeps a full copy of the tree
    per layer). The stand-in and the current image are tagged, so they stay."""
    for _ in range(20):
        dangling = buildah("images", "--all", "--quiet", "--filter", "dangling=true", capture=True).stdout.split()
        if not dangling:
            return
        buildah("rmi", *dangling, capture=True, check=False)


# ----------------------------------------------------------------------------------------------
# 4. health check from inside the image
def exec_line(argv) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def health_script(config: dict) -> str:
    cmd = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not cmd:
        raise SystemExit("docker-check: the image has no CMD")
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        raise SystemExit(f"docker-check: the image has no HEALTHCHECK command ({test!r})")
    probe = exec_line(test[1:]) if test[0] == "CMD" else "sh -c " + shlex.quote(test[1])
    return f"""
set -u
echo "inside: $(id)"
{exec_line(cmd)} >/tmp/docker-check-server.log 2>&1 &
server=$!
status=1
i=0
while [ "$i" -lt {HEALTH_WAIT_SECONDS * 2} ]; do
    if {probe} >/dev/null 2>&1; then status=0; break; fi
    kill -0 "$server" 2>/dev/null || {{ echo "the server exited"; break; }}
    i=$((i + 1)); sleep 0.5
done
if [ "$status" -eq 0 ]; then
    echo "HEALTHCHECK passed after ~$((i / 2)) s"
    python -c "import os, urllib.request; print(urllib.request.urlopen('http://127.0.0.1:%s/_control/health' % os.environ.get('MOCKPROVIDER_PORT', '8080'), timeout=2).read().decode())"
else
    echo "HEALTHCHECK never passed"
fi
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
echo "--- server log ---"; cat /tmp/docker-check-server.log; echo "--- end ---"
if grep -q -e '\\[ERROR\\]' -e 'Traceback' /tmp/docker-check-server.log; then echo "the server logged an error"; status=1; fi
exit "$status"
"""


def health() -> None:
    config = json.loads(buildah("inspect", "--type", "image", IMAGE, capture=True).stdout)["Docker"]["config"]
    user = (config.get("User") or "").split(":")[0]
    if user in ("", "0", "root"):
        raise SystemExit(f"docker-check: the image runs as root (USER {user!r})")
    say(f"image: USER {config.get('User')}, EXPOSE {sorted(config.get('ExposedPorts') or {})}, "
        f"CMD {config.get('Cmd')}")
    ctr = buildah("from", "--pull-never", "--quiet", IMAGE, capture=True).stdout.strip()
    try:
        inner = ["buildah", *STORE, "run", "--isolation", "chroot", ctr, "--", "sh", "-c", health_script(config)]
        # A network namespace of our own: the server binds 0.0.0.0:8080 as in `docker run`, yet
        # nothing on this machine's own interfaces or ports is touched.
        say("in a new network namespace: buildah run the image's CMD, then poll its HEALTHCHECK")
        subprocess.run(["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *inner],
                       check=True)
    finally:
        buildah("rm", ctr, capture=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true",
                        help="build even when the image for exactly these inputs exists")
    options = parser.parse_args()
    ensure_tools()
    WORK.mkdir(exist_ok=True)
    timings = {}
    t0 = time.monotonic()
    try:
        base = ensure_standin()
        timings[f"stand-in ({base})"] = time.monotonic() - t0
        t = time.monotonic()
        built = build(options.rebuild)
        timings[f"image ({built})"] = time.monotonic() - t
        t = time.monotonic()
        health()
        timings["health check"] = time.monotonic() - t
    except subprocess.CalledProcessError as exc:
        say(f"FAILED: {exc}")
        return 1
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    say(f"OK in {time.monotonic() - t0:.0f} s ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
