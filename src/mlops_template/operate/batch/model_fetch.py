"""The registered model a batch is scored with: resolved in the registry and downloaded by
a second process, while `predict` imports what scoring needs.

MLflow's import, its SQL store and the download take ~2.5 s of a `predict` call, and
scikit-learn, skops, pandas and pyarrow about as long; on two cores, in two processes,
they overlap (benchmarks/batch_scoring.py). The second process is this module run as a
script. It writes the version and the downloaded folder as JSON, and imports neither
scikit-learn nor skops: `predict` checks the folder (model_folder.check_model_folder, which
needs them, as scoring does) and reads the model file with skops, so it does not import
MLflow (with the pandas engine). The second process's errors are the CLI's own: same
message, same exit code.

A process that has imported MLflow already (ct, `predict` in the warm stage server, a
test calling the CLI's main()) has nothing to overlap: there a second process would only
import it again (2-3 s of CPU), so the fetch runs in this one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template.errors import AlreadyReported
from mlops_template.io.model_versions import ModelRef


@dataclass(frozen=True)
class FetchedModel:
    ref: ModelRef
    folder: str  # the model's files, checked: the MLmodel check_model_folder wrote, the model
    schema: dict[str, Any]  # the training schema the model carries
    model: Any  # the pipeline, loaded by the check


@contextmanager
def fetching(
    name: str,
    version: str | None,
    alias: str | None,
    purpose: str,
    *,
    in_process: bool | None = None,
) -> Iterator[Any]:
    """Start the fetch; yields a function that waits for it and returns a FetchedModel.
    The folder is removed afterwards, and the process stopped first if it still runs.

    The process's errors go to this one's stderr, in the CLI's words; this one then ends
    with the same exit code, saying nothing more (AlreadyReported). `in_process`: by
    default, where MLflow is imported already (then its errors are raised here)."""
    if in_process is None:
        in_process = "mlflow" in sys.modules
    folder = tempfile.mkdtemp(prefix=f"mlops-{purpose}-")
    try:
        if in_process:
            _fetch(name, version or "", alias or "", folder)
            found = _read(folder)
            yield lambda: found
            return
        args = [name, version or "", alias or "", folder]
        # -P: not the working directory first on sys.path, as for the `mlops` command.
        cmd = [sys.executable, "-P", "-m", __name__, *args]
        # A session of its own: Ctrl-C reaches this process only, which stops it.
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True) as process:

            def result() -> FetchedModel:
                code = process.wait()
                if code:  # a signal's -N as the shell gives it: 128 + N
                    raise AlreadyReported(code if code > 0 else 128 - code)
                return _read(folder)

            try:
                yield result
            finally:
                if process.poll() is None:
                    process.kill()
    finally:
        _removed(folder)


def _removed(folder: str) -> None:
    """The folder removed, though a stopped fetch's download threads (MLflow's, in this
    process) may write into it a moment longer: removing it under them failed, and the
    error (a traceback, exit 1) took the place of the stop."""
    for _ in range(50):  # 5 s at most
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            return
        time.sleep(0.1)


RESULT = "fetched.json"  # in the temporary folder, beside the model's folder


def _read(folder: str) -> FetchedModel:
    """The fetched model, its folder checked here: the check imports scikit-learn and
    skops, which scoring imports anyway, so the fetch process need not."""
    from mlops_template.io import model_versions
    from mlops_template.io.model_folder import check_model_folder

    found = json.loads((Path(folder) / RESULT).read_text())
    ref = ModelRef(**found["ref"])
    _, model = check_model_folder(found["folder"], ref.label, ref.recorded)
    schema = model_versions.model_schema(found["folder"])
    return FetchedModel(ref, found["folder"], schema, model)


def _fetch(name: str, version: str, alias: str, dest: str) -> int:
    import os

    from mlops_template.io import model_versions, registry

    ref = model_versions.resolve(registry.connect(), name, version or None, alias or None)
    try:
        os.mkdir(target := os.path.join(dest, "model"))
    except FileNotFoundError:
        if not os.path.isdir(dest):  # `predict` was stopped and removed it: nobody waits
            return 1
        raise
    # Checked by _read, in the process that loads it.
    folder = model_versions.download_unchecked(ref.uri, target, ref.label)
    Path(dest, RESULT).write_text(json.dumps({"ref": vars(ref), "folder": folder}))
    return 0


if __name__ == "__main__":
    import gc

    from mlops_template.error_report import run_reporting_errors

    name, version, alias, dest = sys.argv[1:]
    code = run_reporting_errors(lambda: _fetch(name, version, alias, dest))
    gc.freeze()  # a quick exit, as in cli.run: `predict` waits for it
    sys.exit(code)
