"""Build sandbox images offline, cached by content hash.

No image can be pulled here, so images are made from parts the machine can fetch through its own package
configuration:

1. The base image (`build_base_image`): `debootstrap --variant=minbase` of Debian with python3, pip, venv
   and git into a temporary directory, from the mirror in the machine's own apt configuration; a non-root
   user `agent` (uid 1000) and an empty `/workspace`; then `docker import`. Tag: `prm-base:<hash of the
   recipe>`.
2. Layered images (`build_image`): the host runs `pip download` (through its own pip configuration) for the
   image's Python version and glibc, then `docker build --network none` of a Dockerfile `FROM <base>` that
   installs those wheels with `pip install --no-index` and copies host directories in. Tag:
   `prm-env:<hash of base, requirements, wheel hashes and copied files>`, with an alias
   `prm-env:req-<hash of base, requirements and copied files>` so that a second build is a no-op without
   downloading anything (pass `refresh=True` to resolve the requirements again).

Every build holds a file lock per tag, shows progress with rich, and on failure raises `ImageBuildError`
naming the failed step with the tail of its log (full logs under `~/.cache/prm-gym/images/build-logs/`).

Example:
    >>> from prm.sandboxes.images import build_image
    >>> tag = build_image(requirements=["pytest==8.3.3"])  # doctest: +SKIP
    >>> tag  # doctest: +SKIP
    'prm-env:3f2a9c1d0b7e'
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from prm.errors import ImageBuildError
from prm.paths import cache_dir
from prm.sandboxes.workspace import copy_tree

SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-pip", "python3-venv", "git", "ca-certificates", "patch", "procps")
AGENT_UID = 1000
BASE_SETUP = f"""set -e
useradd --uid {AGENT_UID} --create-home --shell /bin/bash agent
install -d -o {AGENT_UID} -g {AGENT_UID} /workspace
rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
python3 -c 'import sys, platform; print(f"{{sys.version_info[0]}}.{{sys.version_info[1]}}", platform.libc_ver()[1])' \\
  > /etc/prm-python
"""
BASE_CHANGES = (
    "ENV LANG=C.UTF-8",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "WORKDIR /workspace",
    'CMD ["/bin/bash"]',
)
STEP_TIMEOUT_S = 1800
LOG_TAIL_LINES = 25

_console = Console(stderr=True)


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


@contextlib.contextmanager
def _client() -> Iterator[docker.DockerClient]:
    """A client of the Docker engine for one build or lookup, closed (its connections with it) on leaving,
    also when the build fails: a failure kept for a report must not hold the engine's sockets open."""
    try:
        client = docker.from_env(timeout=STEP_TIMEOUT_S)
    except DockerException as exc:
        raise ImageBuildError(f"no Docker engine answers, so no image can be built: {exc}") from exc
    with contextlib.closing(client):
        yield client


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def _safe_name(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tag)


@contextlib.contextmanager
def _lock(tag: str) -> Iterator[None]:
    """Serialise builds of one tag across processes (tests and envs may build the same image at once)."""
    path = cache_dir("images", "locks") / f"{_safe_name(tag)}.lock"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fail(step: str, log: Path, reason: str) -> ImageBuildError:
    lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log.exists() else []
    tail = "\n".join(lines)
    return ImageBuildError(
        f"image build step '{step}' failed: {reason}\nlog: {log}\n--- last lines ---\n{tail}"
    )


class _Build:
    """One build: a rich progress display plus a log file per step."""

    def __init__(self, tag: str, progress: Progress):
        self.tag = tag
        self.progress = progress
        self.logs = cache_dir("images", "build-logs") / _safe_name(tag)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.task: TaskID = progress.add_task(f"{tag}: starting", total=None)

    def show(self, step: str, detail: str = "") -> None:
        self.progress.update(self.task, description=f"{self.tag}: {step} {detail[:70]}".rstrip())

    def log_path(self, step: str) -> Path:
        return self.logs / f"{step}.log"

    def run(self, step: str, argv: Sequence[str]) -> None:
        """Run one command as build step `step`, streaming its last output line into the progress display."""
        log = self.log_path(step)
        self.show(step)
        start = time.monotonic()
        with open(log, "wb") as fh:
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            except OSError as exc:
                raise _fail(step, log, f"cannot run {argv[0]}: {exc}") from exc
            watchdog = threading.Timer(STEP_TIMEOUT_S, proc.kill)
            watchdog.start()
            try:
                for line in proc.stdout:
                    fh.write(line)
                    self.show(step, line.decode(errors="replace").strip())
                code = proc.wait()
            finally:
                watchdog.cancel()
        if code == -9 and time.monotonic() - start >= STEP_TIMEOUT_S:
            raise _fail(step, log, f"timed out after {STEP_TIMEOUT_S} s")
        if code != 0:
            raise _fail(step, log, f"`{' '.join(argv[:3])} ...` exited with {code}")


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=_console)


