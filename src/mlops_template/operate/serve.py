"""Serve a registry alias over REST: `mlflow models serve`, on loopback unless told."""

from __future__ import annotations

import subprocess
import sys

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry


def serve(cfg: Config, alias: str, host: str, port: int) -> int:
    name = cfg.registry.model_name
    # The server, the credentials and the alias are checked first, so that a problem
    # with them is a one-line error here rather than a traceback from `mlflow models`.
    if registry.alias_version(registry.connect(), name, alias) is None:
        raise PipelineError(f"model {name!r} has no alias {alias!r} in the registry")
    uri = f"models:/{name}@{alias}"
    cmd = ["mlflow", "models", "serve", "-m", uri, "--host", host, "--port", str(port)]
    cmd += ["--env-manager", "local"]
    print(" ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=False).returncode
