"""The training schema: what the model was fitted on, saved with it to check later batches.

One typed model (pydantic) read and written everywhere: models/schema.json, the MLflow
model's metadata, and every check of a batch against training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_template.core.columns import column_kind
from mlops_template.core.validation_report import SmallClasses
from mlops_template.errors import PipelineError

BOOLEAN_DTYPES = ("bool", "boolean")  # numpy's and pandas' nullable one


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Frozen):
    """A feature: its training dtype, whether it had gaps, and its range or categories
    (dates: ISO 8601 text; they reach the model as numbers, core/raw_rows.py)."""

    name: str
    dtype: str
    nullable: bool
    kind: Literal["numeric", "categorical", "date"]
    # Text with more levels than one-hot keeps (core/columns.py): read by its words
    # ("text") or by each level's effect ("many_levels"); its values are not kept here.
    encoding: Literal["text", "many_levels"] | None = None
    categories: list[str] | None = None
    min: float | str | None = None
    max: float | str | None = None

    @property
    def has_listed_values(self) -> bool:
        """A categorical column whose training values are kept: one a value never seen
        can be told for (free text and many levels meet new ones all the time)."""
        return self.kind == "categorical" and not self.encoding

    @property
    def is_boolean(self) -> bool:
        """A boolean in training: "true"/"TRUE" are read as the category "True"."""
        return self.dtype in BOOLEAN_DTYPES


class Target(_Frozen):
    name: str
    dtype: str
    classes: list[Any] | None = None  # classification only
    # Classes too small to learn that prepare dropped or merged (validate.small_classes):
    # labelled batches are read the same way before they are scored.
    small_classes: SmallClasses | None = None


class TrainingSchema(_Frozen):
    task: Literal["classification", "regression"]
    target: Target
    columns: list[Column]
    n_rows: int
    # Columns of the training data that name rows (validate's `identifiers`): not
    # features, and a batch that still holds them is not refused for it.
    identifiers: list[str] = []

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns]

    def names(self, kind: str) -> list[str]:
        """Column names of one kind, in column order."""
        return [c.name for c in self.columns if c.kind == kind]

    @property
    def booleans(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_boolean)

    @property
    def dates(self) -> tuple[str, ...]:
        return tuple(self.names("date"))

    def with_small_classes(self, handled: SmallClasses | None) -> TrainingSchema:
        """The schema of a model whose small classes were dropped or merged."""
        if handled is None:
            return self
        target = Target(**self.target.model_dump(exclude_unset=True), small_classes=handled)
        return TrainingSchema(**{**self.model_dump(exclude_unset=True), "target": target})

    def with_identifiers(self, names: list[str]) -> TrainingSchema:
        """The schema of a model trained without these row-naming columns."""
        if not names:
            return self
        return TrainingSchema(**{**self.model_dump(exclude_unset=True), "identifiers": names})

    def as_json(self) -> dict[str, Any]:
        """The schema as stored: only the keys it was made with, in a fixed order."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def of(cls, raw: dict[str, Any], source: str = "the model's schema") -> TrainingSchema:
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PipelineError(
                f"{source}: not a training schema ({where}: {first['msg']})"
            ) from None

    @classmethod
    def read(cls, path: str | Path) -> TrainingSchema:
        return cls.of(json.loads(Path(path).read_text(encoding="utf-8")), str(path))


def infer_schema(
    features: pd.DataFrame, target: pd.Series, task: str, encodings: Mapping[str, str] | None = None
) -> TrainingSchema:
    """Columns in order with dtype, kind, missing share, and range or categories; the
    encoding of a text column with more levels than one-hot keeps (`encodings`)."""
    encodings = encodings or {}
    columns = []
    for name in features.columns:
        col = features[name]
        entry: dict[str, Any] = {
            "name": str(name),
            "dtype": str(col.dtype),
            "nullable": bool(col.isna().any()),
        }
        entry["kind"] = kind = column_kind(col)  # as validate's report has it
        if kind == "date":  # numeric features inside the model (core/raw_rows.py)
            entry["min"], entry["max"] = (_date(col.min()), _date(col.max()))
        elif kind == "categorical" and name in encodings:
            # New values are expected and read: no list to check them against, which for
            # free text would hold nearly every row.
            entry["encoding"] = encodings[name]
        elif kind == "categorical":
            entry["categories"] = sorted(str(v) for v in col.dropna().unique())
        else:
            entry["min"] = _number(col.min())
            entry["max"] = _number(col.max())
        columns.append(Column(**entry))
    labels: dict[str, Any] = {"name": str(target.name), "dtype": str(target.dtype)}
    if task == "classification":
        labels["classes"] = sorted(target.dropna().unique().tolist(), key=str)
    return TrainingSchema(task=task, target=Target(**labels), columns=columns, n_rows=len(features))


def _date(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
