"""validate's report (its JSON output), typed: kept apart from the checks that make it, so
that prepare and train read it without importing them (pandas, scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_template.core.shares import percent
from mlops_template.errors import PipelineError

ENCODING_NOTES = {
    "text": "column '{column}' is free text: the model reads its most frequent words (TF-IDF)",
    "many_levels": (
        "column '{column}' has more values than features.max_categories: the model reads "
        "each value's effect on the target (target encoding, cross-fitted on the training rows)"
    ),
}


class SmallClasses(BaseModel):
    """Classes with too few rows to learn and test on, and what prepare does with their
    rows (validate.small_classes): drop them, or relabel them `into`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Literal["drop", "merge"]
    classes: dict[str, int]  # rows per class, as the data had them
    into: str | int | None = None  # merge only

    def describe(self) -> str:
        listed = ", ".join(f"'{k}' ({_rows(n)})" for k, n in self.classes.items())
        what = "the small class" if len(self.classes) == 1 else "the small classes"
        if self.action == "drop":
            return f"{what} {listed}: dropped"
        return f"{what} {listed}: merged into '{self.into}'"


class ValidationReport(BaseModel):
    """What validate found (its JSON output): the target and the task settled for it,
    which prepare and train read, and what a person reads about the data."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    target: str
    task: Literal["classification", "regression"]
    task_reason: str
    n_rows: int
    n_rows_without_target: int
    features: list[str]
    categorical: list[str]
    dates: list[str] = []
    # Columns that name rows (core/columns.py) and are not features (validate.identifiers).
    identifiers: list[str] = []
    # Text columns with more levels than one-hot keeps: "text" or "many_levels".
    encodings: dict[str, str] = {}
    missing: dict[str, int]
    warnings: list[str]
    classes: dict[str, int] | None = None  # classification only, as the model learns them
    small_classes: SmallClasses | None = None
    minority_share: float | None = None

    def notes(self) -> list[str]:
        """How the model reads dates and the text columns one-hot cannot hold, and the rows
        prepare leaves out before the split, for people."""
        notes = [
            ENCODING_NOTES[encoding].format(column=c) for c, encoding in self.encodings.items()
        ]
        if self.dates:
            notes.append(
                f"date columns {', '.join(map(repr, self.dates))}: features as year, month, "
                "day, weekday and days since 1970 (read.dates=error refuses them); a batch "
                "from later dates drifts on them in monitor"
            )
        if self.n_rows_without_target:
            share = self.n_rows_without_target / self.n_rows
            notes.append(
                f"{self.n_rows_without_target:,} of {self.n_rows:,} rows "
                f"({percent(share)}) have no target '{self.target}': prepare drops them"
            )
        if self.small_classes is not None:
            notes.append(f"{self.small_classes.describe()} (validate.small_classes)")
        return notes

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    @classmethod
    def read(cls, path: str | Path) -> ValidationReport:
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise PipelineError(f"{path}: not found; run the validate stage first") from None
        except (ValueError, ValidationError) as err:
            raise PipelineError(
                f"{path}: not a validation report ({type(err).__name__}); run validate again"
            ) from None


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"
