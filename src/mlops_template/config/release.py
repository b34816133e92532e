"""The release groups of the config: where runs are tracked, the registered model and
its card, and the gate a candidate must pass to become champion."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mlops_template.config.base import NOT_BOOL, PosInt, Seed, Strict
from mlops_template.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS


class Tracking(Strict):
    experiment: str = Field(min_length=1)
    # promote, rollback, monitor, ct and shadow-report record their runs here, apart
    # from the pipeline's training runs.
    operations_experiment: str = Field(min_length=1)
    uri: str | None = None  # MLFLOW_TRACKING_URI, where set, wins (io/store.py)


class Card(Strict):
    """What a registered version's model card says the model is for (core/model_card.py):
    the rest of the card comes from its lineage, data, gate and runs."""

    intended_use: str = ""
    owner: str = ""
    limitations: str = ""


class Registry(Strict):
    model_name: str = Field(min_length=1)
    keep_versions: PosInt
    card: Card = Card()

    @field_validator("model_name")
    @classmethod
    def _usable_name(cls, name: str) -> str:
        # MLflow refuses / and : in a name, and . or .. (promote failed after its dry run
        # passed); a quote would end the registry's searches' filter string early.
        if name in (".", ".."):
            raise ValueError(f"{name!r} is not a name MLflow registers a model under")
        if bad := sorted({c for c in name if c in "/:'\"`"}):
            raise ValueError(
                f"{name!r} holds {' '.join(bad)}, which a registered model's name cannot"
            )
        if name != name.strip():
            raise ValueError(f"{name!r} starts or ends with a space")
        return name


class Bound(Strict):
    min: Annotated[float, NOT_BOOL] | None = None
    max: Annotated[float, NOT_BOOL] | None = None


class TaskGate(Strict):
    metric: str
    # Fractions of the champion's lead over the trivial baseline on the compared rows.
    min_improvement: Annotated[float, NOT_BOOL, Field(ge=0)] = 0.0
    max_holdout_drop: Annotated[float, NOT_BOOL, Field(ge=0)] = 0.0
    thresholds: dict[str, Bound] = {}


class Bootstrap(Strict):
    samples: Annotated[int, NOT_BOOL, Field(ge=100)] = 1000
    confidence: Annotated[float, NOT_BOOL, Field(gt=0.5, lt=1)] = 0.95
    seed: Seed = 0


def _check_metric_names(gate: TaskGate, known: frozenset[str], task: str) -> None:
    unknown = sorted(({gate.metric} | set(gate.thresholds)) - known)
    if unknown:
        raise ValueError(f"unknown {task} metrics {unknown}; known: {sorted(known)}")


class ShadowGate(Strict):
    """Live evidence in promote's decision: the candidate scored in shadow beside the
    champion (serve.shadow=challenger) on logged requests whose labels have arrived."""

    use: bool = False
    # not_worse: refused when clearly worse than the champion there; better: it must be
    # better beyond noise there too.
    require: Literal["not_worse", "better"] = "not_worse"
    min_rows: Annotated[int, NOT_BOOL, Field(ge=2)] = 30


class Gate(Strict):
    classification: TaskGate
    regression: TaskGate
    bootstrap: Bootstrap = Bootstrap()
    shadow: ShadowGate = ShadowGate()

    @model_validator(mode="after")
    def _known_metrics(self) -> Gate:
        _check_metric_names(self.classification, CLASSIFICATION_METRICS, "classification")
        _check_metric_names(self.regression, REGRESSION_METRICS, "regression")
        return self
