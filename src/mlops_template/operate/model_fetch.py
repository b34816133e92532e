"""The registered model a batch is scored with: resolved in the registry and downloaded by
a second process, while `predict` imports what scoring needs.

MLflow's import, its SQL store and the download take ~1.8 s of a `predict` call, and
scikit-learn, skops, pandas and pyarrow about as long; on two cores, in two processes,
they overlap (benchmarks/batch_scoring.py). The second process is this module run as a
script. It prints the version, the model's file and the training schema as JSON, and
`predict` reads the file with skops, so it never imports MLflow. Its errors are the
CLI's own (same message, same exit code), passed on as they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlops_template.errors import PipelineError


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    alias: str  # "" when a version was asked for directly

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def resolve_model(client: Any, name: str, version: str | None, alias: str | None) -> ModelRef:
    from mlops_template.io import registry

    if version:
        if not registry.has_version(client, name, version):
            raise PipelineError(f"{name} has no version {version}")
        return ModelRef(name, str(version), "")
    found = registry.alias_version(client, name, alias)
    if found is None:
        raise PipelineError(f"{name} has no version with alias '{alias}' (run `make promote`)")
    return ModelRef(name, found, alias)


@dataclass(frozen=True)
class FetchedModel:
    ref: ModelRef
    folder: str  # the model's files: MLmodel, the model, its code
    model_file: str  # the scikit-learn pipeline, in skops format, in that folder
    schema: dict[str, Any]  # the training schema the model carries


class FetchFailed(PipelineError):
    """The second process's error, already printed in the CLI's words: passed on as is."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def fetching(name: str, version: str | None, alias: str | None, purpose: str) -> Iterator[Any]:
    """Start the fetch; yields a function that waits for it and returns a FetchedModel.
    The folder is removed afterwards, and the process stopped if it still runs."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-{purpose}-") as folder:
        args = [name, version or "", alias or "", folder]
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def result() -> FetchedModel:
            out, err = process.communicate()
            if process.returncode:
                message = err.strip().removeprefix("error: ")
                raise FetchFailed(message or "the model fetch failed", process.returncode)
            found = json.loads(out.splitlines()[-1])  # printed last
            return FetchedModel(**{**found, "ref": ModelRef(**found["ref"])})

        try:
            yield result
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _fetch(name: str, version: str, alias: str, dest: str) -> int:
    import os

    import mlflow.artifacts
    from mlflow.models import Model

    from mlops_template.io import registry

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    ref = resolve_model(registry.connect(), name, version or None, alias or None)
    folder = mlflow.artifacts.download_artifacts(ref.uri, dst_path=dest)
    model = Model.load(folder)
    flavor = model.flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise PipelineError(f"{ref.label} is not a scikit-learn model saved with skops")
    found = {
        "ref": vars(ref),
        "folder": folder,
        "model_file": os.path.join(folder, flavor["pickled_model"]),
        "schema": model.metadata["schema"],
    }
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    import gc

    from mlops_template.error_report import run_reporting_errors

    name, version, alias, dest = sys.argv[1:]
    code = run_reporting_errors(lambda: _fetch(name, version, alias, dest))
    gc.freeze()  # a quick exit, as in cli.run: `predict` waits for it
    sys.exit(code)