# --- the Debian mirror from the machine's own apt configuration --------------------------------------------


def _apt_entries(root: Path) -> Iterator[dict[str, list[str]]]:
    """Every `deb` source entry of apt's configuration under `root`, as deb822 fields (one-line converted)."""
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, list[str]] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
                yield fields
    for path in [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)", line.split("#", 1)[0].strip())
            if m:
                options = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                yield {
                    "uris": [m.group(2)],
                    "suites": [m.group(3)],
                    "components": m.group(4).split(),
                    "signed-by": [options["signed-by"]] if "signed-by" in options else [],
                }


def debian_mirror(suite: str = SUITE, apt_root: str | Path = "/etc/apt") -> tuple[str, str | None]:
    """(mirror URI, keyring or None) of the apt source that serves `suite` itself (not -updates/-security)."""
    for entry in _apt_entries(Path(apt_root)):
        if suite in entry.get("suites", []) and "main" in entry.get("components", ["main"]):
            keyring = entry.get("signed-by", [None])[0] if entry.get("signed-by") else None
            return entry["uris"][0], keyring if keyring and Path(keyring).is_file() else None
    raise ImageBuildError(
        f"image build step 'find-mirror' failed: no apt source for Debian '{suite}' main in {apt_root} "
        "(sources.list or sources.list.d/*.sources); add one so debootstrap knows where to fetch packages"
    )


# --- the base image ---------------------------------------------------------------------------------------


def base_image_tag(packages: Sequence[str] = BASE_PACKAGES, suite: str = SUITE) -> str:
    """The tag the base image gets: a hash of its recipe (suite, packages, setup script, image settings)."""
    recipe = {"suite": suite, "variant": "minbase", "packages": sorted(packages), "setup": BASE_SETUP}
    return f"prm-base:{_hash({**recipe, 'changes': BASE_CHANGES})}"


