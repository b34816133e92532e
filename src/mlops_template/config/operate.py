"""The operate groups of the config: batch scoring (predict, its Spark engine), REST
serving, monitoring and continuous training."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mlops_template.config.base import NOT_BOOL, PosInt, Seed, Share, Spark, Strict

# The columns every predictions table has (io/predictions_table.py), besides one
# proba_<class> column per class of a classifier.
PREDICTIONS_COLUMNS = (
    "row_number",
    "prediction",
    "model_name",
    "model_version",
    "model_alias",
    "batch_hash",
    "scored_at",
)
# Columns of the inference log that an older table may not have yet: a REST row's request
# id, and the model's inputs (input_<feature>, core/logged_inputs.py).
LOG_COLUMNS = ("request_id", "shadow")


class Predict(Strict):
    table: str = Field(min_length=1)
    alias: str = Field(min_length=1)
    chunk_rows: Annotated[int, NOT_BOOL, Field(ge=100)]
    passthrough_columns: list[str] = []
    extra_columns: Literal["drop", "error"] = "drop"
    unseen_categories: Literal["allow", "error"] = "allow"
    engine: Literal["pandas", "spark"] = "pandas"
    spark: Spark

    @field_validator("passthrough_columns")
    @classmethod
    def _not_the_table_columns(cls, names: list[str]) -> list[str]:
        # Copied into the table beside its own columns: one of the same name would be
        # two columns of one name, which the table cannot hold.
        own = (*PREDICTIONS_COLUMNS, *LOG_COLUMNS)
        taken = [n for n in names if n in own or n.startswith(("proba_", "input_"))]
        if taken:
            raise ValueError(
                f"{', '.join(map(repr, taken))}: the predictions table has a column of that "
                f"name itself ({', '.join(own)}, proba_<class>, input_<feature>); leave it "
                "out, or rename that column of the batch"
            )
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"{', '.join(map(repr, repeated))} named more than once")
        return names


class InferenceLogSettings(Strict):
    enabled: bool = True
    table: str = Field(min_length=1)
    flush_requests: PosInt = 1000
    flush_seconds: Annotated[float, NOT_BOOL, Field(gt=0)] = 5.0
    max_waiting_requests: PosInt = 100_000


class Serve(Strict):
    workers: PosInt | None = None  # None: one per core
    threads: PosInt = 1
    timeout: PosInt = 60
    access_log: bool = False
    log: InferenceLogSettings
    shadow: str | None = Field(default=None, min_length=1)  # an alias scored beside, unanswered


class Monitor(Strict):
    large_sample_rows: PosInt
    p_value: Annotated[float, NOT_BOOL, Field(gt=0, lt=1)]
    wasserstein: Annotated[float, NOT_BOOL, Field(gt=0)]
    jensen_shannon: Share
    min_rows: PosInt
    drift_share: Share
    max_rows: Annotated[int, NOT_BOOL, Field(ge=100)]
    seed: Seed
    # A share of the champion's lead over the trivial baseline.
    max_metric_drop: Annotated[float, NOT_BOOL, Field(ge=0, le=1)]
    report_dir: str = Field(min_length=1)
    labels_table: str = Field(min_length=1)
    # A categorical column drifts when at least this share of its values were never seen.
    unseen_share: Share = 0.2
    # Any column drifts when its share of missing values moved by this much, beyond noise.
    missing_share: Share = 0.1
    window: str = "1D"  # a pandas Timedelta: 1D, 6h, 30min
    windows: PosInt = 7

    @field_validator("window")
    @classmethod
    def _a_length(cls, text: str) -> str:
        import pandas as pd

        try:
            length = pd.Timedelta(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a length of time (1D, 6h, 30min)") from None
        if length <= pd.Timedelta(0):
            raise ValueError(f"{text!r}: a window must be longer than nothing")
        return text


class CtTrigger(Strict):
    windows: PosInt = 3
    out_of_range: PosInt = 2

    @model_validator(mode="after")
    def _at_most_all(self) -> CtTrigger:
        if self.out_of_range > self.windows:
            raise ValueError(
                f"out_of_range ({self.out_of_range}) cannot be more than windows ({self.windows})"
            )
        return self


class ContinuousTraining(Strict):
    tries: Annotated[list[list[str]], Field(min_length=1)]
    report_dir: str = Field(min_length=1)
    trigger: CtTrigger = CtTrigger()
    learn_below_chance: bool = False
