"""Images of the testbed, by name from configuration, built locally when no registry has them.

Three images: ``base`` (Debian minbase with Python), ``dind`` (base + a Docker
daemon; one per server) and ``vnf`` (the thin VNF image run inside the DinD
servers).  :func:`ensure_images` finds each locally, else pulls it, else builds
it (debootstrap + ``docker import`` for the base, ``docker build`` on top), once;
later runs reuse it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from placement.fileio import atomic_write
from testbed.system import TestbedError, run

HERE = Path(__file__).parent
VNF_SOURCE = HERE.parent / "vnfs" / "vnf.py"
REAL_SOURCE = HERE.parent / "vnfs" / "real.py"  # the real-software launcher, beside vnf.py in the image
CACHE_DIR = Path(os.environ.get("SFCBENCH_CACHE_DIR", "/var/cache/sfcbench"))
BUILD_DIR = "/var/tmp"
BUILD_PREFIX = "sfcbench-build-"  # + the builder's pid: cleanup removes the dirs of dead builders
BASE_PACKAGES = "python3,iproute2,iputils-ping,procps,iperf3,ca-certificates"
BASE_CMD = 'CMD ["bash"]'


@dataclass(frozen=True)
class ImageNames:
    """Names of the three images; override them in ``conf/testbed/*.yaml``."""

    base: str = "sfcbench/base:bookworm"
    dind: str = "sfcbench/dind:latest"
    vnf: str = "sfcbench/vnf:latest"
    pull: bool = True  # try a registry before building


def docker_client(timeout: int = 120):
    """A docker-py client for the local daemon, or a TestbedError saying how to start one."""
    import docker

    try:
        client = docker.from_env(version="auto", timeout=timeout)
        client.ping()
    except Exception as exc:  # docker raises several unrelated types here
        raise TestbedError(
            "no Docker daemon answers (DOCKER_HOST="
            f"{os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}): "
            "start one with `bash scripts/start-docker.sh` (or `make setup`); "
            f"docker said: {exc}"
        ) from exc
    return client


def try_pull(client, name: str) -> bool:
    """Pull ``name`` from its registry; False (quietly) when none can be reached."""
    import docker

    try:
        client.images.pull(name)
        return True
    except (docker.errors.APIError, docker.errors.DockerException):
        return False


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (so debootstrap reaches the same one)."""
    if os.environ.get("SFCBENCH_DEBIAN_MIRROR"):
        return os.environ["SFCBENCH_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for src in sources:
        try:
            text = src.read_text()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+\S+", text, re.M
        )
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def build_base(client, name: str, log=print) -> None:
    """Debian bookworm minbase with Python and iproute2, via debootstrap + docker import."""
    if not shutil.which("debootstrap"):
        raise TestbedError("debootstrap is not installed: run `make setup`")
    with tempfile.TemporaryDirectory(prefix=f"{BUILD_PREFIX}{os.getpid()}-", dir=BUILD_DIR) as root:
        log(f"images: debootstrap bookworm into {root} (about a minute)")
        run(
            [
                "debootstrap", "--variant=minbase",
                f"--include={BASE_PACKAGES}",
                "bookworm", root, debian_mirror(),
            ],
            timeout=1200,
        )
        Path(root, "etc/apt/sources.list").write_text(
            f"deb {debian_mirror()} bookworm main\n"
        )
        shutil.rmtree(Path(root, "var/cache/apt/archives"), ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "--change", BASE_CMD, "--change", f"LABEL {SOURCE_LABEL}.base={base_digest()}",
             "-", name],
            stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0:
            raise TestbedError(f"docker import of {name} failed: {imp.stderr.strip()}")


def build_dind(client, name: str, base: str, log=print) -> None:
    log(f"images: building {name} from {base}")
    _build(HERE / "dind", name, "dind", buildargs={"BASE": base}, digest=source_digest(HERE / "dind"))


def build_vnf(client, name: str, log=print) -> None:
    log(f"images: building {name}")
    with tempfile.TemporaryDirectory(prefix=f"{BUILD_PREFIX}{os.getpid()}-", dir=BUILD_DIR) as ctx:
        ctx = Path(ctx)
        shutil.copy(HERE / "vnf" / "Dockerfile", ctx / "Dockerfile")
        shutil.copy(VNF_SOURCE, ctx / "vnf.py")
        shutil.copy(REAL_SOURCE, ctx / "real.py")
        rootfs = ctx / "rootfs"
        for d in ("usr", "etc", "proc", "sys", "dev", "run"):
            (rootfs / d).mkdir(parents=True)
        for d in ("tmp", "srv"):
            (rootfs / d).mkdir()
            (rootfs / d).chmod(0o1777)
        for link in ("bin", "sbin", "lib", "lib64"):
            (rootfs / link).symlink_to(f"usr/{link}")
        (rootfs / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/srv:/bin/sh\n")
        (rootfs / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
        _build(ctx, name, "vnf", digest=source_digest(HERE / "vnf", VNF_SOURCE, REAL_SOURCE))


def _build(context: Path, name: str, role: str, buildargs: dict | None = None, digest: str = "") -> None:
    args = ["docker", "build", "-q", "-t", name, "--label", f"{SOURCE_LABEL}.{role}={digest}"]
    for k, v in (buildargs or {}).items():
        args += ["--build-arg", f"{k}={v}"]
    run(args + [str(context)], timeout=1800)


SOURCE_LABEL = "sfcbench.source"


def source_digest(*paths: Path) -> str:
    """Digest of the files an image is built from, so a changed recipe means a rebuild."""
    h = hashlib.sha256()
    for path in paths:
        for f in sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def base_digest() -> str:
    return hashlib.sha256((BASE_PACKAGES + BASE_CMD).encode()).hexdigest()[:16]


def is_current(client, name: str, role: str, digest: str) -> bool:
    """True if ``name`` exists and, when this project built it for ``role``, from today's recipe.

    The label is per role (``sfcbench.source.vnf``...) because images inherit
    their parent's labels: a user's image built on our base is not our base.
    Images without the role's label (pulled, or named by the user) are taken as they are.
    """
    import docker

    try:
        labels = client.images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return False
    return labels.get(f"{SOURCE_LABEL}.{role}", digest) == digest


def ensure_images(names: ImageNames = ImageNames(), client=None, log=print) -> ImageNames:
    """Make the base, DinD and VNF images available locally; build what is missing or stale."""
    client = client or docker_client()
    steps = [
        (names.base, "base", lambda: build_base(client, names.base, log), base_digest()),
        (names.dind, "dind", lambda: build_dind(client, names.dind, names.base, log), source_digest(HERE / "dind")),
        (names.vnf, "vnf", lambda: build_vnf(client, names.vnf, log), source_digest(HERE / "vnf", VNF_SOURCE, REAL_SOURCE)),
    ]
    todo = [(name, build) for name, role, build, digest in steps if not is_current(client, name, role, digest)]
    for name, build in tqdm(todo, desc="images", unit="image", disable=None if todo else True):
        if names.pull and try_pull(client, name):
            log(f"images: pulled {name}")
            continue
        build()
    return names


def ensure_image(client, name: str) -> str:
    """``name``, pulled first if this machine lacks it; a clear error if no registry has it."""
    import docker

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(name)
        except docker.errors.APIError as exc:
            raise TestbedError(f"image {name!r} is neither on this machine nor pullable ({exc.explanation or exc}): "
                               "build or load it, or name another in the VNF catalogue") from exc
    return name


def saved_image(client, name: str) -> Path:
    """``docker save`` of ``name`` as a tar in the cache, made once per image id.

    DinD servers bind-mount the cache read-only and ``docker load`` from it, so
    no registry is needed to get an image into an inner daemon.
    """
    image = client.images.get(name)
    path = CACHE_DIR / "images" / (image.id.replace(":", "-") + ".tar")
    if not path.exists():
        atomic_write(path, lambda tmp: run(["docker", "save", "-o", str(tmp), name], timeout=600))
        # Saves of images that are gone (an older build of the same name) are dead weight.
        present = {img.id.replace(":", "-") for img in client.images.list()}
        for old in path.parent.glob("*.tar"):
            if old.stem not in present:
                old.unlink(missing_ok=True)
    return path


def main() -> None:
    """`python -m testbed.images`: build or find every image (used by `make setup`)."""
    ensure_images()


if __name__ == "__main__":
    main()
