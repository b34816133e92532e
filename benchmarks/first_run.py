"""A fresh clone's first `make run`: the environment from uv.lock, then `dvc repro`.

Run in a temporary copy of the template with no environment of its own, with the
package caches as they are on this machine (warm once anything was installed here).
Prints the wall time of each part and the whole (target: under 60 s on two cores), and
checks the core install has no Spark, PostgreSQL or S3 package.

    python benchmarks/first_run.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from workspace import SERVER_GONE_SOON, copy_template, timed  # benchmarks/workspace.py

TARGET_S = 60.0
LEFT_OUT = ["pyspark", "psycopg", "flask_wtf", "boto3", "dvc_s3"]


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        copy_template(root)
        # As a new user's shell: no project environment on PATH, the local store.
        venv_bin = str(Path(sys.executable).parent)
        path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "MLFLOW_"))}
        env.update(PATH=path, **SERVER_GONE_SOON)
        env_s = timed(["make", "env"], root, env)
        repro_s = timed(["make", "run"], root, env)
        python = str(root / ".venv" / "bin" / "python")
        probe = f"import importlib.util as u; print([m for m in {LEFT_OUT!r} if u.find_spec(m)])"
        installed = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
    total = env_s + repro_s
    verdict = "OK" if total < TARGET_S else "SLOW"
    rows = [
        ("make env (venv, uv, core packages from uv.lock)", f"{env_s:.1f} s"),
        ("then dvc repro (first imports compile bytecode)", f"{repro_s:.1f} s"),
        ("first `make run` on a fresh clone", f"{total:.1f} s {verdict} (< {TARGET_S:.0f} s)"),
        ("extras the core installed (expected [])", installed),
    ]
    for label, value in rows:
        print(f"{label:<50} {value}")
    return 0 if total < TARGET_S and installed == "[]" else 1


if __name__ == "__main__":
    sys.exit(main())
