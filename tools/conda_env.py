"""Write conda.yaml from uv.lock, or check that it still matches (`--check`).

uv.lock is the one pin list; conda.yaml (for `mlflow run --env-manager conda`) takes
the same runtime pins through pip, so the two environments cannot drift apart.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if conda.yaml is stale")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    target = root / "conda.yaml"
    text = render(root)
    if args.check:
        if not target.exists() or target.read_text() != text:
            print("conda.yaml does not match uv.lock: run `make lock`", file=sys.stderr)
            return 1
        print("conda.yaml matches uv.lock")
        return 0
    target.write_text(text)
    print(f"wrote {target.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
