"""validate's report (its JSON output), typed: kept apart from the checks that make it, so
that prepare and train read it without importing them (pandas, scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_template.errors import PipelineError


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
    missing: dict[str, int]
    warnings: list[str]
    classes: dict[str, int] | None = None  # classification only
    minority_share: float | None = None

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
