"""check_params: check every value in params.yaml, including keys no other stage reads.

It depends on the whole of params.yaml, so `dvc exp run -S predict.chunk_rows=0` fails
here at once rather than when `predict` runs one day, and on conf/, so that `dvc repro`
after an edit to conf/ stops until params.yaml is composed again. Loading the config checks the
values (config.py); a `type: sklearn` model's class and params are checked against
scikit-learn itself. The stage records nothing, so it is not tracked.
"""

from __future__ import annotations

from pathlib import Path

from mlops_template.compose import refuse_stale
from mlops_template.config import PARAMS_FILE, Config, flatten
from mlops_template.core.estimators import check_estimators


def run(cfg: Config) -> None:
    refuse_stale(Path.cwd())  # DVC runs the stage at the project root
    check_estimators(cfg.model)
    values = flatten(cfg.model_dump(by_alias=True))
    print(f"{PARAMS_FILE}: all {len(values)} values are valid")
