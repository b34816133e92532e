"""Write conda.yaml from uv.lock, with the other pins that follow it, or check that they
still match (`--check`).

uv.lock is the one pin list; conda.yaml (for `mlflow run --env-manager conda`) takes
the same runtime pins through pip, so the two environments cannot drift apart. The team
server's image (deploy/mlflow.Dockerfile: mlflow, psycopg, boto3, MLflow's base image)
and the Makefile's UV_VERSION (the uv that `make env` installs) take uv.lock's versions.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

HEADER = """\
# Generated from uv.lock by `make lock` (tools/conda_env.py); do not edit by hand.
# The environment for `mlflow run . --env-manager conda`: Python from conda,
# every package pinned exactly as in uv.lock, and this project installed editable
# (conda runs pip in the folder of this file, the project root).
name: mlops-template
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def render(root: Path) -> str:
    exported = subprocess.run(
        [
            "uv",
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = [line.strip() for line in exported.splitlines() if line.strip() and line[0] != "#"]
    pins.append("-e .")
    return HEADER + "".join(
        f"      - {pin!r}\n" if ";" in pin else f"      - {pin}\n" for pin in pins
    )


def pinned(root: Path) -> dict[Path, str]:
    """Each file that follows uv.lock, as it should read."""
    locked = {
        package["name"]: package["version"]
        for package in tomllib.loads((root / "uv.lock").read_text())["package"]
        if "version" in package  # a virtual or dynamic-version package has none
    }
    files = {root / "conda.yaml": render(root)}
    docker = root / "deploy" / "mlflow.Dockerfile"
    if docker.is_file():
        text = re.sub(r"(mlflow/mlflow:v)\S+", rf"\g<1>{locked['mlflow']}", docker.read_text())
        files[docker] = re.sub(  # a pin of a package the lock does not hold: as it is
            r'"([a-z0-9-]+)(\[[a-z]+\])?==[^"]+"',
            lambda pin: (
                f'"{pin[1]}{pin[2] or ""}=={locked[pin[1]]}"' if pin[1] in locked else pin[0]
            ),
            text,
        )
    makefile = root / "Makefile"
    if makefile.is_file() and "uv" in locked:
        files[makefile] = re.sub(
            r"^(UV_VERSION := )\S+", rf"\g<1>{locked['uv']}", makefile.read_text(), flags=re.M
        )
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    files = pinned(root)
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if args.check:
        if stale:
            names = ", ".join(str(p.relative_to(root)) for p in stale)
            print(f"{names} do not match uv.lock: run `make lock`", file=sys.stderr)
            return 1
        print("conda.yaml and the pins that follow uv.lock match it")
        return 0
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
