"""What a scoring engine is given (pandas in predict.py, Spark in spark_predict.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlops_template.core.schema import TrainingSchema
from mlops_template.io.model_versions import ModelRef


@dataclass(frozen=True)
class ScoringJob:
    """What both engines need to score one checked batch into the table."""

    path: Path
    table: str
    ref: ModelRef
    schema: TrainingSchema  # the training schema
    model: Any  # the sklearn pipeline
    folder: str  # the model's files, downloaded once (Spark's workers load them from here)
    classes: list[Any] | None  # None for regression
    passthrough: list[str]
    out_schema: pa.Schema
    constants: dict[str, Any]  # model name, version, alias, batch hash, scored_at (us)

    @property
    def infinity(self) -> str:
        """How the model's contract reads infinity (its first step, core/raw_rows.py)."""
        return self.model[0].infinity

    @property
    def features(self) -> list[str]:
        return self.schema.features