def build_base_image(packages: Sequence[str] = BASE_PACKAGES, suite: str = SUITE) -> str:
    """Build (or find) the Debian base image; return its tag. Needs root (debootstrap) and a few minutes."""
    tag = base_image_tag(packages, suite)
    with _client() as client:
        if image_exists(client, tag):
            return tag
        with _lock(tag):
            if image_exists(client, tag):
                return tag
            if os.geteuid() != 0:
                raise ImageBuildError(
                    "image build step 'debootstrap' needs root; run `prm image build` as root"
                )
            if shutil.which("debootstrap") is None:
                raise ImageBuildError(
                    "image build step 'debootstrap' failed: debootstrap is not installed "
                    "(apt-get install debootstrap)"
                )
            mirror, keyring = debian_mirror(suite)
            work = Path(tempfile.mkdtemp(prefix="prm-base-"))
            rootfs, tarball = work / "rootfs", work / "rootfs.tar"
            try:
                with _progress() as progress:
                    build = _Build(tag, progress)
                    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}"]
                    argv += [f"--keyring={keyring}"] if keyring else []
                    build.run("debootstrap", [*argv, suite, str(rootfs), mirror])
                    build.run("setup", ["chroot", str(rootfs), "/bin/sh", "-c", BASE_SETUP])
                    python, glibc = (rootfs / "etc/prm-python").read_text().split()
                    build.run("tar", ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."])
                    build.show("docker-import")
                    changes = [*BASE_CHANGES, f"LABEL prm.python={python} prm.glibc={glibc} prm.recipe={tag}"]
                    try:
                        client.api.import_image_from_file(
                            str(tarball), repository=tag.split(":")[0], tag=tag.split(":")[1], changes=changes
                        )
                    except (APIError, DockerException) as exc:
                        build.log_path("docker-import").write_text(str(exc))
                        raise _fail("docker-import", build.log_path("docker-import"), str(exc)) from exc
                if not image_exists(client, tag):
                    raise ImageBuildError(
                        f"image build step 'docker-import' failed: {tag} is missing after import"
                    )
            finally:
                shutil.rmtree(work, ignore_errors=True)
    _console.print(f"built base image {tag}")
    return tag


# --- layered images ---------------------------------------------------------------------------------------


def _tree_digest(path: Path) -> str:
    """Hash of a host file or directory tree: relative paths, modes, contents and symlink targets."""
    h = hashlib.sha256()
    entries = [path] if path.is_file() else sorted(path.rglob("*"))
    for entry in entries:
        rel = entry.relative_to(path).as_posix() if entry != path else entry.name
        h.update(f"{rel}\0{entry.lstat().st_mode:o}\0".encode())
        if entry.is_symlink():
            h.update(os.readlink(entry).encode())
        elif entry.is_file():
            with open(entry, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _file_sha(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _pip_platform_args(python: str, glibc: str) -> list[str]:
    major, minor = (int(x) for x in glibc.split("."))
    platforms = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    args = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    args += ["--abi", f"cp{python.replace('.', '')}", "--abi", "abi3", "--abi", "none"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def build_image(
    requirements: Sequence[str] = (),
    files: Mapping[str, str | Path] | None = None,
    base: str | None = None,
    refresh: bool = False,
) -> str:
    """Build (or find) an image with Python `requirements` installed and host `files` copied in; return its tag.

    Args:
        requirements: pip requirement specifiers (pin them for reproducible images).
        files: {path in the image: host file or directory}; copied in owned by root, readable by all.
        base: the image to start from; the base image (built when missing) by default.
        refresh: resolve and download the requirements again even if an image for this request exists.
    """
    requirements = list(requirements)
    if any(not isinstance(r, str) or not r.strip() for r in requirements):
        raise TypeError(f"requirements must be non-empty strings, got {requirements!r}")
    copies = {str(dest): Path(src) for dest, src in (files or {}).items()}
    for dest, src in copies.items():
        if not dest.startswith("/"):
            raise ValueError(f"files: image path {dest!r} must be absolute")
        if not src.exists():
            raise FileNotFoundError(f"files: host path {str(src)!r} (for {dest}) does not exist")
    base = base or build_base_image()
    if not requirements and not copies:
        return base
    with _client() as client:
        try:
            labels = client.images.get(base).labels or {}
        except ImageNotFound as exc:
            raise ImageBuildError(
                f"image build step 'base' failed: base image {base!r} does not exist"
            ) from exc
        file_digests = {dest: _tree_digest(src) for dest, src in copies.items()}
        alias = f"prm-env:req-{_hash({'base': base, 'requirements': requirements, 'files': file_digests})}"
        if not refresh and image_exists(client, alias):
            return alias
        with _lock(alias):
            if not refresh and image_exists(client, alias):
                return alias
            work = Path(tempfile.mkdtemp(prefix="prm-image-"))
            try:
                with _progress() as progress:
                    build = _Build(alias, progress)
                    tag = _build_layers(client, build, work, base, labels, requirements, copies, file_digests)
                    client.images.get(tag).tag(*alias.split(":"))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    _console.print(f"built image {tag} (alias {alias})")
    return alias


def _build_layers(
    client,
    build: _Build,
    work: Path,
    base: str,
    labels: dict,
    requirements: list[str],
    copies: dict[str, Path],
    file_digests: dict[str, str],
) -> str:
    wheels = work / "wheels"
    wheels.mkdir()
    lines = [f"FROM {base}", "USER root"]
    wheel_digests: dict[str, str] = {}
    if requirements:
        python, glibc = labels.get("prm.python", "3.11"), labels.get("prm.glibc", "2.36")
        argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--dest", str(wheels)]
        build.run("pip-download", [*argv, *_pip_platform_args(python, glibc), *requirements])
        wheel_digests = {w.name: _file_sha(w) for w in sorted(wheels.iterdir())}
        lines += [
            "COPY wheels /tmp/prm-wheels",
            "RUN python3 -m pip install --no-index --no-cache-dir --break-system-packages "
            "--find-links /tmp/prm-wheels "
            + " ".join(json.dumps(r) for r in requirements)
            + " && rm -rf /tmp/prm-wheels",
        ]
    for i, (dest, src) in enumerate(sorted(copies.items())):
        staged = work / "files" / str(i)
        staged.mkdir(parents=True)
        if src.is_dir():
            copy_tree(src, staged)
        else:
            shutil.copy2(src, staged / src.name)
        source = f"files/{i}" if src.is_dir() else f"files/{i}/{src.name}"
        lines += [f"COPY {source} {dest}", f"RUN chmod -R a+rX {dest}"]
    content = {"base": base, "requirements": requirements, "wheels": wheel_digests, "files": file_digests}
    tag = f"prm-env:{_hash(content)}"
    if image_exists(client, tag):
        return tag
    lines += [f"LABEL prm.recipe={tag}", f"USER {AGENT_UID}"]
    (work / "Dockerfile").write_text("\n".join(lines) + "\n")
    log = build.log_path("docker-build")
    with open(log, "w") as fh:
        try:
            for chunk in client.api.build(
                path=str(work), tag=tag, network_mode="none", rm=True, forcerm=True, pull=False, decode=True
            ):
                text = chunk.get("stream") or chunk.get("status") or ""
                fh.write(text)
                if text.strip():
                    build.show("docker-build", text.strip())
                if "error" in chunk:
                    fh.write(chunk["error"] + "\n")
                    fh.flush()
                    raise _fail("docker-build", log, chunk["error"].strip())
        except (APIError, DockerException) as exc:
            raise _fail("docker-build", log, str(exc)) from exc
    return tag
