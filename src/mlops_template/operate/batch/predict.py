"""predict: score a batch of any size with a registered model into the predictions table.

The model is found and downloaded by a second process (model_fetch.py) while this one
imports what scoring needs (operate/batch/batch_scoring.py): the two take about as long, and on
two cores they overlap. So this module imports nothing heavy before the fetch starts.
(Where MLflow is imported already, in the warm stage server or ct, the fetch runs here.)
"""

from __future__ import annotations

from pathlib import Path

from mlops_template import stop_signals
from mlops_template.config import Config
from mlops_template.errors import require_extra
from mlops_template.operate.batch.model_fetch import fetching


def predict(
    cfg: Config,
    batch: str,
    version: str | None,
    alias: str | None,
    table: str | None,
    *,
    engine: str | None = None,
) -> int:
    settings = cfg.predict
    engine = engine or settings.engine
    if engine == "spark":  # said before any work
        require_extra("pyspark", "spark", "the Spark engine")
    alias = alias or settings.alias
    with fetching(cfg.registry.model_name, version, alias, "predict") as fetched:
        with stop_signals.deferred():  # a stop during these imports can be lost
            import skops.io  # noqa: F401 - reads the model file: imported while the fetch runs

            from mlops_template.operate.batch.batch_scoring import score_batch

        return score_batch(
            settings,
            Path(batch),
            fetched,
            table=table or settings.table,
            engine=engine,
            id_column=cfg.data.id_column,
            dropped=cfg.data.drop_columns,
        )
